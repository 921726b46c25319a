"""The one error type of the run-file package.

A :class:`hilt.errors.HiltError`, so a script's ``except HiltError`` sees run-file problems too.
"""

from __future__ import annotations

import re

from hilt.errors import HiltError


class RunFileError(HiltError):
    """A run file is missing, damaged, foreign, of an unknown layout, or was misused."""


def short_reason(exc: BaseException) -> str:
    """HDF5's reason, on one line, without h5py's "Unable to synchronously open ..." wrapper."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    lines = text.strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    m = re.match(r"^Unable to [^(]*\((.*)\)$", text)
    return m.group(1) if m else text
