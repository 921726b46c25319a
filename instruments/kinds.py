"""Device kinds: what a panel, a calibration or a loop may rely on, whatever the instrument.

A *kind* is a small typed interface (a runtime-checkable :class:`typing.Protocol`). A driver says
which kinds it implements by name, ``kinds = ("signal_source",)``; a routine asks a station for a
role or a kind and then uses only the members listed here, so it works with every instrument of
that kind, real or simulated. ``isinstance(synth, SignalSource)`` is True when every member is
there (methods callable).

Units are SI unless a member says otherwise: frequency in Hz, wavelength in m, time in s,
voltage in V, current in A, position in mm. Power is in **dBm** for RF signal sources and
multiplier chains (what their front panels and data sheets use) and in **W** for lasers and
power meters. Every member call is blocking: it returns once the instrument has taken the
setting or given the reading (a stage's ``move_to(..., wait=False)`` is the one documented
exception). ``safe_state()`` puts the instrument where a person can walk up to the bench: each
kind says what that is.

Parameters (``synth.frequency``) are :class:`~hilt.parameters.BoundParameter` objects:
``.get()``, ``.set(value)``, ``.unit``, ``.validate(value)``; a setpoint outside the hardware
range or the station's soft limits is a :class:`~hilt.errors.LimitError` before any byte is sent.
Readouts are get-only parameters (``lockin.r.get()``, ``lockin.r.unit``); calling one with no
argument reads it too (``lockin.r()``), so code written for a method works on a parameter.

The registry :data:`KINDS` maps each name to its Protocol; :func:`kind_of` looks one up. See
``docs/kinds.md`` for which drivers implement which kinds, and ADR 0008.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from hilt.camera_frame import CameraFrame
from hilt.errors import ConfigError
from hilt.parameters import BoundParameter
from hilt.snn_model import BoardLimits, SnnNetwork

__all__ = [
    "KINDS",
    "Accelerator",
    "FrequencyMultiplier",
    "HeaterDriver",
    "LockIn",
    "MotionStage",
    "NeuromorphicBoard",
    "OpticalSwitch",
    "PhotonicProcessorKind",
    "PowerMeter",
    "SignalSource",
    "TunableLaser",
    "Camera",
    "SpatialLightModulator",
    "kind_of",
    "kinds_of",
    "members",
]

_NOT_MEMBERS = frozenset({"kind"})
_MEMBERS: dict[type, tuple[str, ...]] = {}


def members(kind: type | str) -> tuple[str, ...]:
    """The names a conforming instrument must have (attributes and methods), sorted."""
    proto = kind if isinstance(kind, type) else kind_of(kind)
    cached = _MEMBERS.get(proto)
    if cached is not None:
        return cached
    names: set[str] = set()
    for klass in proto.__mro__:
        if klass in (Protocol, object, _KindMeta) or not getattr(klass, "_is_protocol", False):
            continue
        names.update(vars(klass).get("__annotations__", {}))
        names.update(k for k, v in vars(klass).items() if callable(v) or isinstance(v, property))
    found = tuple(sorted(n for n in names if not n.startswith("_") and n not in _NOT_MEMBERS))
    _MEMBERS[proto] = found
    return found


class _KindMeta(type(Protocol)):  # type: ignore[misc]
    """``isinstance`` for kinds: every member present, methods callable (``kind`` is the
    Protocol's own name, not something an instrument carries)."""

    def __instancecheck__(cls, instance: Any) -> bool:
        if "kind" not in vars(cls):
            return super().__instancecheck__(instance)
        proto_methods = {n for n in members(cls) if callable(getattr(cls, n, None))}
        for name in members(cls):
            if not hasattr(instance, name):
                return False
            if name in proto_methods and not callable(getattr(instance, name)):
                return False
        return True


@runtime_checkable
class SignalSource(Protocol, metaclass=_KindMeta):
    """An RF/microwave signal generator (CW): Keysight PSG, R&S SGS100A/SMA100B, ...

    * ``frequency``: CW output frequency, Hz (parameter).
    * ``power``: output level, **dBm** (parameter).
    * ``output``: RF output on (True) or off (False) (parameter).

    Setting a parameter blocks until the instrument has taken it (errors are raised then).
    Safe state: RF output off (frequency and level are left as they are).
    """

    kind: ClassVar[str] = "signal_source"
    frequency: BoundParameter
    power: BoundParameter
    output: BoundParameter

    def safe_state(self) -> None: ...


@runtime_checkable
class FrequencyMultiplier(Protocol, metaclass=_KindMeta):
    """A frequency-multiplier chain (e.g. a VDI AMC) driven by a :class:`SignalSource`.

    * ``factor``: the multiplication N (``f_out = N x f_source``).
    * ``source``: the signal source it multiplies (every byte goes through it).
    * ``frequency``: *output* frequency, Hz (parameter; sets the source to ``f / N``).
    * ``output``: the source's RF output on/off (parameter; the chain has no switch).
    * ``expected_output_power(frequency)``: the chain's nominal output power at ``frequency``
      (Hz), **dBm**, from its power curve; sends nothing.
    * ``synthesizer_frequency(frequency)``: the source frequency giving ``frequency``; sends nothing.

    Safe state: the source's RF output off.
    """

    kind: ClassVar[str] = "frequency_multiplier"
    factor: int
    source: Any
    frequency: BoundParameter
    output: BoundParameter

    def expected_output_power(self, frequency: float) -> float: ...

    def synthesizer_frequency(self, frequency: float) -> float: ...

    def safe_state(self) -> None: ...


@runtime_checkable
class LockIn(Protocol, metaclass=_KindMeta):
    """A lock-in amplifier (SRS SR830, SR860, ...).

    * ``frequency``: reference frequency, Hz; ``phase``: reference phase shift, degrees
      (parameters).
    * ``sensitivity``: full scale, V; ``time_constant``: output filter, s (parameters; only the
      instrument's table values are accepted, anything else is a LimitError).
    * ``x``, ``y``, ``r``: outputs, V rms; ``theta``: phase, degrees (get-only parameters:
      ``li.r.get()`` or ``li.r()``). Each reads the output now; waiting for the filter to settle
      (a few time constants) is the caller's job.
    * ``snap("x", "y", ...)``: several outputs sampled at one instant, in the order asked
      (default X, Y), as a tuple of floats.
    * ``auto_gain()``: the instrument picks the sensitivity; ``auto_phase()``: it zeroes theta.
      Both block until the command is taken (the instrument may keep adjusting for a few time
      constants).
    * ``overloaded``: True if an input, filter or output overload happened since the last
      status read (get-only parameter; reading clears it).

    Safe state: the reference sine output (which usually drives a chopper or a modulator) at its
    minimum amplitude; the lock-in has no other output.
    """

    kind: ClassVar[str] = "lock_in"
    frequency: BoundParameter
    phase: BoundParameter
    sensitivity: BoundParameter
    time_constant: BoundParameter

    x: BoundParameter
    y: BoundParameter
    r: BoundParameter
    theta: BoundParameter
    overloaded: BoundParameter

    def snap(self, *which: str) -> tuple[float, ...]: ...

    def auto_gain(self) -> None: ...

    def auto_phase(self) -> None: ...

    def safe_state(self) -> None: ...


@runtime_checkable
class PowerMeter(Protocol, metaclass=_KindMeta):
    """An optical power meter or a THz detector with one or many ports (Keysight N7744A/N7745A,
    Gentec-EO MAESTRO, ...).

    * ``n_ports``: number of detector ports (1 for a single head).
    * ``read_all()``: a fresh reading of every port, **W**, as a float array of shape
      ``(n_ports,)``, taken in one read (one query where the instrument allows it), so all ports
      see the same moment of the experiment. hilt's meters also offer it as the get-only
      parameter ``powers`` (same array, unit W).

    Safe state: nothing to do (a meter has no output); it changes nothing on the bench.
    """

    kind: ClassVar[str] = "power_meter"
    n_ports: int

    def read_all(self) -> np.ndarray: ...

    def safe_state(self) -> None: ...


@runtime_checkable
class TunableLaser(Protocol, metaclass=_KindMeta):
    """A tunable laser source (Keysight 8164B module, Santec TSL-550, ...).

    * ``wavelength``: m (parameter).
    * ``power``: output power setpoint, **W** (parameter).
    * ``output``: laser on (True) / off (False) (parameter).

    Safe state: laser output off.
    """

    kind: ClassVar[str] = "tunable_laser"
    wavelength: BoundParameter
    power: BoundParameter
    output: BoundParameter

    def safe_state(self) -> None: ...


@runtime_checkable
class HeaterDriver(Protocol, metaclass=_KindMeta):
    """A voltage (heater) driver with ``n_channels`` outputs: Qontrol Q8iv/Q8b, QDAC-II,
    a Keithley 2400 as one channel, ...

    * ``n_channels``: number of outputs; vectors below have this length, channel order.
    * ``validate_voltages(v)``: every element checked against its channel's range and soft
      limits, returned as floats; sends nothing (a LimitError names the channel).
    * ``set_voltages(v)``: every output to ``v`` (V), checked first, in as few transactions as
      the instrument allows; blocks until taken. An instrument with an output switch switches it
      on. A driver with a per-step ramp walks there.
    * ``get_voltages()``: every output's voltage, V, float array.
    * ``get_currents()``: every output's current, **A**, float array (0 for an output that is
      off).
    * ``ramp_step``: largest voltage step (V) the safe-state ramp takes.

    hilt's heater drivers also offer the two readings as get-only parameters ``voltages`` (V)
    and ``currents`` (A), the same arrays.

    Safe state: every channel ramped to 0 V (steps of at most ``ramp_step``); an output switch,
    if there is one, then off.
    """

    kind: ClassVar[str] = "heater_driver"
    n_channels: int
    ramp_step: float

    def validate_voltages(self, values: Sequence[float] | np.ndarray) -> list[float]: ...

    def set_voltages(self, values: Sequence[float] | np.ndarray) -> None: ...

    def get_voltages(self) -> np.ndarray: ...

    def get_currents(self) -> np.ndarray: ...

    def safe_state(self) -> None: ...


@runtime_checkable
class MotionStage(Protocol, metaclass=_KindMeta):
    """A motion stage with named axes (Newport ESP301 or two SMC100s as an XY stage, ...).

    * ``axis_names``: the axes, e.g. ``("x", "y")``; positions in mm, in this order.
    * ``move_to(**targets, wait=True, timeout=None)``: absolute move, e.g. ``move_to(x=1.0)``;
      axes not named stay. The travel limits are checked before any byte is sent. With
      ``wait=False`` it returns once the move has started.
    * ``wait_until_done(timeout=None)``: block until every axis has stopped
      (InstrumentTimeout after ``timeout`` s).
    * ``home(wait=True, timeout=None)``: home search (home defines position 0).
    * ``position``: a tuple of floats, mm, in ``axis_names`` order (get-only parameter:
      ``stage.position()`` or ``stage.position.get()``).
    * ``is_moving``: True while any axis moves (get-only parameter).
    * ``stop()``: stop every axis now.

    Safe state: every axis stopped where it is.
    """

    kind: ClassVar[str] = "motion_stage"
    axis_names: tuple[str, ...]
    position: BoundParameter
    is_moving: BoundParameter

    def move_to(self, *args: float | None, wait: bool = True, timeout: float | None = None,
                **targets: float | None) -> None: ...

    def wait_until_done(self, timeout: float | None = None) -> None: ...

    def home(self, *, wait: bool = True, timeout: float | None = None) -> None: ...

    def stop(self) -> None: ...

    def safe_state(self) -> None: ...


@runtime_checkable
class OpticalSwitch(Protocol, metaclass=_KindMeta):
    """A programmable fibre-optic switch: a common port routed to one of ``n_channels`` outputs
    (1xN; JDS Uniphase SB, ...). On a photonic bench it picks which chip input gets the light.

    * ``n_channels``: number of outputs, numbered ``1..n_channels`` as on the front panel.
    * ``channel``: the output the common port is connected to (parameter, an int
      ``1..n_channels``; an output outside is a LimitError before any byte is sent). Setting it
      blocks until the switch has taken the route (a mechanical switch moves in tens of ms).

    Safe state: nothing to do; the route stays where it is (a switch emits no light and holds no
    energy; the laser's safe state is what turns the light off).
    """

    kind: ClassVar[str] = "optical_switch"
    n_channels: int
    channel: BoundParameter

    def safe_state(self) -> None: ...


@runtime_checkable
class PhotonicProcessorKind(Protocol, metaclass=_KindMeta):
    """A programmable photonic processor (an MZI mesh chip behind a controller).

    * ``describe()``: what the chip is, a dict with at least ``mesh`` (e.g. ``"clements"``),
      ``n_ports``, ``n_layers``, ``activation`` and ``measures_internal`` (whether ``run`` can
      return the intermediate layers' states). The twin is built from this report.
    * ``n_ports``, ``n_layers``, ``heaters_per_layer``: sizes (ints).
    * ``set_heaters(layer, volts, offset=0)``: heater voltages (V) of one layer from ``offset``,
      every value checked first; ``get_heaters(layer)``: that layer's voltages, V.
    * ``set_light(on, power_mw=1.0)``: the input light on/off at ``power_mw`` (mW).
    * ``run(inputs, internal=False)``: input amplitudes ``(batch, n_ports)`` (complex) ->
      ``(outputs, states)``: detected output intensities ``(batch, n_ports)`` and, with
      ``internal=True`` on a chip that measures them, one ``(batch, n_ports)`` array per
      intermediate layer (an empty list otherwise). Blocks until the whole batch is measured.

    Safe state: every heater at 0 V, light off.
    """

    kind: ClassVar[str] = "photonic_processor"
    n_ports: int
    n_layers: int
    heaters_per_layer: int

    def describe(self) -> dict[str, Any]: ...

    def set_heaters(self, layer: int, volts: np.ndarray, offset: int = 0) -> None: ...

    def get_heaters(self, layer: int) -> np.ndarray: ...

    def set_light(self, on: bool, power_mw: float = 1.0) -> None: ...

    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]: ...

    def safe_state(self) -> None: ...


