"""Stanford Research Systems SR830 DSP lock-in amplifier.

Bytes from the *Model SR830 DSP Lock-In Amplifier* user manual, chapter 5 "Remote Programming":

* "Introduction" / "Command syntax" (p. 5-1, 5-2): commands end with LF or CR; several commands
  may share a line separated by ``;``; values are returned as ASCII text terminated by a carriage
  return on RS-232 and by a line feed on GPIB. ``OUTX 0`` sends replies to RS-232, ``OUTX 1``
  to GPIB: it must be the first thing a program sends (the unit answers on the interface OUTX
  names, whichever interface the query came in on).
* "Reference and phase commands": ``PHAS`` (-360 .. 729.99 deg, wrapped to +-180), ``FREQ``
  (0.001 Hz .. 102 kHz), ``SLVL`` (sine-out amplitude 0.004 .. 5.000 V, 2 mV steps).
* "Gain and time constant commands": ``SENS i`` (i = 0 .. 26: 2 nV .. 1 V in 1-2-5 steps),
  ``OFLT i`` (i = 0 .. 19: 10 us .. 30 ks in 1-3 steps), ``OFSL i`` (6/12/18/24 dB/oct).
* "Auto functions": ``AGAN`` (auto gain), ``ARSV`` (auto reserve), ``APHS`` (auto phase).
* "Data transfer commands": ``OUTP? i`` (1 X, 2 Y, 3 R, 4 theta), ``SNAP? i,j{,k,l,m,n}``
  (1 X, 2 Y, 3 R, 4 theta, 5-8 Aux In 1-4, 9 reference frequency, 10/11 CH1/CH2 display),
  values comma-separated in the order asked.
* "Status reporting commands" and the status byte tables (p. 5-22, 5-23): ``*CLS``, ``*ESR?``
  (standard event status: 0 INP input queue overflow, 2 QRY output queue overflow, 4 EXE
  execution error, 5 CMD illegal command, 6 URQ, 7 PON), ``*STB?``, ``ERRS?`` (error status:
  1 backup, 2 RAM, 4 ROM, 5 GPIB, 6 DSP, 7 math), ``LIAS?`` (LIA status: 0 INPUT/RESRV overload,
  1 FILTR overload, 2 OUTPT overload, 3 UNLK, 4 RANGE, 5 TC, 6 TRIG). Bits stay set until read
  or cleared by ``*CLS``.

There is no SCPI error queue: after every set this driver reads ``*ESR?`` (which also clears it)
and turns the CMD/EXE/queue bits into :class:`~hilt.errors.InstrumentError` with ``code`` = the
bit number and ``meaning`` from the manual's table. Hardware errors are read on demand with
:meth:`SR830.hardware_errors` (``ERRS?``).

Sensitivity and time constant are set as values (volts, seconds) that must be in the manual's
table (relative tolerance 1e-6); anything else is refused with a LimitError before any byte is
sent. :meth:`SR830.sensitivity_for` gives the smallest range that holds a signal, for callers
who want nearest-above.

Checked with the search tool (pages/docs/code corpora): the manual's chapter 5 pages were not
retrievable, so these two facts stay **Unverified** against the manual: the ``*IDN?`` reply
format (implemented as ``Stanford_Research_Systems,SR830,s/n<serial>,ver<version>``; a record of
a real unit in another project reads ``Stanford_Research_Systems,SR830,s/n81768,ver1.07``, which
fits, and the driver only relies on the comma-separated model field) and the RS-232 reply
terminator CR (GPIB LF). The index tables (SENS 0 = 2 nV .. 26 = 1 V, OFLT 0 = 10 us ..
19 = 30 ks) agree with the SR850 manual's identical "Gain and Time Constant Commands" page and
with independent SR830 drivers.

RS-232 defaults 9600 8N1 (set on the front panel). With a GPIB (or GPIB-over-LAN) address the
driver sends ``OUTX 1`` and expects LF-terminated replies.

The sine output usually drives the chopper or modulator of a THz bench: the safe state sets it to
its minimum (0.004 V).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from hilt.drivers.replies import index, number
from hilt.errors import InstrumentError, LimitError, ProtocolError
from hilt.instrument import Instrument
from hilt.parameters import Parameter
from hilt.transport import transport_kind
from hilt.validators import Enum, Numbers, Validator

SENSITIVITIES: tuple[float, ...] = tuple(
    float(f"{m * 10.0**e:.12g}") for e in range(-9, 0) for m in (2, 5, 10))
TIME_CONSTANTS: tuple[float, ...] = tuple(
    float(f"{m * 10.0**e:.12g}") for e in range(-5, 5) for m in (1, 3))
FILTER_SLOPES: tuple[int, ...] = (6, 12, 18, 24)

#: Standard event status byte (*ESR?) bits that mean a command did not take.
ESR_ERRORS: dict[int, str] = {
    0: "INP: input queue overflow",
    2: "QRY: output queue overflow",
    4: "EXE: execution error (parameter out of range or not allowed now)",
    5: "CMD: illegal command received",
}
#: Error status byte (ERRS?).
ERRS_BITS: dict[int, str] = {
    1: "Backup error: battery backup failed",
    2: "RAM error: RAM memory test failed",
    4: "ROM error: ROM memory test failed",
    5: "GPIB error: GPIB fast data transfer aborted",
    6: "DSP error: DSP test failed",
    7: "Math error: internal math error",
}
#: LIA status byte (LIAS?).
LIAS_BITS: dict[int, str] = {
    0: "input", 1: "filter", 2: "output", 3: "unlock", 4: "range", 5: "time_constant", 6: "trigger",
}
OVERLOAD_BITS: tuple[int, ...] = (0, 1, 2)


def _round_sig(value: float) -> float:
    return float(f"{value:.12g}")


class TableValue(Validator):
    """A value that must be one entry of a table (relative tolerance ``rtol``); returns the entry."""

    def __init__(self, table: Sequence[float], unit: str = "", rtol: float = 1e-6) -> None:
        self.table = tuple(_round_sig(v) for v in table)
        self.unit = unit
        self.rtol = rtol

    def index(self, value: Any) -> int:
        v = Numbers().validate(value)
        for i, entry in enumerate(self.table):
            if math.isclose(v, entry, rel_tol=self.rtol):
                return i
        raise LimitError(f"{v:g} {self.unit} is not one of the instrument's settings "
                         f"({self.table[0]:g} .. {self.table[-1]:g} {self.unit} in 1-2-5 / 1-3 steps)".replace("  ", " "),
                         value=v)

    def validate(self, value: Any) -> float:
        return self.table[self.index(value)]

    def nearest_above(self, value: float) -> float:
        """The smallest entry >= ``value`` (the largest entry if none is)."""
        for entry in self.table:
            if entry >= value * (1 - self.rtol):
                return entry
        return self.table[-1]

    @property
    def range(self) -> tuple[float, float]:
        return (min(self.table), max(self.table))

    def __repr__(self) -> str:
        return f"TableValue({len(self.table)} entries, {self.table[0]:g}..{self.table[-1]:g} {self.unit})"


def _float_list(reply: str, n: int) -> list[float]:
    """Exactly ``n`` comma-separated numbers (an empty field is a garbled reply, not skipped)."""
    parts = reply.strip().split(",")
    if len(parts) != n:
        raise ValueError(f"expected {n} values")
    return [number(p) for p in parts]


class SrsLockIn(Instrument):
    """What the SRS DSP lock-ins share: status registers instead of an error queue, index-coded
    sensitivity and time constant, OUTP?/SNAP? reads. Subclasses give tables and codes."""

    check_errors_after_set = True
    # *IDN? and *OPC? are in the SR830 and SR860 manuals' common-command lists.
    fence: ClassVar[tuple[tuple[str, str], ...] | None] = (("*IDN?", r"[^,]+,[^,]+.*"), ("*OPC?", r"\+?1"))
    sensitivity_table: ClassVar[TableValue]
    time_constant_table: ClassVar[TableValue]
    #: SNAP?/OUTP? codes by name.
    output_codes: ClassVar[dict[str, int]] = {}
    esr_errors: ClassVar[dict[int, str]] = ESR_ERRORS
    errs_bits: ClassVar[dict[int, str]] = ERRS_BITS
    lias_bits: ClassVar[dict[int, str]] = LIAS_BITS
    overload_bits: ClassVar[tuple[int, ...]] = OVERLOAD_BITS
    snap_max: ClassVar[int] = 6
    minimum_amplitude: ClassVar[float] = 0.004

    # Readouts: get-only parameters (``li.r.get()``; ``li.r()`` reads too). Readings, not
    # settings: left out of snapshots, like every measured value.
    x = Parameter("OUTP? {outp_x}", unit="V", snapshot=False,
                  doc="in-phase output X, V rms; read now, settling is the caller's job")
    y = Parameter("OUTP? {outp_y}", unit="V", snapshot=False, doc="quadrature output Y, V rms")
    r = Parameter("OUTP? {outp_r}", unit="V", snapshot=False, doc="magnitude R, V rms")
    theta = Parameter("OUTP? {outp_theta}", unit="deg", snapshot=False, doc="phase theta")
    overloaded = Parameter(lambda o: o._overloaded(), snapshot=False,
                           doc="True if an input, filter or output overload happened since the last status "
                               "read (LIAS?; reading clears the latched bits)")
    status = Parameter(lambda o: o._status_names(), snapshot=False,
                       doc="names of the LIA status bits set since the last read (LIAS?; reading clears them)")

    # -- errors ------------------------------------------------------------------------------
    def _status(self, command: str) -> int:
        """A status byte: an integer 0..255 (anything else is a garbled reply)."""
        reply = self.transport.query(command)
        try:
            return index(reply, 256)
        except ValueError:
            raise ProtocolError("not a status byte", instrument=self.name, command=command, reply=reply) from None

    def check_errors(self, command: str | None = None) -> None:
        """Read (and so clear) ``*ESR?``; raise the lowest error bit set with its meaning."""
        with self.transaction():
            esr = self._status("*ESR?")
        for bit, meaning in self.esr_errors.items():
            if esr & (1 << bit):
                raise InstrumentError(bit, meaning, instrument=self.name, command=command)

    def hardware_errors(self) -> None:
        """Read ``ERRS?``; raise InstrumentError for the first error bit set."""
        with self.transaction():
            errs = self._status("ERRS?")
        for bit, meaning in self.errs_bits.items():
            if errs & (1 << bit):
                raise InstrumentError(bit, meaning, instrument=self.name, command="ERRS?")

    def _lia_status(self) -> int:
        with self.transaction():
            return self._status("LIAS?")

    def _status_names(self) -> set[str]:
        lias = self._lia_status()  # one read: it clears the bits
        return {name for bit, name in self.lias_bits.items() if lias & (1 << bit)}

    def _overloaded(self) -> bool:
        lias = self._lia_status()
        return any(lias & (1 << b) for b in self.overload_bits)

    # -- reads -------------------------------------------------------------------------------
    def format_context(self) -> dict[str, Any]:
        # The OUTP? code of each output (they differ between models), for the readouts' commands.
        return {f"outp_{name}": code for name, code in self.output_codes.items()}

    def snap(self, *which: str) -> tuple[float, ...]:
        """Several outputs sampled at one instant, e.g. ``snap("x", "y")`` (default X, Y).

        A method, not a parameter: which outputs are sampled together is the caller's choice
        (``SNAP?`` takes 2 to :attr:`snap_max` codes), and the values have different units.
        """
        names = [w.lower() for w in (which or ("x", "y"))]
        unknown = [n for n in names if n not in self.output_codes]
        if unknown:
            raise LimitError(f"unknown outputs {unknown} (known: {', '.join(self.output_codes)})",
                             instrument=self.name)
        if not 2 <= len(names) <= self.snap_max:
            raise LimitError(f"SNAP? takes 2 to {self.snap_max} values, got {len(names)}", instrument=self.name)
        command = "SNAP? " + ",".join(str(self.output_codes[n]) for n in names)
        reply = self.query(command)
        try:
            return tuple(_float_list(reply, len(names)))
        except ValueError:
            raise ProtocolError("not a SNAP? reply", instrument=self.name, command=command, reply=reply) from None

    # -- auto functions ------------------------------------------------------------------------
    def auto_phase(self) -> None:
        self.write("APHS", check_errors=True)
        self.phase.cache = None

    # -- tables ----------------------------------------------------------------------------------
    @classmethod
    def sensitivity_for(cls, volts: float) -> float:
        """The smallest sensitivity (full scale, V) that holds ``volts``."""
        return cls.sensitivity_table.nearest_above(abs(volts))

    def _set_index(self, table: TableValue, mnemonic: str, value: float) -> None:
        self.write(f"{mnemonic} {table.index(value)}", check_errors=True)

    def safe_state(self) -> None:
        self.amplitude.set(self.minimum_amplitude)


def _table_parser(table: TableValue):  # type: ignore[no-untyped-def]
    """An index reply to the table's value; ValueError for a non-integer or an index outside the
    table (``-1`` must not read as the last entry)."""
    return lambda reply: table.table[index(reply, len(table.table))]


def _filter_slope(reply: str) -> int:
    return FILTER_SLOPES[index(reply, len(FILTER_SLOPES))]


_SENS = TableValue(SENSITIVITIES, "V")
_TC = TableValue(TIME_CONSTANTS, "s")


class SR830(SrsLockIn):
    """SR830 over RS-232 (default) or GPIB; reference, gain, filter, reads, auto functions."""

    model = "srs_sr830"
    kinds: ClassVar[tuple[str, ...]] = ("lock_in",)
    simulator = "srs_sr830"
    transport_settings: ClassVar[dict[str, Any]] = {
        "baudrate": 9600, "write_termination": "\n", "read_termination": "\r", "timeout": 2.0,
    }
    sensitivity_table = _SENS
    time_constant_table = _TC
    output_codes: ClassVar[dict[str, int]] = {
        "x": 1, "y": 2, "r": 3, "theta": 4, "aux1": 5, "aux2": 6, "aux3": 7, "aux4": 8,
        "frequency": 9, "ch1": 10, "ch2": 11,
    }

    frequency = Parameter("FREQ?", "FREQ {value:.6g}", unit="Hz", get_parser=number, vals=Numbers(0.001, 102e3),
                          doc="internal reference frequency")
    amplitude = Parameter("SLVL?", "SLVL {value:.3f}", unit="V", get_parser=number, vals=Numbers(0.004, 5.0),
                          doc="sine output amplitude (V rms; drives the chopper/modulator)")
    phase = Parameter("PHAS?", "PHAS {value:.2f}", unit="deg", get_parser=number, vals=Numbers(-360.0, 729.99),
                      doc="reference phase shift")
    sensitivity = Parameter("SENS?", lambda inst, v: inst._set_index(_SENS, "SENS", v), unit="V",
                            vals=_SENS, get_parser=_table_parser(_SENS),
                            doc="full-scale sensitivity; only the table's values (2 nV .. 1 V)")
    time_constant = Parameter("OFLT?", lambda inst, v: inst._set_index(_TC, "OFLT", v), unit="s",
                              vals=_TC, get_parser=_table_parser(_TC),
                              doc="output filter time constant; only the table's values (10 us .. 30 ks)")
    filter_slope = Parameter("OFSL?", "OFSL {value}", unit="dB/oct",
                             get_parser=_filter_slope,
                             set_map={6: "0", 12: "1", 18: "2", 24: "3"},
                             vals=Enum(*FILTER_SLOPES),
                             doc="output filter slope")

    def __init__(self, address: str, **kwargs: Any) -> None:
        # RS-232 (a device path, socket:// URL, ASRL resource) answers with CR; GPIB with LF.
        self.rs232 = transport_kind(address) == "serial" or address.upper().startswith("ASRL")
        if not self.rs232:
            kwargs.setdefault("read_termination", "\n")
        super().__init__(address, **kwargs)

    def on_connect(self) -> None:
        # Replies go to the interface OUTX names: say which one before the first query.
        self.write(f"OUTX {0 if self.rs232 else 1}")
        self.write("*CLS")

    def auto_gain(self) -> None:
        """``AGAN``: the instrument picks the sensitivity (takes a few time constants)."""
        self.write("AGAN", check_errors=True)
        self.sensitivity.cache = None

    def auto_reserve(self) -> None:
        self.write("ARSV", check_errors=True)
