"""Property-based fuzzing of every reply parser and of the frame decoder (issue 9).

The rule: a garbled, truncated or unexpected reply raises the driver's own error
(:class:`~hilt.errors.ProtocolError`, or :class:`~hilt.errors.InstrumentError` when the reply is
the instrument reporting an error), never a bare ValueError/IndexError/KeyError/struct.error/...,
and never reads silently as a wrong-typed or out-of-shape value. For the frame codec: any bytes
either decode to frames that re-encode to the same bytes, or raise FrameError.

Replies travel the lab's code path: every driver is connected over a real TCP loopback socket to
:class:`ReplyPeer`, a scripted instrument that answers each command it receives with the next
reply queued by the test. So ``BoundParameter.get`` and the drivers' own reply handling run on
the transport's decoded text exactly as they would on a bench.

The fast set (``make test``) runs a fixed, derandomised budget per test; the ``slow`` variants
(``make faults``) run many more examples.
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hilt.drivers.hilt_camera import GrabTimeout
from hilt.errors import InstrumentError, ProtocolError
from hilt.framing import (
    CRC_SIZE,
    HEADER_SIZE,
    MAX_PAYLOAD,
    Frame,
    FrameError,
    check_frame,
    crc16,
    error_payload,
    parse_error,
    parse_header,
    split_frames,
)
from hilt.instrument import Instrument
from hilt.parameters import BoundParameter
from hilt.registry import driver_names, load_driver
from hilt.validators import Bool, Enum

# -- budgets ---------------------------------------------------------------------------------------
_COMMON: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                              HealthCheck.filter_too_much, HealthCheck.data_too_large],
}
FAST = settings(max_examples=200, **_COMMON)
#: per-call tests over the loopback (~40 of them, ~70 parameters twice): a smaller fast budget each
FAST_CALL = settings(max_examples=80, **_COMMON)
FAST_PARAM = settings(max_examples=25, **_COMMON)
SLOW = settings(max_examples=3000, **_COMMON)
BUDGETS = [pytest.param(FAST, id="fast"), pytest.param(SLOW, id="slow", marks=pytest.mark.slow)]
PARAM_BUDGETS = [pytest.param(FAST_PARAM, id="fast"), pytest.param(SLOW, id="slow", marks=pytest.mark.slow)]
CALL_BUDGETS = [pytest.param(FAST_CALL, id="fast"), pytest.param(SLOW, id="slow", marks=pytest.mark.slow)]


def fuzz(budget: settings, strategy: st.SearchStrategy[Any], check: Callable[[Any], None],
         examples: tuple[Any, ...] = ()) -> None:
    """Run ``check`` on ``budget`` examples of ``strategy`` (plus the fixed ``examples``)."""

    def prop(value: Any) -> None:
        check(value)

    for ex in examples:
        prop = example(ex)(prop)
    budget(given(strategy)(prop))()


# -- replies ------------------------------------------------------------------------------------------
#: Pieces a garbled reply is made of: numbers at the edge of parsing, units, separators, error lines.
TOKENS = [
    "0", "1", "2", "-1", "+1", "7", "27", "28", "99", "1.5", "-0.25", "+1.0000", "1e3", "1E-9", "1e999",
    "-1e999", "1e-999", "nan", "NaN", "inf", "-inf", "Infinity", "1_0", "0x1F", "1.5.5", "+-1", ".", "e", "-",
    "#t", "#f", "ON", "OFF", "TRUE", "V", "mA", " V", " mA", "W", "NM", ":", " : ", ",", ";", " ", "\t", '"',
    "E10:0", "E01:03", "Error: -10 no", "error", "Range : ", "AutoScale : ", "Zero : ", "PWC: ",
    "Current Value : ", "Invalid Command", "1TP", "2TP", "1VA", "1AC", "1TS", "2TS", "1TE", "2TE", "@", "A",
    "0000", "0033", "28", "32", "0A", "3C", "1VE", "Q8iv-01F3", "DeCoF Command Line", "0,", '0,"No error"',
    '-113,"Undefined header"', "\x00", "\xff", "é", "µ",
]
_ASCII = st.characters(codec="ascii", exclude_characters="\r\n")


def texts(max_tokens: int = 6) -> st.SearchStrategy[str]:
    """Text replies without a line end: token soup, plain ASCII noise, numbers in every spelling."""
    token = st.sampled_from(TOKENS) | st.text(_ASCII, max_size=3)
    return st.one_of(
        st.lists(token, max_size=max_tokens).map("".join),
        st.text(_ASCII, max_size=40),
        st.floats().map(repr),
        st.floats().map(lambda f: f"{f:+.8E}"),
        st.integers(-(10**30), 10**30).map(str),
    )


def replies(max_tokens: int = 6) -> st.SearchStrategy[bytes]:
    """Reply bodies as bytes (no line end): mostly text, some arbitrary bytes."""
    return st.one_of(
        texts(max_tokens).map(lambda s: s.encode("utf-8")),
        st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    )


# -- the scripted loopback instrument -----------------------------------------------------------------
class ReplyPeer:
    """A TCP loopback instrument that answers every command with the next queued reply.

    Commands are cut from the byte stream by ``split`` (by default at the driver's write
    terminator); a command that finds the queue empty gets no answer (a silent set).
    """

    def __init__(self, split: Callable[[bytearray], list[bytes]]) -> None:
        self.split = split
        self.replies: collections.deque[Any] = collections.deque()
        self.commands: list[bytes] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True, name="reply-peer")
        self._thread.start()

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def answer(self, *replies: Any) -> None:
        """Queue replies: bytes, None (no answer) or a callable ``command -> bytes``."""
        with self._lock:
            self.replies.clear()
            self.replies.extend(replies)
            self.commands.clear()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buffer = bytearray()
                while True:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    buffer += chunk
                    for command in self.split(buffer):
                        with self._lock:
                            self.commands.append(command)
                            reply = self.replies.popleft() if self.replies else None
                        if callable(reply):
                            reply = reply(command)
                        if reply:
                            conn.sendall(reply)

    def close(self) -> None:
        self._listener.close()


def split_at(terminator: bytes) -> Callable[[bytearray], list[bytes]]:
    def split(buffer: bytearray) -> list[bytes]:
        out = []
        while (i := buffer.find(terminator)) >= 0:
            out.append(bytes(buffer[:i]))
            del buffer[: i + len(terminator)]
        return out

    return split


_GENTEC_COMMAND = re.compile(rb"\*[A-Z]{3}\d*")


def split_gentec(buffer: bytearray) -> list[bytes]:
    """The MAESTRO's commands have no terminator: ``*`` + mnemonic + fixed-width digits."""
    out = []
    while (m := _GENTEC_COMMAND.match(buffer)) and (m.end() < len(buffer) or _complete_gentec(m.group(0))):
        out.append(m.group(0))
        del buffer[: m.end()]
    return out