@runtime_checkable
class SpatialLightModulator(Protocol, metaclass=_KindMeta):
    """A phase-only spatial light modulator (LCoS SLM: Holoeye, Meadowlark, Hamamatsu, Santec, a
    display SLM driven as a second monitor, an SLM behind hilt's network server, ...).

    * ``shape``: ``(rows, cols)`` of the panel, pixels; ``pixel_pitch_m``: pixel pitch, m;
      ``bit_depth``: bits per grey level (levels ``0 .. 2**bit_depth - 1``);
      ``wavelength_m``: the wavelength the LUT is for, m.
    * ``settle_s``: how long the liquid crystal takes to settle after a new frame, s (what
      ``show_phase`` and ``show_grey`` wait for).
    * ``lut``: the grey-level -> phase table in use, rad, a float array of ``2**bit_depth``
      entries (``lut[g]`` is the phase of level ``g``); ``set_lut(lut)`` replaces it (checked
      first: length, finite values). A LUT calibration writes it.
    * ``show_phase(phase)``: show a phase pattern (rad, any real values, float array of
      ``shape``), wrapped to [0, 2 pi) and turned into the nearest grey levels through ``lut``
      (:func:`hilt.slm_lut.phase_to_grey`, the same conversion for every back end). Blocks until
      the frame is displayed and settled.
    * ``show_grey(levels)``: show grey levels (integer array of ``shape``, ``0 .. 2**bit_depth
      - 1``, checked before anything is sent); blocks until displayed and settled.
    * ``shown()``: the grey levels displayed now (integer array of ``shape``).

    Safe state: the all-zero frame shown (an SLM emits nothing itself; the laser's safe state
    turns the light off).
    """

    kind: ClassVar[str] = "slm"
    shape: tuple[int, int]
    pixel_pitch_m: float
    bit_depth: int
    wavelength_m: float
    settle_s: float
    lut: np.ndarray

    def set_lut(self, lut: np.ndarray) -> None: ...

    def show_phase(self, phase: np.ndarray) -> None: ...

    def show_grey(self, levels: np.ndarray) -> None: ...

    def shown(self) -> np.ndarray: ...

    def safe_state(self) -> None: ...


