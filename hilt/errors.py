"""The error types every layer of hilt raises.

One base class, :class:`HiltError`, so a script can catch everything hilt raises, and a small
tree below it so a loop can tell a refused setpoint (nothing was sent) from a broken link
(something may have been half sent) from the instrument saying no.
"""

from __future__ import annotations


class HiltError(Exception):
    """Base of every error hilt raises on purpose."""


class ConfigError(HiltError):
    """A station file, calibration file or setting is wrong; the message names the field."""


class InstrumentCommunicationError(HiltError):
    """Something went wrong between the computer and an instrument."""

    def __init__(self, message: str, *, instrument: str = "", command: str | bytes | None = None):
        self.instrument = instrument
        self.command = command
        prefix = f"{instrument}: " if instrument else ""
        super().__init__(prefix + message)


class LimitError(HiltError, ValueError):
    """A setpoint outside the hardware range or the soft limits; refused before any byte is sent."""

    def __init__(self, message: str, *, instrument: str = "", parameter: str = "", value: object = None):
        self.instrument = instrument
        self.parameter = parameter
        self.value = value
        where = ".".join(p for p in (instrument, parameter) if p)
        super().__init__(f"{where}: {message}" if where else message)


class UnitError(HiltError, ValueError):
    """A value given as text that cannot be read as a number in the parameter's unit
    (``"15 foo"``, ``"2 V"`` for a frequency, ``"15 mhz"`` which could be milli or mega);
    refused before any byte is sent. Not a :class:`LimitError`: the value was never read, so
    nothing can be said about its range. ``text`` is what was given, ``unit`` the parameter's
    unit, ``expected`` what would have been read."""

    def __init__(self, message: str, *, instrument: str = "", parameter: str = "", text: str = "",
                 unit: str = "", expected: str = ""):
        self.instrument = instrument
        self.parameter = parameter
        self.text = text
        self.unit = unit
        self.expected = expected
        where = ".".join(p for p in (instrument, parameter) if p)
        super().__init__(f"{where}: {message}" if where else message)


class ConnectError(InstrumentCommunicationError):
    """The instrument could not be reached, or the link dropped."""


class InstrumentTimeout(InstrumentCommunicationError, TimeoutError):
    """No complete reply arrived within the instrument's timeout."""


class ProtocolError(InstrumentCommunicationError):
    """A reply arrived but is not what the protocol allows (garbled, wrong shape, unparsable)."""

    def __init__(self, message: str, *, instrument: str = "", command: str | bytes | None = None,
                 reply: str | bytes | None = None):
        self.reply = reply
        if reply is not None:
            message = f"{message} (reply {reply!r})"
        super().__init__(message, instrument=instrument, command=command)


class InstrumentError(InstrumentCommunicationError):
    """The instrument itself reported an error: its code and what the manual says it means."""

    def __init__(self, code: int | str, meaning: str, *, instrument: str = "",
                 command: str | bytes | None = None):
        self.code = code
        self.meaning = meaning
        cmd = f" after {command!r}" if command is not None else ""
        super().__init__(f"error {code}: {meaning}{cmd}", instrument=instrument, command=command)


class SafeStateError(HiltError):
    """One or more instruments could not be put in their safe state (outputs may still be on).

    ``failures`` maps each instrument's name to its error; every other instrument was still tried.
    """

    def __init__(self, failures: dict[str, BaseException]) -> None:
        self.failures = dict(failures)
        lines = "; ".join(f"{name}: {exc}" for name, exc in self.failures.items())
        super().__init__(f"safe state failed on {len(self.failures)} instrument(s), outputs may be on: {lines}")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind like a Ctrl-C, so every ``with`` block puts its
    instruments in their safe state on the way out (see :func:`hilt.transport.exit_signals`)."""

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        try:
            self.signame = signal.Signals(signum).name
        except ValueError:
            self.signame = f"signal {signum}"
        super().__init__(f"terminated by {self.signame}")


class SimulatorError(HiltError):
    """A simulator could not start or was misused."""
