"""Simulated Gentec-EO MAESTRO with a pyroelectric THz head, on a serial line (115200 baud).

Text mode as in the manual (see :mod:`hilt.drivers.gentec_maestro`): each command is ``*`` + a
three-letter mnemonic + fixed-width parameters, with or without a CR/LF after it (the parser
knows each command's width, as the instrument does); replies end with CR LF; setting commands
are silent. Unknown commands answer ``Invalid Command``, out-of-range parameters ``Invalid
Parameter`` (reply text unverified); an injected fault answers ``Invalid Command`` and skips the
command.

Physics (option ``system="thz"``): the head reads the average power of the (unchopped) THz beam
through its aperture (``aperture_mm``) at the stage position, plus a hidden offset (the world's
error preset) and fresh noise; ``*SOU`` subtracts the present reading; with autoscale off the
reading saturates at the range's full scale. The wavelength correction is stored only: the
head's response is taken as flat across the THz band.

Ranges: the head's valid range indices are the option ``head_ranges`` (6..28 by default: 1 nW to
10 W full scale for a pyroelectric THz head); ``*SCS`` outside them answers ``Invalid
Parameter``, ``*SSU``/``*SSD`` step one range up or down (stopping at the ends) and switch
autoscale off, ``*DVS`` lists the valid ranges one per line (``[22] : 100.0 m``).
"""

from __future__ import annotations

from typing import Any

from hilt.sims.base import DropConnection, Session, SimulatedInstrument

#: Parameter width of each command (characters after the mnemonic).
WIDTHS = {"PWC": 5, "SCS": 2, "SAS": 1, "STL": 4, "OFF": 8, "MUL": 8, "DBU": 1, "ANO": 1}
QUERIES = ("CVU", "VER", "GWL", "GCR", "GAS", "GZO", "NVU", "DVS", "SSU", "SSD")


def range_full_scale(index: int) -> float:
    """Full scale (W) of range ``index``: 1-3 steps with index 24 = 1 W (as the manual's
    ``*DVS`` example: 22 = 100 mW, 23 = 300 mW, 24 = 1 W, 25 = 3 W)."""
    decade, odd = divmod(index - 24, 2)
    return (3.0 if odd else 1.0) * 10.0**decade


def _si(watts: float) -> str:
    """A full scale as ``*DVS`` lists it: ``100.0 m`` (the manual's example line
    ``[22] : 100.0 m``); the other prefixes follow it (unverified)."""
    for factor, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")):
        if watts >= factor * (1 - 1e-9):
            return f"{watts / factor:.1f} {prefix}".rstrip()
    return f"{watts / 1e-12:.1f} p"


class MaestroSession(Session):
    """Splits the byte stream into ``*XXX<params>`` commands by the instrument's widths."""

    def __init__(self, sim: SimulatedInstrument) -> None:
        super().__init__(sim)
        self._buffer = ""

    def feed(self, data: bytes) -> bytes:
        self._buffer += data.decode("ascii", errors="replace")
        out = []
        while True:
            command = self._next()
            if command is None:
                break
            out.append(self._answer(command))
        return "".join(out).encode("ascii")

    def _next(self) -> str | None:
        buf = self._buffer.lstrip("\r\n \t")
        self._buffer = buf
        if not buf:
            return None
        if not buf.startswith("*"):
            # Garbage before a command: up to the next '*' or line end is one bad command.
            cut = min([i for i in (buf.find("*"), buf.find("\r"), buf.find("\n")) if i > 0], default=-1)
            if cut < 0:
                return None
            self._buffer = buf[cut:]
            return buf[:cut]
        if len(buf) < 4:
            return None
        mnemonic = buf[1:4].upper()
        width = WIDTHS.get(mnemonic, 0)
        end = 4 + width
        line_end = min([i for i in (buf.find("\r", 4), buf.find("\n", 4), buf.find("*", 4)) if i >= 0], default=-1)
        if len(buf) < end and line_end < 0:
            return None  # parameters still arriving
        if 0 <= line_end < end:
            end = line_end
        self._buffer = buf[end:]
        return buf[:end]

    def _answer(self, command: str) -> str:
        sim = self.sim
        if sim.faults.take_drop():
            raise DropConnection
        with sim.lock:
            reply = sim.inject_error(command, self) if sim.faults.take_error() else sim.handle(command, self)
        return "" if reply is None else reply + sim.reply_terminator