@runtime_checkable
class Camera(Protocol, metaclass=_KindMeta):
    """A scientific or machine-vision camera (Basler through pypylon, slmsuite's cameras, hilt's
    simulated camera, ...), used with software triggers.

    * ``shape``: ``(rows, cols)`` of the full sensor, pixels; ``bit_depth``: bits per pixel of the
      digital numbers (DN) it delivers; ``pixel_pitch_m``: pixel pitch, m.
    * ``exposure``: exposure time, s; ``gain``: analogue gain, dB; ``binning``: pixels combined
      per side, an int (parameters with bounds: a value outside is a LimitError before any byte
      is sent).
    * ``set_roi(x, y, width, height)``: the region of interest in full-sensor pixels (x is the
      column of its left edge, y the row of its top edge), checked against ``shape`` first;
      ``roi()``: the region now, ``(x, y, width, height)``.
    * ``trigger()``: a software trigger: one frame is exposed now, with the settings now.
    * ``grab(timeout=1.0)``: the oldest frame exposed and not yet grabbed, as a
      :class:`~hilt.camera_frame.CameraFrame` (image of the ROI after binning, frame counter,
      timestamp, exposure, gain); blocks until there is one, at most ``timeout`` s, then raises
      the driver's error (an :class:`~hilt.errors.InstrumentTimeout`).
    * ``flush()``: drop every frame exposed and not yet grabbed (stale frames after a change on
      the bench).

    A frame's ``counter`` counts every frame exposed since the camera was opened, so a gap
    between two grabs shows frames that were dropped or flushed.

    Safe state: acquisition stopped and pending frames dropped (a camera emits nothing; the
    laser's safe state turns the light off).
    """

    kind: ClassVar[str] = "camera"
    shape: tuple[int, int]
    bit_depth: int
    pixel_pitch_m: float
    exposure: BoundParameter
    gain: BoundParameter
    binning: BoundParameter

    def set_roi(self, x: int, y: int, width: int, height: int) -> None: ...

    def roi(self) -> tuple[int, int, int, int]: ...

    def trigger(self) -> None: ...

    def grab(self, timeout: float = 1.0) -> CameraFrame: ...

    def flush(self) -> None: ...

    def safe_state(self) -> None: ...


