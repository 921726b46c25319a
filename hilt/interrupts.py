"""A Ctrl-C that Python dropped is raised again at the next safe point of a long loop.

Python raises KeyboardInterrupt from its SIGINT handler wherever the main thread happens to be.
When that is inside a ``__del__`` method or a weakref callback (the garbage collector runs them
at arbitrary moments, e.g. a ``WeakValueDictionary`` removing an entry), the exception cannot
propagate: Python prints "Exception ignored in ..." and carries on, and the user's Ctrl-C is
lost. A sweep of 200 000 points would then run to its end with the heaters on.

While :class:`catch_lost_interrupts` is active, the SIGINT handler also remembers that it
fired, and :func:`interrupt_point` (called by the sweep at every point, by the training loops
at every step and by the calibration routines at every measurement) raises the interrupt again
if it was swallowed. An interrupt that propagated normally is never raised twice: the context
forgets it when the block ends.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

_MAIN = threading.main_thread()
_seen = False
_depth = 0
_previous: Any = None


def remembering_sigint(signum: int, frame: Any) -> None:
    """Python's own Ctrl-C (raise KeyboardInterrupt), remembered for :func:`interrupt_point`."""
    global _seen
    _seen = True
    raise KeyboardInterrupt


def note_interrupt() -> None:
    """Remember a Ctrl-C that someone else caught and will raise (the transaction's hold)."""
    global _seen
    if _depth > 0:
        _seen = True


def interrupt_point() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C arrived and was swallowed since the block began."""
    global _seen
    if _seen:
        _seen = False
        raise KeyboardInterrupt


class catch_lost_interrupts:  # noqa: N801 - used like a function: ``with catch_lost_interrupts():``
    """Install :func:`remembering_sigint` for the block (main thread only, and only where SIGINT
    still has Python's default handler: a GUI's or a user's own handler is left alone)."""

    __slots__ = ("_active",)

    def __enter__(self) -> catch_lost_interrupts:
        global _depth, _previous, _seen
        self._active = threading.current_thread() is _MAIN and (
            _depth > 0 or signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        if not self._active:
            return self
        if _depth == 0:
            _seen = False
            _previous = signal.signal(signal.SIGINT, remembering_sigint)
        _depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        global _depth, _previous, _seen
        if not self._active:
            return
        _depth -= 1
        if _depth == 0:
            signal.signal(signal.SIGINT, _previous)
            _previous = None
            _seen = False