def _complete_gentec(command: bytes) -> bool:
    widths = {b"PWC": 5, b"SCS": 2, b"SAS": 1}
    return len(command) - 4 == widths.get(command[1:4], 0)


def split_frames_peer(buffer: bytearray) -> list[bytes]:
    return [f.encode() for f in split_frames(buffer)]


#: Drivers speaking hilt's binary frame (hilt.framing).
FRAMED = ("photonic_processor", "hilt_slm", "hilt_camera", "hilt_neuromorphic")


def _split_for(cls: type) -> Callable[[bytearray], list[bytes]]:
    if cls.model in FRAMED:
        return split_frames_peer
    term = cls.transport_settings.get("write_termination", "\n")
    return split_at(term.encode()) if term else split_gentec


class Bench:
    """One connected instance of every registered driver, each on its own ReplyPeer."""

    def __init__(self) -> None:
        self.peers: dict[str, ReplyPeer] = {}
        self.drivers: dict[str, Instrument] = {}
        for name in driver_names():
            cls = load_driver(name)
            if cls.virtual:
                continue
            peer = ReplyPeer(_split_for(cls))
            inst = cls(peer.address, name=name, timeout=1.0)
            # One try per query: a refused reply surfaces at once instead of being asked again
            # (the retry and resynchronisation machinery has its own fault tests).
            inst.query_retries = 0
            inst.transport.open()  # the link only: on_connect's conversation is fuzzed on its own
            self.peers[name], self.drivers[name] = peer, inst
        # Virtual instruments run over a real driver: the multiplier over a PSG.
        source = self.drivers["keysight_e8257d"]
        self.drivers["vdi_multiplier"] = load_driver("vdi_multiplier")(name="vdi_multiplier", source=source)
        self.peers["vdi_multiplier"] = self.peers["keysight_e8257d"]

    def close(self) -> None:
        for inst in self.drivers.values():
            inst.close()
        for peer in self.peers.values():
            peer.close()

    def ask(self, name: str, call: Callable[[Instrument], Any], *replies: bytes | None) -> Any:
        """Queue ``replies`` (terminated with the driver's read terminator) and run ``call``."""
        inst = self.drivers[name]
        term = (inst.transport.read_termination or "").encode()
        return self.raw(name, call, *[None if r is None else r + term for r in replies])

    def raw(self, name: str, call: Callable[[Instrument], Any], *replies: Any) -> Any:
        """Queue ``replies`` as they are (no terminator added) and run ``call``.

        After a refused reply the link is reopened, so the next example starts in step without
        the resynchronisation conversation (which would read this peer's queued replies)."""
        inst = self.drivers[name]
        self.peers[name].answer(*replies)
        try:
            return call(inst)
        except BaseException:
            t = inst.transport if not inst.virtual else inst.source.transport  # type: ignore[attr-defined]
            t.close()
            t.open()
            raise


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    b = Bench()
    yield b
    b.close()


def refused(call: Callable[[], Any]) -> Any:
    """``call()``'s value, or None if it raised the driver's own error; anything else fails."""
    try:
        return call()
    except (ProtocolError, InstrumentError):
        return None


# == 1. every gettable parameter of every driver =======================================================
def _owners(inst: Instrument) -> list[tuple[str, Any]]:
    return [("", inst)] + ([(inst.channels[0].name + ".", inst.channels[0])] if inst.channels else [])


#: Readouts that ask two different queries (both axes of a stage, the output state then a
#: reading) or read one line per channel: the same reply to each cannot be well formed. Each is
#: fuzzed as a whole call below (HAND_WRITTEN, QONTROL).
SEVERAL_REPLIES = {("newport_smc100", "position"), ("newport_smc100", "is_moving"), ("keithley_2400", "currents"),
                   ("qontrol_q8iv", "voltages"), ("qontrol_q8iv", "currents"), ("qontrol_q8b", "voltages"),
                   ("qontrol_q8b", "currents")}


def _parameter_ids() -> list[tuple[str, str]]:
    """(driver, [channel.]parameter) for every gettable parameter, from the registry."""
    out = []
    for name in driver_names():
        cls = load_driver(name)
        if cls.virtual:
            continue
        if name in FRAMED:
            continue  # a framed driver's readouts are frames: their payloads are fuzzed below
        inst = cls("tcp://127.0.0.1:9", name=name)  # not connected: only the declarations are read
        for prefix, owner in _owners(inst):
            out += [(name, prefix + p) for p, bp in owner.parameters.items()
                    if bp.gettable and (name, prefix + p) not in SEVERAL_REPLIES]
    out += [("vdi_multiplier", p) for p in ("frequency", "input_power", "output")]
    return out


