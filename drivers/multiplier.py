"""Frequency-multiplier chain (VDI-style amplifier/multiplier chain, AMC) driven by a synthesizer.

The chain has no digital interface: ``f_out = N x f_synth`` and its output power follows the
chain's power curve. This virtual instrument is composed over the synthesizer driver the station
passes as ``source`` (station file: ``uses: {source: synth}``); every byte goes through that
driver, and every limit (output band, input drive level) is checked before any byte is sent.

Typical numbers (band, multiplication factor, nominal output power curve, input drive +3 to
+6 dBm) follow Virginia Diodes' "Amplifier/Multiplier Chains (AMC)" product data sheets and
the "VDI Extension Modules" data sheet (WR-10 x6, WR-6.5 x9, WR-5.1 x12, WR-3.4 x18,
WR-2.2 x27, each driven at 12-18.5 GHz). They are *typical* values: replace them with your
unit's test report through ``power_curve=`` / ``factor=`` / ``input_power_range=``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hilt.errors import ConfigError, LimitError
from hilt.instrument import Instrument
from hilt.parameters import Parameter
from hilt.validators import Bool, Numbers


class Band:
    """One waveguide band of a multiplier chain."""

    def __init__(self, name: str, f_min: float, f_max: float, factor: int,
                 curve: Sequence[tuple[float, float]]) -> None:
        self.name, self.f_min, self.f_max, self.factor = name, float(f_min), float(f_max), int(factor)
        self.curve = [(float(f), float(p)) for f, p in curve]


# (GHz, dBm) points of the nominal output power; typical AMC values, not a particular unit.
BANDS: dict[str, Band] = {
    "WR-10": Band("WR-10", 75e9, 110e9, 6,
                  [(75e9, 12.0), (82e9, 14.0), (90e9, 15.0), (100e9, 14.5), (106e9, 13.0), (110e9, 11.0)]),
    "WR-6.5": Band("WR-6.5", 110e9, 170e9, 9,
                   [(110e9, 9.0), (125e9, 11.0), (140e9, 11.5), (155e9, 10.5), (170e9, 8.0)]),
    "WR-5.1": Band("WR-5.1", 140e9, 220e9, 12,
                   [(140e9, 6.0), (160e9, 8.0), (180e9, 8.5), (200e9, 7.0), (220e9, 4.0)]),
    "WR-3.4": Band("WR-3.4", 220e9, 330e9, 18,
                   [(220e9, 1.0), (250e9, 3.0), (280e9, 3.0), (310e9, 1.5), (330e9, -1.0)]),
    "WR-2.2": Band("WR-2.2", 330e9, 500e9, 27,
                   [(330e9, -6.0), (370e9, -3.0), (420e9, -3.5), (460e9, -5.0), (500e9, -9.0)]),
}


class VdiMultiplier(Instrument):
    """A multiplier chain: output frequency, input drive, expected output power.

    ``source`` is any synthesizer driver with ``frequency`` (Hz), ``power`` (dBm) and
    ``output`` parameters (Keysight E8257D, R&S SGS100A/SMA100B, ...).
    """

    model = "vdi_multiplier"
    kinds: ClassVar[tuple[str, ...]] = ("frequency_multiplier",)
    simulator = None
    virtual = True
    #: the chain's safe input drive (dBm): below it the multipliers do not saturate and the
    #: output is unspecified; above it the first stage may be damaged.
    DEFAULT_INPUT_RANGE: ClassVar[tuple[float, float]] = (3.0, 6.0)

    frequency = Parameter(lambda o: o.source.frequency.get() * o.factor,
                          lambda o, v: o.source.frequency.set(v / o.factor),
                          unit="Hz", vals=Numbers(75e9, 110e9), doc="output frequency (synthesizer x N)")
    input_power = Parameter(lambda o: o.source.power.get(), lambda o, v: o.source.power.set(v),
                            unit="dBm", vals=Numbers(3.0, 6.0), doc="drive level at the chain's input")
    output = Parameter(lambda o: o.source.output.get(), lambda o, v: o.source.output.set(v),
                       vals=Bool(), doc="the synthesizer's RF output (the chain has no switch)")

    def __init__(self, address: str | None = None, *, source: Instrument | None = None, band: str = "WR-10",
                 factor: int | None = None, power_curve: Sequence[tuple[float, float]] | None = None,
                 frequency_range: tuple[float, float] | None = None,
                 input_power_range: tuple[float, float] | None = None, **kwargs: Any) -> None:
        if source is None:
            raise ConfigError("vdi_multiplier needs its synthesizer: station file 'uses: {source: <synth>}'")
        if band not in BANDS:
            raise ConfigError(f"band {band!r}: expected one of {sorted(BANDS)}")
        nominal = BANDS[band]
        self.source = source
        self.band = band
        self.factor = int(factor if factor is not None else nominal.factor)
        if self.factor < 1:
            raise ConfigError(f"factor {factor!r}: must be a positive integer")
        self.f_min, self.f_max = (float(x) for x in (frequency_range or (nominal.f_min, nominal.f_max)))
        self.input_range = tuple(float(x) for x in (input_power_range or self.DEFAULT_INPUT_RANGE))
        curve = sorted(power_curve or nominal.curve)
        self._curve_f = np.array([f for f, _ in curve], dtype=float)
        self._curve_p = np.array([p for _, p in curve], dtype=float)
        super().__init__(address, **kwargs)

    def configure(self) -> None:
        self.frequency.vals = Numbers(self.f_min, self.f_max)
        self.input_power.vals = Numbers(*self.input_range)

    # -- what the chain gives -------------------------------------------------------------------
    def expected_output_power(self, frequency: float) -> float:
        """Nominal output power (dBm) at ``frequency`` (Hz), interpolated on the power curve."""
        f = float(frequency)
        if not self.f_min <= f <= self.f_max:
            raise LimitError(f"{f:g} Hz outside the {self.band} band [{self.f_min:g}, {self.f_max:g}]",
                             instrument=self.name, parameter="frequency", value=f)
        return float(np.interp(f, self._curve_f, self._curve_p))

    def synthesizer_frequency(self, frequency: float) -> float:
        """The synthesizer frequency that gives ``frequency`` at the output (checked, not sent)."""
        f = self.frequency.validate(frequency)
        return self.source.frequency.validate(f / self.factor)

    # -- life cycle -----------------------------------------------------------------------------
    def identify(self) -> dict[str, str]:
        return {"vendor": "VDI", "model": f"{self.band} AMC x{self.factor}", "serial": "",
                "firmware": f"driven by {self.source.name}"}

    def safe_state(self) -> None:
        if self.source.connected:
            self.source.output.set(False)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.band} x{self.factor} over {self.source.name!r}>"
