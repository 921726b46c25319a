"""A tqdm progress bar that a Ctrl-C or SIGTERM cannot cut off half-built.

tqdm's constructor takes a while (its first import more so). A signal that lands inside it
raises there and leaves an object without its attributes, whose ``__del__`` then prints
"Exception ignored in ... AttributeError: ... 'pos'" with a traceback while the program unwinds
to its safe state. :func:`progress_bar` holds the signal for the constructor
(:class:`hilt.transport.hold_sigint`) and raises it once the bar is whole.
"""

from __future__ import annotations

from typing import Any

from hilt.transport import hold_sigint


def progress_bar(*, notebook_aware: bool = True, **kwargs: Any) -> Any:
    """``tqdm(**kwargs)`` (from ``tqdm.auto`` with ``notebook_aware``, else the terminal's),
    built with Ctrl-C, SIGTERM and SIGHUP held until it exists."""
    with hold_sigint():
        if notebook_aware:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        return tqdm(**kwargs)


__all__ = ["progress_bar"]
