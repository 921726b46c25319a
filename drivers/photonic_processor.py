"""A programmable MZI photonic processor behind a vector/batch interface (hilt frame protocol).

Large meshes (three 64-port Clements meshes hold 12,096 phase shifters) are not driven one
serial command per heater: the chip's controller takes a whole heater vector per transaction and
streams batches of input vectors through the input modulators, reading every output port (and,
where the chip has tap detectors, the intermediate layers) per sample. The bytes are those of
*hilt frame protocol, photonic processor messages* (docs/protocols/photonic-processor.md, our own
protocol document, written byte by byte so firmware authors can implement it):

=====  ==============  ==========================================================  =============
type   name            request payload                                             reply
=====  ==============  ==========================================================  =============
0x01   INFO            (none)                                                      0x81 JSON
0x10   SET_HEATERS     layer u16, offset u32, count u32 (BE); count x f32 LE volts  0x90 (none)
0x11   GET_HEATERS     layer u16 (BE)                                              0x91 count u32 BE, f32 LE
0x20   RUN             flags u8 (bit0: internal states), batch u32, n u16 (BE);    0xA0 batch u32, n u16,
                       batch x n complex64 LE (re, im)                             states u8 (BE);
                                                                                   (1+states) x batch x n f32 LE
0x30   LIGHT           on u8, power mW f32 (BE)                                    0xB0 (none)
0x40   SAFE            (none): heaters to 0 V, light off                           0xC0 (none)
0xFF   ERROR (reply)   code u16 BE, UTF-8 message
=====  ==============  ==========================================================  =============

The driver speaks volts; :class:`hilt.instruments.mesh_processor.StationMeshProcessor` maps the
loops' phases to volts through the heater calibration and counts physical queries.

The chip says what it is: :meth:`PhotonicProcessor.describe` gives the mesh type, ports, layers,
the activation between meshes, the output detectors and whether internal taps are measured, from
the INFO reply; the loops build their digital twin from it
(:func:`hilt.instruments.photonic_twin.twin_from_description`). A station file states what it
expects with the ``expect`` option, and a chip that reports otherwise is refused on connect::

    chip:
      driver: photonic_processor
      options: {expect: {mesh: clements, n_ports: 64, n_layers: 3}}
"""

from __future__ import annotations

import copy
import json
import logging
import math
import struct
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from hilt.drivers.framed_link import FramedLink
from hilt.errors import (
    ConfigError,
    ConnectError,
    InstrumentCommunicationError,
    LimitError,
    ProtocolError,
)
from hilt.validators import is_real, real_vector

INFO, SET_HEATERS, GET_HEATERS, RUN, LIGHT, SAFE = 0x01, 0x10, 0x11, 0x20, 0x30, 0x40

log = logging.getLogger("hilt.drivers.photonic_processor")


class ControllerStateLost(ConnectError):
    """The link was reopened and the controller may have restarted: its heaters and light must
    be set again before it measures (a loop's recovery does this and retries the step)."""


