"""The words a run ends with, defined once: the run file's ``/run/status``, ``hilt runs list``,
the command line's summaries and the app's Runs tab all use these, and :func:`ending` is the one
rule that turns what stopped a run into its status and reason.
"""

from __future__ import annotations

import re
import signal

from hilt.errors import InstrumentCommunicationError, LimitError, SafeStateError

RUNNING = "running"
COMPLETED = "completed"
ABORTED = "aborted"
FAILED = "failed"
CRASHED = "crashed"

#: Every status a run can have, with what it means (docs/run-file.md says the same).
MEANINGS: dict[str, str] = {
    RUNNING: "a writer has the file open and is writing it",
    COMPLETED: "it ran to its end",
    ABORTED: "stopped before its end: by the operator (Ctrl-C, the Abort button), a signal, or a "
             "hardware fault or limit the loop gave up on; it can be resumed",
    FAILED: "stopped by an error that is not a hardware fault (a bug); it can be resumed",
    CRASHED: "the file says running but no writer holds it: the writer was killed or the "
             "machine stopped",
}

STATUSES = tuple(MEANINGS)
#: What a writer may close a run as.
CLOSE_STATUSES = (COMPLETED, ABORTED, FAILED)


def signal_name(exc: BaseException) -> str:
    """The signal behind an interrupt: ``SIGINT`` for Ctrl-C, or the one a
    :class:`hilt.errors.Terminated` names (``SIGTERM``, ``SIGHUP``)."""
    for attr in ("signal_name", "signame", "signal", "signum"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            try:
                return signal.Signals(value).name
            except ValueError:
                pass
        elif isinstance(value, str) and value:
            return value
        elif value is not None and hasattr(value, "name"):
            return str(value.name)
    m = re.search(r"\bSIG[A-Z]+\b", str(exc))
    if m:
        return m.group(0)
    return "SIGINT" if type(exc) is KeyboardInterrupt else "SIGTERM"


def interrupt_reason(exc: BaseException) -> str:
    """``interrupted (SIGINT)``, or the signal a :class:`hilt.errors.Terminated` names."""
    return f"interrupted ({signal_name(exc)})"


def describe(exc: BaseException) -> str:
    """One line for a reason: the error's type, then the first line of its text."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def ending(exc: BaseException) -> tuple[str, str]:
    """The status and one-line reason a run gets when ``exc`` stops it.

    ``aborted``: Ctrl-C or a signal (:class:`KeyboardInterrupt`, :class:`hilt.errors.Terminated`),
    an operator's stop (an exception whose class sets ``run_status = "aborted"``, such as the
    loops' ``LoopAborted`` and ``CalibrationAborted``, or whose class name ends in ``Aborted``),
    a hardware fault (:class:`~hilt.errors.InstrumentCommunicationError`), a limit
    (:class:`~hilt.errors.LimitError`) or a safe state that failed. ``failed``: anything else.
    """
    if isinstance(exc, KeyboardInterrupt):
        return ABORTED, interrupt_reason(exc)
    declared = getattr(type(exc), "run_status", None)
    if declared in CLOSE_STATUSES:
        return declared, describe(exc)
    if type(exc).__name__.endswith("Aborted"):
        return ABORTED, describe(exc)
    if isinstance(exc, (InstrumentCommunicationError, LimitError, SafeStateError)):
        return ABORTED, describe(exc)
    return FAILED, describe(exc)