PARAMETERS = _parameter_ids()


def _param(inst: Instrument, path: str) -> BoundParameter:
    owner: Any = inst
    *chan, pname = path.split(".")
    if chan:
        owner = next(ch for ch in inst.channels if ch.name == chan[0])
    return owner.parameters[pname]


#: Well-formed replies, tried in order until one parses: the value's type is what every other reply
#: that parses must give too. A new driver whose parameters read none of these adds its own here.
GOOD_REPLIES = [b"1", b"+1.55000000E-006", b"1.5", b"#t", b"+4.5000 V", b"+4.5000 mA", b"Range : 1",
                b"1TP1.5", b"2TP1.5", b"1VA1.5", b"1AC1.5", b"CLOSE 3;XDRS 0;SRE 0",
                b"1,1,1,1", b";".join([b"1"] * 24)]  # every port of an N7744A, every channel of a QDAC-II


def _reference(bench: Bench, name: str, path: str) -> Any:
    p = _param(bench.drivers[name], path)
    for good in GOOD_REPLIES:
        value = refused(lambda g=good: bench.ask(name, lambda _: p.get(), *[g] * 4))
        if value is not None:
            return value
    raise AssertionError(f"{name}.{path}: no reply in GOOD_REPLIES parses; add a well-formed one")


def check_read(value: Any, reference: Any, p: BoundParameter) -> None:
    """What a parsed reply must be: the parameter's type, and one of its values if it has a set."""
    assert type(value) is type(reference), f"{p.full_name}: read {value!r}, a {type(value).__name__}"
    if isinstance(p.vals, (Enum, Bool)) or hasattr(p.vals, "table"):
        assert p.vals.validate(value) == value, f"{p.full_name}: read {value!r}, not one of its settings"


@pytest.mark.parametrize("budget", PARAM_BUDGETS)
@pytest.mark.parametrize(("name", "path"), PARAMETERS, ids=[f"{n}.{p}" for n, p in PARAMETERS])
def test_every_parameter_refuses_garbled_replies(bench: Bench, budget: settings, name: str, path: str) -> None:
    """``get()`` on any reply: a value of the parameter's type, or ProtocolError/InstrumentError."""
    p = _param(bench.drivers[name], path)
    reference = _reference(bench, name, path)

    def check(reply: bytes) -> None:
        value = refused(lambda: bench.ask(name, lambda _: p.get(), *[reply] * 4))
        if value is not None:
            check_read(value, reference, p)

    fuzz(budget, replies(), check)


@pytest.mark.parametrize("budget", PARAM_BUDGETS)
@pytest.mark.parametrize(("name", "path"), PARAMETERS, ids=[f"{n}.{p}" for n, p in PARAMETERS])
def test_no_garbled_reply_reads_as_a_number(bench: Bench, budget: settings, name: str, path: str) -> None:
    """A numeric read is finite, and a reply with an underscore (``1_5``) is never read as 15."""
    p = _param(bench.drivers[name], path)
    if not isinstance(_reference(bench, name, path), (int, float)) or isinstance(_reference(bench, name, path), bool):
        return

    def check(reply: bytes) -> None:
        value = refused(lambda: bench.ask(name, lambda _: p.get(), *[reply] * 4))
        if value is not None:
            assert math.isfinite(value), f"{p.full_name}: {reply!r} read as {value!r}"
            assert b"_" not in reply, f"{p.full_name}: {reply!r} read as {value!r}"

    # The named examples are the point here; the random ones are a light top-up in the fast set.
    fuzz(settings(budget, max_examples=min(budget.max_examples, 10)) if budget is FAST_PARAM else budget,
         replies(), check, examples=(b"nan", b"inf", b"1e999", b"1_5", b"Range : 1_5", b"1TPnan", b"2TP1_5"))


# -- regressions found by the fuzzing above (each failed before its fix) -------------------------------
@pytest.mark.parametrize(("name", "path", "reply"), [
    ("srs_sr830", "filter_slope", b"-1"),  # was FILTER_SLOPES[-1] = 24 dB/oct, silently
    ("srs_sr830", "sensitivity", b"-1"),  # was the last table entry (1 V), silently
    ("srs_sr830", "sensitivity", b"2.7"),  # was index 2, silently
    ("srs_sr860", "time_constant", b"inf"),  # was OverflowError
    ("srs_sr860", "filter_slope", b"inf"),  # was OverflowError
    ("srs_sr830", "frequency", b"nan"),  # was nan Hz
    ("newport_esp301", "velocity", b""),  # was ValueError
    ("newport_esp301", "acceleration", b"abc"),  # was ValueError
    ("newport_esp301", "x", b"1_5"),  # was 15 mm
    ("newport_smc100", "x", b"1TPinf"),  # was inf mm
    ("gentec_maestro", "wavelength", b"PWC: 1e999"),  # was OverflowError
    ("gentec_maestro", "scale_index", b"Range : 1O"),  # was 1 (the letter O dropped)
    ("gentec_maestro", "scale_index", b"Range : 20.5"),  # was 20
    ("gentec_maestro", "autoscale", b"AutoScale : 2"),  # was True
    ("toptica_dlcpro", "frequency", b"0.0"),  # was ZeroDivisionError
    ("toptica_dlcpro", "bias", b"nan"),  # was nan V
    ("keysight_n7744a", "port1.power", b"1_5"),  # was 15 W
])
def test_regressions_garbled_parameter_replies(bench: Bench, name: str, path: str, reply: bytes) -> None:
    p = _param(bench.drivers[name], path)
    with pytest.raises(ProtocolError) as info:
        bench.ask(name, lambda _: p.get(), *[reply] * 4)
    assert info.value.reply is not None and info.value.command