@runtime_checkable
class NeuromorphicBoard(Protocol, metaclass=_KindMeta):
    """A neuromorphic board that runs spiking networks (hilt's board protocol, class
    ``neuromorphic``; SynSense Xylo through rockpool, ...).

    A network is a :class:`~hilt.snn_model.SnnNetwork`: integer LIF layers (weights, thresholds,
    bias, initial charge, a leak as a bit shift or a factor, the reset rule), built from a torch
    spiking model or a NIR graph with :mod:`hilt.instruments.snn_network`.

    * ``limits``: what the board holds and runs, a :class:`~hilt.snn_model.BoardLimits`
      (``neurons``, ``fan_in``, ``max_layers``, ``inputs``, ``weight_bits``, ``threshold_bits``,
      ``state_bits``, ``max_steps``, ``max_batch``, ``max_events``), read from the board.
    * ``check(network)``: LimitError naming the first thing in ``network`` the board cannot hold
      (too many neurons, a fan-in, a weight or threshold beyond its bits); sends nothing.
    * ``load(network)``: checked as ``check`` does, then loaded; blocks until the board holds it.
    * ``run(events, steps=None)``: ``events`` (ticks, batch, n_inputs) event counts
      (0..``limits.max_events``), time-major; ``steps`` ticks are run (default the events'
      ticks, the later ones without input). Returns ``(spikes, counts)``: the output layer's
      spikes ``(steps, batch, n_outputs)`` (0/1) and their counts ``(batch, n_outputs)``.
      Checked before anything is sent; blocks until the batch has run.
    * ``counters()``: a dict: ``spikes``, ``synaptic_ops`` (input events times the neurons each
      reaches) and ``time_steps`` (ticks times samples) since the board was reset, and
      ``latency_s``, the last batch's latency, s.

    Safe state: the board computes nothing (a running batch is stopped, results dropped); the
    network stays loaded.
    """

    kind: ClassVar[str] = "neuromorphic_board"
    limits: BoardLimits

    def check(self, network: SnnNetwork) -> None: ...

    def load(self, network: SnnNetwork) -> None: ...

    def run(self, events: np.ndarray, steps: int | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def counters(self) -> dict[str, float]: ...

    def safe_state(self) -> None: ...


@runtime_checkable
class Accelerator(Protocol, metaclass=_KindMeta):
    """An int8 inference accelerator (an FPGA design behind the hilt board protocol, a PYNQ
    overlay behind hilt's board server, ...). It computes on int8 values: quantising inputs and
    dequantising results with the model's scales is the caller's part.

    * ``limits``: what the board can run, from its identity (a dict): ``rounding``
      (``"half_away"``, ``"half_even"`` or ``"floor"``), ``acc_bits`` (accumulator width),
      ``requant`` (``"multiplier"`` and/or ``"pow2"``), ``per_channel``, ``weight_zero_point``,
      ``layers`` (layer types), ``max_batch``, ``max_payload``, ``max_model_bytes``,
      ``max_layers``, ``max_features``, ``max_channels``, ``max_kernel``, ``clock_hz``.
      ``describe()`` returns a copy.
    * ``check_model(model)``: a :class:`hilt.board_protocol.AcceleratorModel` held to
      ``limits`` (LimitError naming the first thing the board lacks; sends nothing); returns
      its payload bytes.
    * ``load_model(model)``: checked, then uploaded; returns the model's CRC-32 as the board
      confirmed it. The board keeps it until reset or power cycle.
    * ``run(samples)``: int8 ``(batch, input size)`` or ``(batch, C, H, W)`` -> int8 results
      ``(batch, output size)`` of the loaded model; every value checked first (integers in
      -128..127, the model's shape). Blocks until the whole batch is computed.
    * ``status()``: a dict with ``state`` (``"no_model"``, ``"loading"``, ``"ready"``,
      ``"running"``, ``"fault"``), ``model_crc``, ``batch_id``, ``results_ready``, ``last_error``.
    * ``read_counters()``: a dict of counts since power-up, by name: ``batches``, ``samples``,
      ``cycles_last``, ``cycles_total``, ``latency_ns_last`` (ns), ``macs_total``, ...

    Safe state: the running batch aborted and its results dropped (the board computes nothing);
    the model stays loaded.
    """

    kind: ClassVar[str] = "accelerator"
    limits: dict[str, Any]

    def describe(self) -> dict[str, Any]: ...

    def check_model(self, model: Any) -> bytes: ...

    def load_model(self, model: Any) -> int: ...

    def run(self, samples: np.ndarray) -> np.ndarray: ...

    def status(self) -> dict[str, Any]: ...

    def read_counters(self) -> dict[str, int]: ...

    def safe_state(self) -> None: ...


#: Every kind by name.
KINDS: dict[str, type] = {
    p.kind: p for p in (SignalSource, FrequencyMultiplier, LockIn, PowerMeter, TunableLaser, HeaterDriver,
                        MotionStage, OpticalSwitch, PhotonicProcessorKind, SpatialLightModulator, Camera,
                        NeuromorphicBoard, Accelerator)
}


def kind_of(name: str | type) -> type:
    """The Protocol of a kind, from its name (``"lock_in"``) or the Protocol itself.

    An unknown name is a ConfigError that lists the known ones.
    """
    if isinstance(name, type):
        if name in KINDS.values():
            return name
        raise ConfigError(f"{name.__name__} is not a device kind (known: {', '.join(KINDS)})")
    if name not in KINDS:
        raise ConfigError(f"unknown device kind {name!r} (known: {', '.join(KINDS)})")
    return KINDS[name]


def kinds_of(instrument: Any) -> tuple[type, ...]:
    """The Protocols an instrument (or driver class) declares, from its ``kinds`` names."""
    return tuple(kind_of(n) for n in getattr(instrument, "kinds", ()))