class PhotonicProcessor(FramedLink):
    """Vector/batch controller of a multi-layer MZI chip (hilt frame protocol over TCP).

    It declares no parameters: every reading takes an argument (``get_heaters(layer)``, a layer
    of heater voltages; ``run(inputs)``, a batch of input amplitudes), and ``describe()`` is what
    the chip is (read once, from INFO), not a reading. Those stay methods.
    """

    model = "photonic_processor"
    kinds: ClassVar[tuple[str, ...]] = ("photonic_processor",)
    simulator = "photonic_processor"
    transport_settings: ClassVar[dict[str, Any]] = {"timeout": 30.0}

    def __init__(self, address: str | None = None, *, v_max: float = 8.0,
                 max_input_power: float | None = None, expect: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:
        """``expect``: what the station file says the chip is (any of :data:`EXPECTABLE`, e.g.
        ``{"mesh": "clements", "n_ports": 64, "n_layers": 3}``); checked against the INFO reply
        on every connect, and a chip that reports otherwise is refused with a ConfigError.
        """
        self.v_max = float(v_max)
        if max_input_power is not None:
            self.max_input_power = float(max_input_power)
        self.expect = _check_expect(expect, kwargs.get("name") or self.model)
        super().__init__(address, **kwargs)
        self.info: dict[str, Any] = {}
        self.samples_run = 0
        #: What a reopened link left unknown ("light", layer numbers); run() refuses until set.
        self.unset: set[Any] = set()
        self.n_ports = 0
        self.n_layers = 0
        self.heaters_per_layer = 0
        self._description: dict[str, Any] = {}

    # -- frames --------------------------------------------------------------------------------
    #: Requests that only read, sent again after a timeout, a bad frame or a dropped link
    #: (``query_retries`` times); settings never are.
    RETRIED: ClassVar[frozenset[int]] = frozenset({INFO, GET_HEATERS, RUN})

    def on_query_failure(self, command: str, error: InstrumentCommunicationError) -> None:
        if isinstance(error, ControllerStateLost):
            raise error  # asking again cannot help: the caller programs the chip again

    def check_frame_request(self, ftype: int, payload: bytes, name: str) -> None:
        self.check_request(ftype, payload)  # a hand-built frame meets the same limits

    def before_send(self, t: Any, ftype: int) -> None:
        if ftype == RUN:
            t.ensure_in_step()  # a reopen must be known before a RUN goes out
            if self.unset:
                what = ", ".join((["the light"] if "light" in self.unset else [])
                                 + [f"layer {u}" for u in sorted(u for u in self.unset if u != "light")])
                raise ControllerStateLost(f"the controller was reconnected and may have restarted: set {what} "
                                          "again before running (a whole layer with set_heaters, the light "
                                          "with set_light)", instrument=self.name)

    # -- life cycle ----------------------------------------------------------------------------
    #: INFO's sizes: each a positive JSON integer (not 2.5, true, -3 or Infinity), at most what
    #: its field in the requests can carry (n_ports u16, layer u16, heater offset/count and batch u32).
    INFO_SIZES: ClassVar[dict[str, int]] = {"n_ports": 0xFFFF, "n_layers": 0x10000,
                                            "heaters_per_layer": 0xFFFFFFFF, "max_batch": 0xFFFFFFFF}

    def on_connect(self) -> None:
        info = self._read_info()
        description = self._check_info(info)
        self.info = info
        self.n_ports, self.n_layers = info["n_ports"], info["n_layers"]
        self.heaters_per_layer = info["heaters_per_layer"]
        self._description = self._compare_with_expect(description)

    def _check_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """The description in an INFO reply; ProtocolError for a value the document does not allow."""
        def malformed(key: str, value: Any, what: str) -> ProtocolError:
            return ProtocolError(f"INFO reply not understood: {key} {value!r} is not {what}",
                                 instrument=self.name, command="INFO")

        for key, most in self.INFO_SIZES.items():
            value = info.get(key)
            if value is None and key == "max_batch":
                continue  # optional: run() sends chunks of 1024 then
            if type(value) is not int or not 1 <= value <= most:
                raise malformed(key, value, f"an integer in 1..{most}")
        desc: dict[str, Any] = {k: info[k] for k in ("n_ports", "n_layers", "heaters_per_layer")}
        mesh = info.get("mesh")
        if mesh is not None and (not isinstance(mesh, str) or not mesh):
            raise malformed("mesh", mesh, "a mesh type (a string such as \"clements\")")
        desc["mesh"] = mesh
        internal = info.get("measures_internal", False)
        if not isinstance(internal, bool):
            raise malformed("measures_internal", internal, "true or false")
        desc["measures_internal"] = internal
        for key in ("activation", "detectors"):
            value = info.get(key)
            if value is not None:
                problem = _component_problem(value)
                if problem:
                    raise malformed(key, value, problem)
                value = dict(value)
            desc[key] = value
        detectors = desc["detectors"]
        if detectors is not None and detectors.get("n", desc["n_ports"]) != desc["n_ports"]:
            raise malformed("detectors.n", detectors["n"], f"the number of ports ({desc['n_ports']})")
        return desc

    def _compare_with_expect(self, desc: dict[str, Any]) -> dict[str, Any]:
        """The description with the station's ``expect`` checked against it.

        A field the chip reports must agree (ConfigError naming the instrument and the field);
        a field it does not report (an older controller without ``mesh``) is taken from
        ``expect``: the station file is then the only word on it.
        """
        desc = copy.deepcopy(desc)
        for key, want in self.expect.items():
            got = desc.get(key)
            if got is None:
                desc[key] = copy.deepcopy(want)
                log.info("%s: the processor does not report %s; the station file says %r", self.name, key, want)
                continue
            if isinstance(want, dict):
                for sub, value in want.items():
                    if not _same(value, got.get(sub)):
                        reported = "nothing" if got.get(sub) is None else _show(got.get(sub))
                        raise ConfigError(f"{self.name}: station says {key}.{sub} {_show(value)}, "
                                          f"the processor reports {reported}")
            elif not _same(want, got):
                raise ConfigError(f"{self.name}: station says {key} {_show(want)}, the processor reports {_show(got)}")
        return desc

    def describe(self) -> dict[str, Any]:
        """What the chip is, from its INFO reply (``expect`` fills what an older chip leaves out).

        Keys: ``mesh`` (``"clements"`` or ``"reck"``; None if neither the chip nor the station
        says), ``n_ports``, ``n_layers``, ``heaters_per_layer``, ``activation`` (between meshes:
        ``{"kind": "electro_optic", "alpha": .., "g": .., "phi_b": ..}`` or None), ``detectors``
        (``{"kind": "photodiode", "n": .., "responsivity": ..}`` or None) and
        ``measures_internal`` (the chip's taps read the intensities between meshes). A copy:
        changing it changes nothing.
        """
        if not self._description:
            info = self._read_info()
            self._description = self._compare_with_expect(self._check_info(info))
        return copy.deepcopy(self._description)

    def _read_info(self) -> dict[str, Any]:
        """The INFO reply's JSON object (ProtocolError for anything else)."""
        payload = self.exchange(INFO)
        try:
            info = json.loads(payload)
        except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested too deep
            raise ProtocolError(f"INFO reply not understood: {exc}", instrument=self.name, command="INFO",
                                reply=payload[:64]) from None
        if not isinstance(info, dict):
            raise ProtocolError("INFO reply is not a JSON object", instrument=self.name, command="INFO",
                                reply=payload[:64])
        return info

    def identify(self) -> dict[str, str]:
        if not self.info:
            self.info = self._read_info()
        return {k: str(self.info.get(k, "")) for k in ("vendor", "model", "serial", "firmware")}

    def snapshot_parameters(self) -> dict[str, Any]:
        keys = ("n_ports", "n_layers", "heaters_per_layer", "measures_internal", "max_batch")
        # Snapshot values are plain or {value, unit}: components as one line, kind(parameters).
        described = {k: _component_text(self._description.get(k)) for k in ("mesh", "activation", "detectors")}
        return {k: self.info.get(k) for k in keys} | described | {"samples_run": self.samples_run}

    def safe_state(self) -> None:
        self.exchange(SAFE)
        self.unset.clear()  # known again: every heater at 0 V, light off

    def _on_reopen(self) -> None:
        super()._on_reopen()
        # The link was reopened: the controller may have restarted and lost its heaters and
        # light. Until both are set again, run() refuses: a measurement of an unprogrammed chip
        # would be a wrong value returned without an error.
        self.unset = {"light", *range(self.n_layers)}

    # -- limits --------------------------------------------------------------------------------
    #: Input power bound for :meth:`run` when neither the INFO reply (``max_input_power``) nor
    #: the user (:attr:`max_input_power`) declares one: this many units of ``sum |a|^2`` per
    #: port, i.e. ``10 * n_ports`` per sample (hilt's encodings send ``n_ports`` or less).
    DEFAULT_INPUT_POWER_PER_PORT: ClassVar[float] = 10.0
    #: A user's own bound on ``sum |a|^2`` of one input sample (None: none). The smaller of it
    #: and the chip's declared ``max_input_power`` applies.
    max_input_power: float | None = None

    @property
    def heater_limit(self) -> float:
        """Highest heater voltage accepted: the option ``v_max``, or the chip's INFO ``v_max`` if lower."""
        declared = self.info.get("v_max")
        if is_real(declared) and math.isfinite(declared) and declared >= 0:
            return min(self.v_max, float(declared))
        return self.v_max

    @property
    def input_power_limit(self) -> float:
        """Highest ``sum |a|^2`` of one input sample :meth:`run` sends.

        The smaller of the chip's INFO ``max_input_power`` and :attr:`max_input_power` where
        either is declared, else ``DEFAULT_INPUT_POWER_PER_PORT * n_ports``.
        """
        bounds = [float(b) for b in (self.info.get("max_input_power"), self.max_input_power)
                  if is_real(b) and math.isfinite(b) and b >= 0]
        return min(bounds) if bounds else self.DEFAULT_INPUT_POWER_PER_PORT * self.n_ports

    def _refuse(self, message: str, parameter: str, value: Any = None) -> LimitError:
        return LimitError(message, instrument=self.name, parameter=parameter, value=value)

    def _check_index(self, value: Any, what: str, parameter: str) -> int:
        if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
            raise self._refuse(f"{what} {value!r} is not an integer", parameter, value)
        return int(value)

    def _check_heaters(self, layer: Any, volts: np.ndarray, offset: Any) -> None:
        layer = self._check_index(layer, "layer", "heaters")
        offset = self._check_index(offset, "offset", "heaters")
        heaters = self.heaters_per_layer
        if not 0 <= layer < self.n_layers:
            raise self._refuse(f"layer {layer} outside 0..{self.n_layers - 1}", "heaters", layer)
        if offset < 0 or offset + volts.size > heaters:
            raise self._refuse(f"heaters {offset}..{offset + volts.size - 1} outside 0..{heaters - 1}", "heaters")
        v_max = self.heater_limit
        bad = np.flatnonzero(~np.isfinite(volts) | (volts < 0) | (volts > v_max))
        if bad.size:
            i = int(bad[0])
            raise self._refuse(f"heater {offset + i} of layer {layer}: {volts[i]:g} V outside [0, {v_max:g}]",
                               "heaters", float(volts[i]))

    def _check_inputs(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[1] != self.n_ports:
            raise self._refuse(f"inputs of shape {x.shape}: expected (batch, {self.n_ports})", "inputs")
        bad = np.argwhere(~np.isfinite(x))
        if bad.size:
            b, k = (int(i) for i in bad[0])
            raise self._refuse(f"input amplitude [{b}, {k}] = {x[b, k]} is not finite", "inputs", complex(x[b, k]))
        power = np.sum(np.abs(x.astype(np.complex128)) ** 2, axis=1) if x.size else np.zeros(len(x))
        limit = self.input_power_limit
        over = np.flatnonzero(~(power <= limit))
        if over.size:
            b = int(over[0])
            raise self._refuse(f"input sample {b} carries sum |a|^2 = {power[b]:g}, above the limit {limit:g}",
                               "inputs", float(power[b]))

    def check_request(self, ftype: int, payload: bytes) -> None:
        """Refuse a request frame whose payload would put a bad value on the chip; sends nothing.

        The bytes themselves are decoded and checked, so a frame built by hand is held to the
        same rules as :meth:`set_heaters`, :meth:`set_light` and :meth:`run`: SET_HEATERS (layer,
        heater range, every volt finite in ``[0, heater_limit]``), LIGHT (on byte 0 or 1, power
        finite in [0, 100] mW), RUN (shape, every amplitude finite, each sample's ``sum |a|^2``
        within :attr:`input_power_limit`). Other types carry no setpoint. A payload that does
        not match its type is a LimitError too.
        """
        try:
            if ftype == SET_HEATERS:
                layer, offset, count = struct.unpack(">HII", payload[:10])
                if len(payload) != 10 + 4 * count:
                    raise self._refuse(f"SET_HEATERS announces {count} values in {len(payload)} bytes", "heaters")
                volts = np.frombuffer(payload[10:], dtype="<f4").astype(np.float64)
                self._check_heaters(layer, volts, offset)
            elif ftype == LIGHT:
                on, power = struct.unpack(">Bf", payload)
                if on not in (0, 1):
                    raise self._refuse(f"LIGHT on byte {on}: expected 0 or 1", "light", on)
                self._check_light_power(power)
            elif ftype == RUN:
                flags, batch, n = struct.unpack(">BIH", payload[:7])
                if flags & ~1:
                    raise self._refuse(f"RUN flags {flags:#04x}: only bit 0 is defined", "inputs", flags)
                if n != self.n_ports or len(payload) != 7 + 8 * batch * n:
                    raise self._refuse(f"RUN of {batch} x {n} in {len(payload)} bytes (chip: {self.n_ports} ports)",
                                       "inputs")
                self._check_inputs(np.frombuffer(payload[7:], dtype="<c8").reshape(batch, n))
        except struct.error as exc:
            raise self._refuse(f"payload of request type {ftype:#04x} does not match the type: {exc}",
                               "frame") from None

    def _check_light_power(self, power_mw: Any) -> float:
        if not is_real(power_mw) or not math.isfinite(power_mw) or not 0 <= power_mw <= 100:
            raise self._refuse(f"{power_mw!r} mW: expected a number in [0, 100]", "light", power_mw)
        return float(power_mw)

    # -- heaters -------------------------------------------------------------------------------
    def set_heaters(self, layer: int, volts: np.ndarray, offset: int = 0) -> None:
        """Set ``len(volts)`` heaters of ``layer`` from ``offset``; every value checked first.

        ``layer`` and ``offset`` are integers; ``volts`` finite numbers (not bools or strings)
        in ``[0, heater_limit]`` volts. Anything else is a LimitError and nothing is sent.
        """
        try:
            v = real_vector(volts, what="volts")
        except LimitError as exc:
            raise self._refuse(str(exc), "heaters") from None
        self._check_heaters(layer, v, offset)
        payload = struct.pack(">HII", int(layer), int(offset), v.size) + v.astype("<f4").tobytes()
        self.check_request(SET_HEATERS, payload)
        self.exchange(SET_HEATERS, payload)
        if offset == 0 and v.size == self.heaters_per_layer:
            self.unset.discard(int(layer))

    def get_heaters(self, layer: int) -> np.ndarray:
        layer = self._check_index(layer, "layer", "heaters")
        if not 0 <= layer < self.n_layers:
            raise self._refuse(f"layer {layer} outside 0..{self.n_layers - 1}", "heaters", layer)
        reply = self.exchange(GET_HEATERS, struct.pack(">H", layer))
        if len(reply) < 4 or len(reply) != 4 + 4 * struct.unpack(">I", reply[:4])[0]:
            raise ProtocolError("GET_HEATERS reply length", instrument=self.name, command="GET_HEATERS",
                                reply=reply[:64])
        return np.frombuffer(reply[4:], dtype="<f4").astype(np.float64)

    def set_light(self, on: bool, power_mw: float = 1.0) -> None:
        """Light on (``True``) or off (``False``) at ``power_mw`` in [0, 100] mW.

        ``on`` must be a real bool: ``"off"``, ``0`` or ``None`` are refused rather than read by
        their truthiness (``"off"`` is a true value in Python).
        """
        if not isinstance(on, (bool, np.bool_)):
            raise self._refuse(f"on must be True or False, not {on!r}", "light", on)
        power = self._check_light_power(power_mw)
        payload = struct.pack(">Bf", 1 if on else 0, power)
        self.check_request(LIGHT, payload)
        self.exchange(LIGHT, payload)
        self.unset.discard("light")

    # -- batches -------------------------------------------------------------------------------
    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Detected output intensities (B, N) for input amplitudes (B, N), in chunks of max_batch.

        Every amplitude must be a finite number (real or complex; not a bool or a string) and
        each sample's ``sum |a|^2`` within :attr:`input_power_limit`; ``internal`` a real bool.
        The whole batch is checked before the first frame goes out.
        """
        if not isinstance(internal, (bool, np.bool_)):
            raise self._refuse(f"internal must be True or False, not {internal!r}", "inputs", internal)
        raw = np.asarray(inputs)
        if raw.dtype.kind not in "iufc":
            raise self._refuse(f"inputs of dtype {raw.dtype}: expected numbers", "inputs")
        if raw.ndim != 2 or raw.shape[1] != self.n_ports:
            raise self._refuse(f"inputs of shape {raw.shape}: expected (batch, {self.n_ports})", "inputs")
        # Checked at full precision first: 1e39 is finite in float64 but inf once made complex64.
        self._check_inputs(raw.astype(np.complex128))
        x = np.ascontiguousarray(raw, dtype="<c8")
        self._check_inputs(x)
        max_batch = int(self.info.get("max_batch", 1024))
        outs: list[np.ndarray] = []
        states: list[list[np.ndarray]] = []
        for start in range(0, len(x), max_batch):
            chunk = x[start:start + max_batch]
            flags = 1 if internal else 0
            # x was checked whole above, as complex64: these are the bytes that were checked.
            reply = self.exchange(RUN, struct.pack(">BIH", flags, len(chunk), self.n_ports) + chunk.tobytes())
            if len(reply) < 7:
                raise ProtocolError("RUN reply shorter than its header", instrument=self.name, command="RUN",
                                    reply=reply)
            batch, n, n_states = struct.unpack(">IHB", reply[:7])
            expected = (1 + n_states) * batch * n * 4
            if batch != len(chunk) or n != self.n_ports or len(reply) - 7 != expected:
                raise ProtocolError("RUN reply shape does not match the request", instrument=self.name,
                                    command="RUN", reply=reply[:64])
            data = np.frombuffer(reply[7:], dtype="<f4").reshape(1 + n_states, batch, n)
            outs.append(data[0])
            states.append(list(data[1:]))
        self.samples_run += len(x)
        out = np.concatenate(outs) if outs else np.zeros((0, self.n_ports), np.float32)
        layer_states = [np.concatenate([s[k] for s in states]) for k in range(len(states[0]))] if states and states[0] else []
        return out, layer_states


# -- what the chip is ---------------------------------------------------------------------------
#: Fields of :meth:`PhotonicProcessor.describe` a station file may state in ``expect``.
EXPECTABLE: dict[str, str] = {
    "mesh": "a mesh type such as clements or reck",
    "n_ports": "a positive integer", "n_layers": "a positive integer",
    "heaters_per_layer": "a positive integer", "measures_internal": "true or false",
    "activation": "a kind (electro_optic) or {kind: ..., parameter: number, ...}",
    "detectors": "a kind (photodiode) or {kind: ..., parameter: number, ...}",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _component_problem(value: Any, partial: bool = False) -> str:
    """Why ``value`` is not a component description ({kind: str, name: number, ...}); '' if it
    is. ``partial``: the kind may be left out (an ``expect`` that states parameters only)."""
    if not isinstance(value, Mapping):
        return "an object with a kind"
    if (not partial or "kind" in value) and (not isinstance(value.get("kind"), str) or not value["kind"]):
        return "an object with a kind (a string)"
    bad = [k for k, v in value.items() if k != "kind" and not _is_number(v)]
    if bad:
        return f"an object of finite numbers besides its kind ({bad[0]} is not)"
    return ""


def _check_expect(expect: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """The ``expect`` option, checked when the station file is read (nothing is sent)."""
    if expect is None:
        return {}
    if not isinstance(expect, Mapping):
        raise ConfigError(f"{name}: expect must be a mapping of fields ({', '.join(EXPECTABLE)}), not {expect!r}")
    out: dict[str, Any] = {}
    for key, value in expect.items():
        if key not in EXPECTABLE:
            raise ConfigError(f"{name}: expect: unknown field {key!r} (known: {', '.join(EXPECTABLE)})")
        if key in ("activation", "detectors") and isinstance(value, str):
            value = {"kind": value}
        ok = {"mesh": isinstance(value, str) and bool(value),
              "measures_internal": isinstance(value, bool),
              "activation": not _component_problem(value, partial=True),
              "detectors": not _component_problem(value, partial=True)}.get(
            key, type(value) is int and value >= 1)
        if not ok:
            raise ConfigError(f"{name}: expect: {key} {value!r} is not {EXPECTABLE[key]}")
        out[key] = dict(value) if isinstance(value, Mapping) else value
    return out


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if _is_number(want) and _is_number(got) and not (isinstance(want, int) and isinstance(got, int)):
        # Parameters written in a station file are rounded (0.157 for 0.05 pi): agree to 1e-3.
        return math.isclose(want, got, rel_tol=1e-3, abs_tol=1e-12)
    return bool(want == got)


def _component_text(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    params = ", ".join(f"{k}={_show(v)}" for k, v in value.items() if k != "kind")
    return f"{value.get('kind')}({params})"


def _show(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