# == 2. the drivers' hand-written reply parsers ========================================================
def run_fuzz(bench: Bench, budget: settings, name: str, call: Callable[[Any], Any], check: Callable[[Any], None],
             strategy: st.SearchStrategy[Any] | None = None, copies: int | Callable[[bytes], list[Any]] = 4,
             examples: tuple[bytes, ...] = ()) -> None:
    """Fuzz one driver call with the same reply to each of its (up to ``copies``) queries, or
    with the replies ``copies(reply)`` lists (None for a command that gets no answer)."""

    def one(reply: bytes) -> None:
        script = copies(reply) if callable(copies) else [reply] * copies
        value = refused(lambda: bench.ask(name, call, *script))
        if value is not None:
            check(value)
            if isinstance(value, (float, tuple, np.ndarray)):
                assert b"_" not in reply, f"{reply!r} was read as {value!r}"

    fuzz(budget, strategy or replies(), one, examples=examples)


def _finite_float(v: Any) -> None:
    assert type(v) is float and math.isfinite(v), v


def _identity(v: Any) -> None:
    assert isinstance(v, dict) and {"vendor", "model", "serial", "firmware"} <= set(v), v
    assert all(isinstance(x, str) for x in v.values()), v


def _none(v: Any) -> None:
    assert v is None, v


HAND_WRITTEN: dict[str, tuple[str, Callable[[Any], Any], Callable[[Any], None], Any]] = {
    # name: (driver, call, check of a value it returns, how many replies it may ask for)
    "scpi.check_errors": ("keysight_n7744a", lambda i: i.check_errors("X"), lambda v: None, 31),
    "scpi.identify": ("keysight_n7744a", lambda i: i.identify(), _identity, 1),
    "n7744a.read_all": ("keysight_n7744a", lambda i: i.read_all(),
                        lambda v: (isinstance(v, np.ndarray) and v.shape == (4,) and v.dtype == float
                                   and bool(np.isfinite(v).all())) or pytest.fail(repr(v)), 1),
    "n7744a.fetch_all": ("keysight_n7744a", lambda i: i.fetch_all(), lambda v: v.shape == (4,) or pytest.fail(repr(v)), 1),
    "sr830.snap": ("srs_sr830", lambda i: i.snap("x", "y", "frequency"),
                   lambda v: (len(v) == 3 and all(type(x) is float and math.isfinite(x) for x in v)) or pytest.fail(repr(v)), 1),
    "sr830.x": ("srs_sr830", lambda i: i.x(), _finite_float, 1),
    "sr830.status": ("srs_sr830", lambda i: i.status(), lambda v: isinstance(v, set) or pytest.fail(repr(v)), 1),
    "sr830.overloaded": ("srs_sr830", lambda i: i.overloaded(), lambda v: type(v) is bool or pytest.fail(repr(v)), 1),
    "sr830.hardware_errors": ("srs_sr830", lambda i: i.hardware_errors(), _none, 1),
    "sr830.check_errors": ("srs_sr830", lambda i: i.check_errors("FREQ 1"), _none, 1),
    "sr860.snap": ("srs_sr860", lambda i: i.snap("x", "y"),
                   lambda v: (len(v) == 2 and all(type(x) is float for x in v)) or pytest.fail(repr(v)), 1),
    "sr860.theta": ("srs_sr860", lambda i: i.theta(), _finite_float, 1),
    "esp301.position": ("newport_esp301", lambda i: i.position(),
                        lambda v: all(type(x) is float and math.isfinite(x) for x in v) or pytest.fail(repr(v)), 2),
    "esp301.is_moving": ("newport_esp301", lambda i: i.is_moving(), lambda v: type(v) is bool or pytest.fail(repr(v)), 2),
    "esp301.check_errors": ("newport_esp301", lambda i: i.check_errors("1PA1"), _none, 1),
    "esp301.identify": ("newport_esp301", lambda i: i.identify(), _identity, 1),
    "smc100.status": ("newport_smc100", lambda i: i.status(1),
                      lambda v: (type(v[0]) is int and 0 <= v[0] <= 0xFFFF and len(v[1]) == 2) or pytest.fail(repr(v)), 1),
    "smc100.is_moving": ("newport_smc100", lambda i: i.is_moving(), lambda v: type(v) is bool or pytest.fail(repr(v)), 2),
    "smc100.check_errors": ("newport_smc100", lambda i: i.check_errors("1PA1"), _none, 1),
    "smc100.identify": ("newport_smc100", lambda i: i.identify(), _identity, 3),
    "smc100.position": ("newport_smc100", lambda i: i.position(),
                        lambda v: all(type(x) is float and math.isfinite(x) for x in v) or pytest.fail(repr(v)), 2),
    "toptica.param_set": ("toptica_dlcpro", lambda i: i.param_set("laser1:dl:cc:enabled", True), _none, 1),
    "toptica.read_parsed": ("toptica_dlcpro", lambda i: i.photocurrent.get(), _finite_float, 1),
    "toptica.identify": ("toptica_dlcpro", lambda i: i.identify(), _identity, 3),
    "toptica.exec": ("toptica_dlcpro", lambda i: i.exec("laser1:ctl:scan:start"),
                     lambda v: isinstance(v, str) or pytest.fail(repr(v)), 1),
    "gentec.power": ("gentec_maestro", lambda i: i.power(), _finite_float, 1),
    "gentec.identify": ("gentec_maestro", lambda i: i.identify(), _identity, 1),
    # *SOU is silent; an error line in place of the readback is followed by the readback itself.
    "gentec.zero": ("gentec_maestro", lambda i: i.zero(), _none,
                    lambda r: [None, r + (b"\r\nZero : 1" if r.strip().startswith(b"Invalid") else b"")]),
    # The output state ("1": on), then the :READ? being fuzzed.
    "keithley.currents": ("keithley_2400", lambda i: i.currents.get(),
                          lambda v: (v.shape == (1,) and bool(np.isfinite(v).all())) or pytest.fail(repr(v)),
                          lambda r: [b"1", r]),
    "keithley.measure": ("keithley_2400", lambda i: i.measure(),
                         lambda v: all(type(x) is float and math.isfinite(x) for x in v) or pytest.fail(repr(v)), 1),
    "qdac2.get_voltages": ("qdevil_qdac2", lambda i: i.get_voltages(),
                           lambda v: (v.shape == (24,) and bool(np.isfinite(v).all())) or pytest.fail(repr(v)), 1),
}
@pytest.mark.parametrize("budget", CALL_BUDGETS)
@pytest.mark.parametrize("case", list(HAND_WRITTEN))
def test_hand_written_parsers_refuse_garbled_replies(bench: Bench, budget: settings, case: str) -> None:
    name, call, check, copies = HAND_WRITTEN[case]
    run_fuzz(bench, budget, name, call, check, copies=copies,
             examples=(b"", b"nan", b"inf", b"1_5", b"1e999", b"-1", b"0,0,nan,0", b"1,2,,3", b"1TSinf",
                       b"1TS0000zz", b"Error: x", b"Error: 99999999999999999999 x", b"1_5,1_5", b"nan,1",
                       b";".join([b"1_5"] * 24), b";".join([b"nan"] * 24), b"1_5,1_5,1_5,1_5"))