class SimMaestro(SimulatedInstrument):
    model = "gentec_maestro"
    description = "Gentec-EO MAESTRO power meter with a THz pyroelectric head (serial text mode)"
    transport = "serial"
    reply_terminator = "\r\n"
    session_class = MaestroSession

    def __init__(self, world: Any = None, *, system: str | None = None, aperture_mm: float = 12.0,
                 noise_w: float = 2e-7, head_wavelength_nm: tuple[int, int] = (190, 99999),
                 version: str = "MAESTRO Version 1.00.12", head_ranges: tuple[int, int] = (6, 28),
                 **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        self.system_name = system
        self.aperture_mm = float(aperture_mm)
        self.noise_w = float(noise_w)
        self.head_wavelength_nm = (int(head_wavelength_nm[0]), int(head_wavelength_nm[1]))
        self.version = version
        self.head_ranges = (int(head_ranges[0]), int(head_ranges[1]))
        if not 0 <= self.head_ranges[0] <= self.head_ranges[1] <= 41:
            raise ValueError(f"head_ranges {head_ranges!r}: two indices in 0..41, low first")
        spread = float(self.rng.standard_normal())
        dark = 0.0
        if self.world.errors != "none":  # torch physics only when there are errors to draw
            from hilt.sims.physics import error_levels

            dark = error_levels(self.world.errors).dark_level
        self._offset_w = dark * 1e-3 * (1.0 + 0.2 * spread)
        self.wavelength_nm = 10600
        self.scale_index = 18
        self.autoscale = True
        self.zero_w: float | None = None

    def true_power(self) -> float:
        """Average power (W) through the head's aperture now, before offset and noise."""
        system = self.world.system(self.system_name) if self.system_name else None
        if system is None:
            return 0.0
        x, y = system.position()
        return float(system.detector_power(x, y, aperture_mm=self.aperture_mm))

    def reading(self) -> float:
        value = self.true_power() + self._offset_w + self.noise_w * float(self.rng.standard_normal())
        if self.zero_w is not None:
            value -= self.zero_w
        if not self.autoscale:
            fs = range_full_scale(self.scale_index)
            value = max(-fs, min(fs, value))
        return value

    def handle(self, line: str, session: Session) -> str | None:
        text = line.strip()
        if not text.startswith("*") or len(text) < 4:
            self.unknown_command(text[:4])
            return "Invalid Command"
        mnemonic, arg = text[1:4].upper(), text[4:]
        if mnemonic in QUERIES and arg:
            return "Invalid Parameter"
        try:
            return self._dispatch(mnemonic, arg)
        except ValueError:
            return "Invalid Parameter"

    def _dispatch(self, mnemonic: str, arg: str) -> str | None:
        if mnemonic == "CVU":
            return f"Current Value : {self.reading():.6e}"
        if mnemonic == "VER":
            return self.version
        if mnemonic == "GWL":
            return f"PWC: {self.wavelength_nm}"
        if mnemonic == "PWC":
            nm = int(arg)
            if not self.head_wavelength_nm[0] <= nm <= self.head_wavelength_nm[1]:
                raise ValueError(arg)
            self.wavelength_nm = nm
            return None
        if mnemonic == "GCR":
            return f"Range : {self.scale_index}"
        if mnemonic == "SCS":
            index = int(arg)
            if not self.head_ranges[0] <= index <= self.head_ranges[1]:
                raise ValueError(arg)
            self.scale_index, self.autoscale = index, False
            return None
        if mnemonic in ("SSU", "SSD"):
            # One range up or down within the head's ranges; autoscale goes off, as with *SCS.
            lo, hi = self.head_ranges
            step = 1 if mnemonic == "SSU" else -1
            self.scale_index, self.autoscale = min(hi, max(lo, self.scale_index + step)), False
            return None
        if mnemonic == "DVS":
            lo, hi = self.head_ranges
            return "\r\n".join(f"[{i:02d}] : {_si(range_full_scale(i))}" for i in range(lo, hi + 1))
        if mnemonic == "GAS":
            return f"AutoScale : {int(self.autoscale)}"
        if mnemonic == "SAS":
            if arg not in ("0", "1"):
                raise ValueError(arg)
            self.autoscale = arg == "1"
            return None
        if mnemonic == "GZO":
            return f"Zero : {int(self.zero_w is not None)}"
        if mnemonic == "SOU":
            self.zero_w = 0.0
            self.zero_w = self.reading()
            return None
        if mnemonic == "COU":
            self.zero_w = None
            return None
        if mnemonic == "NVU":
            return "New Data Available"
        if mnemonic in WIDTHS:  # settings the model keeps no state for
            float(arg)
            return None
        self.unknown_command("*" + mnemonic)
        return "Invalid Command"

    def inject_error(self, line: str, session: Session) -> str | None:
        return "Invalid Command"

    def state(self) -> dict[str, Any]:
        return {"wavelength_nm": self.wavelength_nm, "scale_index": self.scale_index,
                "autoscale": self.autoscale, "zero_w": self.zero_w,
                "power_w": self.true_power()}