def test_gentec_set_with_error_line_reads_the_readback_too(bench: Bench) -> None:
    """A silent set refused with an error line: the readback's reply follows and is consumed."""

    def check(reply: bytes) -> None:
        # What a MAESTRO sends for the readback: the set's error line (if any), then the value.
        lines = reply + b"\r\n" + (b"PWC: 1064\r\n" if reply.strip().startswith(b"Invalid") else b"")
        value = refused(lambda: bench.raw("gentec_maestro", lambda i: i.wavelength.set(1064), None, lines))
        assert value is None

    fuzz(FAST_CALL, replies(), check, examples=(b"Invalid Parameter", b"PWC: 1064", b"PWC: 1064.0", b"PWC: 99999"))


def test_toptica_banner_is_checked() -> None:
    """The DeCoF banner on connect: anything without it refuses the connection (ProtocolError)."""
    from hilt.drivers.toptica_dlcpro import TopticaDLCpro
    from hilt.testing import expected_protocol

    def check(banner: bytes) -> None:
        greeting = banner.replace(b">", b"") + b"\r\n> "
        try:
            with expected_protocol(TopticaDLCpro, [], greeting=greeting, kind="tcp", timeout=0.5) as dlc:
                assert b"decof command line" in banner.lower(), f"connected on banner {banner!r}"
                assert dlc.connected
        except ProtocolError:
            assert b"decof command line" not in banner.lower()

    fuzz(settings(FAST, max_examples=25), replies(), check,
         examples=(b"DeCoF Command Line", b"", b"\xff\xfe", b"decof command line v2"))


# -- Qontrol (drivers/qontrol.py) ------------------------------------------------------------------------
QONTROL: dict[str, tuple[Callable[[Any], Any], Callable[[Any], None], int]] = {
    # case: (call, check of a returned value, lines per reply)
    "identify": (lambda q: q.identify(), _identity, 1),
    "chain": (lambda q: q.chain(), lambda v: len(v) == 1 or pytest.fail(repr(v)), 1),
    "get_voltages": (lambda q: q.get_voltages(),
                     lambda v: (v.shape == (8,) and bool(np.isfinite(v).all())) or pytest.fail(repr(v)), 8),
    "get_currents": (lambda q: q.get_currents(),
                     lambda v: (v.shape == (8,) and bool(np.isfinite(v).all())) or pytest.fail(repr(v)), 8),
    "get_vip": (lambda q: q.get_vip(), lambda v: (v[0].shape == (8,)) or pytest.fail(repr(v)), 8),
    "full_scale": (lambda q: q.full_scale(),
                   lambda v: all(type(x) is float and math.isfinite(x) for x in v) or pytest.fail(repr(v)), 1),
    "set": (lambda q: q.channels[0].voltage.set(1.0), _none, 1),
}


@pytest.mark.parametrize("budget", CALL_BUDGETS)
@pytest.mark.parametrize("case", list(QONTROL))
def test_qontrol_replies(bench: Bench, budget: settings, case: str) -> None:
    call, check, lines = QONTROL[case]

    def one(reply: bytes) -> None:
        # A multi-line reply: the same garbled line ``lines`` times, each terminated.
        value = refused(lambda: bench.raw("qontrol_q8iv", call, *[(reply + b"\n") * lines] * 2))
        if value is not None:
            check(value)

    fuzz(budget, replies(), one, examples=(b"+1.0000 V", b"E10:0", b"Q8iv-01F3: 0", b"0,0: +1.0 V, +1.0 mA"))


# -- the photonic processor's payloads (drivers/photonic_processor.py) --------------------------------------
def _reply_frame(rtype: int, payload: bytes) -> Callable[[bytes], bytes]:
    """A reply to whatever request arrives: same sequence number, the given type and payload."""

    def reply(request: bytes) -> bytes:
        _, seq, _ = parse_header(request[:HEADER_SIZE])
        return Frame(rtype, seq, payload).encode()

    return reply


_INFO = {"vendor": "hilt", "model": "PNP", "serial": "1", "firmware": "1.0", "n_ports": 4, "n_layers": 2,
         "heaters_per_layer": 16, "measures_internal": True, "max_batch": 8}


@pytest.fixture
def chip(bench: Bench) -> Iterator[Any]:
    inst = bench.drivers["photonic_processor"]
    bench.raw("photonic_processor", lambda i: i.on_connect(), _reply_frame(0x81, json.dumps(_INFO).encode()))
    yield inst
    bench.raw("photonic_processor", lambda i: i.on_connect(), _reply_frame(0x81, json.dumps(_INFO).encode()))


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_photonic_get_heaters_payloads(bench: Bench, chip: Any, budget: settings) -> None:
    def one(payload: bytes) -> None:
        v = refused(lambda: bench.raw("photonic_processor", lambda c: c.get_heaters(0), _reply_frame(0x91, payload)))
        if v is not None:
            assert v.ndim == 1 and v.size == struct.unpack(">I", payload[:4])[0]

    fuzz(budget, st.binary(max_size=40), one, examples=(b"", b"\x00\x00", struct.pack(">I", 1) + b"\x00" * 4))


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_photonic_run_payloads(bench: Bench, chip: Any, budget: settings) -> None:
    x = np.ones((2, 4), dtype=complex)

    def one(payload: bytes) -> None:
        v = refused(lambda: bench.raw("photonic_processor", lambda c: c.run(x), _reply_frame(0xA0, payload)))
        if v is not None:
            assert v[0].shape == (2, 4)

    fuzz(budget, st.binary(max_size=60), one,
         examples=(b"", b"\x00" * 6, struct.pack(">IHB", 2, 4, 0) + b"\x00" * 32))


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_photonic_error_frames(bench: Bench, chip: Any, budget: settings) -> None:
    def one(payload: bytes) -> None:
        with pytest.raises((ProtocolError, InstrumentError)):
            bench.raw("photonic_processor", lambda c: c.safe_state(), _reply_frame(0xFF, payload))

    fuzz(budget, st.binary(max_size=30), one, examples=(b"", b"\x01", error_payload(4, "out of range")))


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=6)


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_photonic_info_payloads(bench: Bench, chip: Any, budget: settings) -> None:
    info = st.fixed_dictionaries({k: _JSON for k in ("n_ports", "n_layers", "heaters_per_layer")}) | _JSON

    def one(value: Any) -> None:
        payload = json.dumps(value).encode()
        ok = refused(lambda: bench.raw("photonic_processor", lambda c: c.on_connect() or True,
                                       _reply_frame(0x81, payload)))
        if ok:
            for k in ("n_ports", "n_layers", "heaters_per_layer"):
                got = value[k]
                assert type(got) is int and got > 0, f"INFO {k}={got!r} accepted"

    fuzz(budget, info, one, examples=({"n_ports": -3, "n_layers": 1, "heaters_per_layer": 1},
                                      {"n_ports": float("inf"), "n_layers": 1, "heaters_per_layer": 1},
                                      {"n_ports": 2.5, "n_layers": 1, "heaters_per_layer": 1},
                                      {"n_ports": True, "n_layers": 1, "heaters_per_layer": 1}))


# -- the neuromorphic board's payloads (drivers/hilt_neuromorphic.py) ------------------------------------
_NMB_IDENTITY = {"class": "neuromorphic", "vendor": "hilt", "model": "NMB", "serial": "1", "firmware": "1.0",
                 "protocol": "1", "max_payload": "4096", "max_model_bytes": "65536", "max_batch": "16",
                 "neurons": "64", "fan_in": "16", "weight_bits": "8", "threshold_bits": "16"}


def _identity_text(fields: dict[str, str]) -> bytes:
    return "".join(f"{k}={v}\n" for k, v in fields.items()).encode()


@pytest.fixture
def nmb(bench: Bench) -> Iterator[Any]:
    from hilt.snn_model import SnnLayer, SnnNetwork

    inst = bench.drivers["hilt_neuromorphic"]
    bench.raw("hilt_neuromorphic", lambda i: i.on_connect(), _reply_frame(0x81, _identity_text(_NMB_IDENTITY)))
    inst.network = SnnNetwork(2, [SnnLayer(np.array([[1, -2], [3, 4]]), np.array([5, 6]))])  # as if loaded
    yield inst
    inst.network = None


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_neuromorphic_identify_payloads(bench: Bench, nmb: Any, budget: settings) -> None:
    value = st.text(alphabet="0123456789-.e x", max_size=6)
    fields = st.fixed_dictionaries({k: value for k in ("neurons", "fan_in", "weight_bits", "max_payload")})

    def one(over: dict[str, str]) -> None:
        text = _identity_text(_NMB_IDENTITY | over)
        ok = refused(lambda: bench.raw("hilt_neuromorphic", lambda c: c.on_connect() or True, _reply_frame(0x81, text)))
        if ok:
            assert nmb.limits.neurons == int(over["neurons"]) >= 1 and nmb.limits.fan_in == int(over["fan_in"]) >= 1
            assert 2 <= nmb.limits.weight_bits <= 16 and 4096 <= nmb.max_payload <= 1 << 24

    fuzz(budget, fields, one, examples=({"neurons": "-1", "fan_in": "1", "weight_bits": "8", "max_payload": "4096"},
                                        {"neurons": "1", "fan_in": "1", "weight_bits": "99", "max_payload": "4096"},
                                        {"neurons": "1", "fan_in": "1", "weight_bits": "8", "max_payload": "9"}))
    bench.raw("hilt_neuromorphic", lambda i: i.on_connect(), _reply_frame(0x81, _identity_text(_NMB_IDENTITY)))


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_neuromorphic_results_payloads(bench: Bench, nmb: Any, budget: settings) -> None:
    events = np.ones((3, 1, 2), np.uint8)
    run_reply = _reply_frame(0xA0, struct.pack(">II", 1, 1))

    def one(payload: bytes) -> None:
        got = refused(lambda: bench.raw("hilt_neuromorphic", lambda c: c.run(events), run_reply,
                                        _reply_frame(0xA1, payload)))
        if got is not None:
            spikes, counts = got
            assert spikes.shape == (3, 1, 2) and set(np.unique(spikes)) <= {0, 1}
            np.testing.assert_array_equal(counts, spikes.sum(0))

    fuzz(budget, st.binary(max_size=30), one,
         examples=(b"", struct.pack(">IIII", 1, 0, 1, 6) + b"\x01" * 6, struct.pack(">IIII", 1, 0, 1, 6) + b"\x02" * 6,
                   struct.pack(">IIII", 2, 0, 1, 6) + b"\x00" * 6, struct.pack(">IIII", 1, 0, 0, 6)))


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_neuromorphic_counters_payloads(bench: Bench, nmb: Any, budget: settings) -> None:
    def one(payload: bytes) -> None:
        got = refused(lambda: bench.raw("hilt_neuromorphic", lambda c: c.counters(), _reply_frame(0xB0, payload)))
        if got is not None:
            assert all(v >= 0 for v in got.values()) and set(got) <= {
                "batches", "samples", "latency_s", "spikes", "synaptic_ops", "time_steps", "spikes_last",
                "synaptic_ops_last", "time_steps_last"}

    fuzz(budget, st.binary(max_size=40), one,
         examples=(b"", b"\x00\x01", struct.pack(">HHQ", 1, 16, 5), struct.pack(">HHQHQ", 2, 16, 5, 16, 6)))


# -- the SLM and camera payloads (drivers/hilt_slm.py, drivers/hilt_camera.py) ------------------------------
@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_camera_settings_payloads(bench: Bench, budget: settings) -> None:
    def one(payload: bytes) -> None:
        v = refused(lambda: bench.raw("hilt_camera", lambda c: c.read_settings(), _reply_frame(0xA1, payload)))
        if v is not None:
            exposure, gain, _, _, w, h, b = v
            assert len(payload) == 25 and math.isfinite(exposure) and exposure > 0 and math.isfinite(gain)
            assert w >= 1 and h >= 1 and b >= 1

    fuzz(budget, st.binary(max_size=40), one,
         examples=(b"", b"\x00" * 25, struct.pack(">ddHHHHB", 1e-3, 0.0, 0, 0, 4, 4, 1),
                   struct.pack(">ddHHHHB", float("nan"), 0.0, 0, 0, 4, 4, 1)))


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_camera_grab_payloads(bench: Bench, budget: settings) -> None:
    cam = bench.drivers["hilt_camera"]
    cam.shape, cam.bit_depth = (4, 4), 12
    block = bytes.fromhex("0001 0002 02 0000000f 7801 01 0400 fbff 6400 ff0f 03a10173")
    good = b"\x00" + struct.pack(">Id", 1, 0.5) + struct.pack(">ddHHHHB", 1e-3, 0.0, 0, 0, 4, 2, 2) + block

    def grab(c: Any) -> Any:
        try:
            return c.grab(timeout=0.0)
        except GrabTimeout:  # a well-formed "not yet" (status 1 or 2): no frame, nothing wrong
            return None

    def one(payload: bytes) -> None:
        v = refused(lambda: bench.raw("hilt_camera", grab, _reply_frame(0xA3, payload)))
        if v is not None:
            assert v.image.shape == (v.roi[3] // v.binning, v.roi[2] // v.binning)
            assert int(v.image.max()) < 4096

    fuzz(budget, st.binary(max_size=80) | st.builds(lambda i, b: good[:i] + b + good[i + 1:],
                                                     st.integers(0, len(good)), st.binary(max_size=2)),
         one, examples=(b"", b"\x00", b"\x01", b"\x02", good, good[:-1]))


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_slm_status_payloads(bench: Bench, budget: settings) -> None:
    def one(payload: bytes) -> None:
        v = refused(lambda: bench.raw("hilt_slm", lambda s: s.status(), _reply_frame(0x92, payload)))
        if v is not None:
            _, settled, remaining, now = v
            assert isinstance(settled, bool) and remaining >= 0 and math.isfinite(now)

    fuzz(budget, st.binary(max_size=30), one,
         examples=(b"", struct.pack(">IBdd", 1, 1, 0.0, 1.0), struct.pack(">IBdd", 1, 2, 0.0, 1.0),
                   struct.pack(">IBdd", 1, 0, -1.0, 1.0)))


@pytest.mark.parametrize("budget", CALL_BUDGETS)
def test_slm_shown_and_lut_payloads(bench: Bench, budget: settings) -> None:
    slm = bench.drivers["hilt_slm"]
    slm.shape, slm.bit_depth = (2, 2), 2
    block = bytes.fromhex("0002 0002 01 0000000f 7801 01 0400 fbff 00010203 000e0007")
    lut = struct.pack(">I", 4) + struct.pack("<4d", 0.0, 1.0, 2.0, 3.0)

    def shown(payload: bytes) -> None:
        v = refused(lambda: bench.raw("hilt_slm", lambda s: s.shown(), _reply_frame(0x91, payload)))
        if v is not None:
            assert v.shape == (2, 2)

    def read_lut(payload: bytes) -> None:
        v = refused(lambda: bench.raw("hilt_slm", lambda s: s._read_lut(), _reply_frame(0x94, payload)))
        if v is not None:
            assert v.shape == (4,) and np.all(np.isfinite(v))

    mutated = st.builds(lambda i, b, good: good[:i] + b + good[i + 1:], st.integers(0, 40), st.binary(max_size=2),
                        st.just(block))
    fuzz(budget, st.binary(max_size=40) | mutated, shown, examples=(b"", block, block[:-1], block + b"\x00"))
    fuzz(budget, st.binary(max_size=40), read_lut,
         examples=(b"", lut, lut[:-1], struct.pack(">I", 4) + struct.pack("<4d", 0.0, float("nan"), 2.0, 3.0)))


# == 3. the frame codec ================================================================================
frames = st.builds(Frame, st.integers(0, 255), st.integers(0, 0xFFFF), st.binary(max_size=64))


def _decode_all(data: bytes) -> list[Frame]:
    buffer = bytearray(data)
    out = split_frames(buffer)
    return out


@pytest.mark.parametrize("budget", BUDGETS)
def test_frames_round_trip(budget: settings) -> None:
    """Valid frames, back to back: each decodes to itself and re-encodes to the same bytes."""

    def check(fs: list[Frame]) -> None:
        data = b"".join(f.encode() for f in fs)
        buffer = bytearray(data)
        got = split_frames(buffer)
        assert got == fs and buffer == b""
        assert b"".join(f.encode() for f in got) == data
        for f in fs:
            raw = f.encode()
            assert check_frame(raw[:HEADER_SIZE], raw[HEADER_SIZE:-CRC_SIZE], raw[-CRC_SIZE:]) == f
            assert parse_header(raw[:HEADER_SIZE]) == (f.type, f.seq, len(f.payload))

    fuzz(budget, st.lists(frames, max_size=4), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_any_bytes_decode_or_raise_frame_error(budget: settings) -> None:
    """Any bytes: frames that re-encode to the bytes they came from, or FrameError; a partial frame
    stays in the buffer; nothing else is raised."""

    def check(data: bytes) -> None:
        buffer = bytearray(data)
        try:
            got = split_frames(buffer)
        except FrameError as exc:
            got = exc.frames
            assert data.endswith(bytes(buffer)) and len(buffer) >= HEADER_SIZE
        else:
            assert len(buffer) < HEADER_SIZE or parse_header(bytes(buffer[:HEADER_SIZE]))[2] + HEADER_SIZE + CRC_SIZE > len(buffer)
        consumed = b"".join(f.encode() for f in got)
        assert data.startswith(consumed) and bytes(buffer) == data[len(consumed):]
        for n in (0, 1, 9, 10, 11, 12):
            with contextlib.suppress(FrameError):
                parse_header(data[:n])
            with contextlib.suppress(FrameError):
                check_frame(data[:HEADER_SIZE], data[HEADER_SIZE:HEADER_SIZE + n], data[-2:])
        with contextlib.suppress(FrameError):
            assert isinstance(parse_error(data), tuple)

    valid_then_noise = st.tuples(st.lists(frames, max_size=2), st.binary(max_size=30)).map(
        lambda t: b"".join(f.encode() for f in t[0]) + t[1])
    header_noise = st.binary(min_size=0, max_size=30).map(lambda b: b"\xa5\x5a\x01" + b)
    fuzz(budget, st.one_of(st.binary(max_size=64), valid_then_noise, header_noise), check,
         examples=(b"", b"\xa5\x5a\x01\x01\x00\x01\xff\xff\xff\xff", b"\xa5\x5a\x02" + b"\x00" * 9,
                   Frame(1, 1, b"ab").encode() + b"\x00" * 12))


@pytest.mark.parametrize("budget", BUDGETS)
def test_a_flipped_bit_never_decodes(budget: settings) -> None:
    """Any single-bit error in a frame: FrameError (CRC, magic, version, length), never a frame."""

    def check(args: tuple[Frame, int]) -> None:
        frame, bit = args
        raw = bytearray(frame.encode())
        bit %= len(raw) * 8
        raw[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(FrameError):
            check_frame(bytes(raw[:HEADER_SIZE]), bytes(raw[HEADER_SIZE:-CRC_SIZE]), bytes(raw[-CRC_SIZE:]))
        buffer = bytearray(raw)
        try:
            got = split_frames(buffer)
        except FrameError:
            return
        assert got == [] and buffer == raw, f"bit {bit} flipped decoded as {got}"  # a longer length: waits

    fuzz(budget, st.tuples(frames, st.integers(0, 10**6)), check)


def test_frame_decoder_regressions() -> None:
    """Each of these raised struct.error or decoded a frame that does not re-encode to its bytes."""
    raw = Frame(0x91, 3, b"abcd").encode()
    with pytest.raises(FrameError):
        parse_header(raw[:9])  # was struct.error
    with pytest.raises(FrameError):
        check_frame(raw[:HEADER_SIZE], raw[HEADER_SIZE:-CRC_SIZE], raw[-1:])  # was struct.error
    # A payload of another length than the header says, with a CRC made to match: was accepted.
    head, payload = raw[:HEADER_SIZE], b"abcde"
    forged = struct.pack(">H", crc16(head[2:] + payload))
    with pytest.raises(FrameError):
        check_frame(head, payload, forged)
    # Good frames before garbage are not lost: they ride on the error; the garbage stays.
    buffer = bytearray(Frame(1, 1).encode() + b"\x00" * 12)
    with pytest.raises(FrameError) as info:
        split_frames(buffer)
    assert info.value.frames == [Frame(1, 1)] and buffer == b"\x00" * 12
    assert MAX_PAYLOAD >= 2**20
