"""The instrument base every driver builds on.

An :class:`Instrument` owns one transport, declares its :class:`~hilt.parameters.Parameter` s and
channels, and defines :meth:`Instrument.safe_state` (outputs off, heaters ramped to zero). It is a
context manager: ``with Driver(address) as inst:`` connects and, on the way out (normal exit, an
error or Ctrl-C), puts the instrument in its safe state and closes the link.

Drivers never import simulators: they meet only through an address.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from hilt.errors import (
    ConnectError,
    HiltError,
    InstrumentCommunicationError,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)
from hilt.parameters import BoundParameter, Parameter
from hilt.transport import Transport, exit_signals, open_transport

log = logging.getLogger("hilt.instrument")

T = TypeVar("T")


class ParameterOwner:
    """Something that holds parameters: an instrument or one of its channels."""

    full_name: str
    check_errors_after_set: bool = False

    def _bind_parameters(self) -> None:
        self.parameters: dict[str, BoundParameter] = {}
        for klass in reversed(type(self).__mro__):
            for attr, spec in vars(klass).items():
                if isinstance(spec, Parameter):
                    bound = BoundParameter(spec, self)
                    self.__dict__[attr] = bound
                    self.parameters[attr] = bound

    def format_context(self) -> dict[str, Any]:
        return {}

    def query(self, command: str) -> str:
        raise NotImplementedError

    def write(self, command: str, *, check_errors: bool = False) -> None:
        raise NotImplementedError

    def snapshot_parameters(self) -> dict[str, Any]:
        """Read every snapshot parameter; a failed read is recorded, not raised."""
        out: dict[str, Any] = {}
        for name, p in self.parameters.items():
            if not p.spec.snapshot or not p.gettable:
                continue
            try:
                value = p.get()
            except HiltError as exc:
                value = f"<error: {exc}>"
            out[name] = {"value": value, "unit": p.unit} if p.unit else value
        return out


class InstrumentChannel(ParameterOwner):
    """One channel of a multi-channel instrument; shares the parent's link and lock."""

    def __init__(self, parent: Instrument, index: int, name: str | None = None) -> None:
        self.parent = parent
        self.index = index
        self.ch = index
        self.name = name or f"ch{index}"
        self.full_name = f"{parent.full_name}.{self.name}"
        self.check_errors_after_set = parent.check_errors_after_set
        self._bind_parameters()

    def format_context(self) -> dict[str, Any]:
        return {"ch": self.ch}

    def query(self, command: str) -> str:
        return self.parent.query(command)

    def write(self, command: str, *, check_errors: bool = False) -> None:
        self.parent.write(command, check_errors=check_errors)


class Instrument(ParameterOwner):
    """Base of every driver.

    Class attributes a driver sets:

    * ``model``: the registry name (the ``hilt.drivers`` entry point), e.g. ``keysight_e8257d``;
    * ``simulator``: the ``hilt.sims`` entry point that simulates it (None if there is none);
    * ``transport_settings``: terminators, timeout, baud rate, ... for :func:`open_transport`;
    * ``check_errors_after_set``: query the instrument's error state after every set;
    * ``fence``: queries whose answers are known (a regular expression each), sent to find the
      reply stream's place again after a timeout or a garbled reply (see :meth:`resync`);
    * ``query_retries``: how often a query (a read, safe to repeat) is sent again after the link
      timed out, garbled or dropped; sets are never repeated.
    """

    model: ClassVar[str] = ""
    simulator: ClassVar[str | None] = None
    transport_settings: ClassVar[dict[str, Any]] = {}
    #: A virtual instrument has no link of its own (a multiplier chain driven through its
    #: synthesizer): no address, no simulator, ``transport`` is None.
    virtual: ClassVar[bool] = False
    #: Device kinds this driver implements, by name (``hilt.instruments.kinds``; ADR 0008).
    kinds: ClassVar[tuple[str, ...]] = ()
    #: Two or more (query, reply pattern) pairs with distinct answers; None: no fence (a network
    #: link is reopened instead, a serial line drained until quiet).
    fence: ClassVar[tuple[tuple[str, str], ...] | None] = None
    #: Lines read while looking for the fence's answers before giving up.
    fence_max_lines: ClassVar[int] = 64
    query_retries: ClassVar[int] = 2
    retry_backoff: ClassVar[float] = 0.05

    def sleep(self, seconds: float) -> None:
        """Wait while the instrument works (a stage's motion-done poll, a settling output).

        A station on a fast simulated clock replaces this, per instrument, with a jump of the
        simulated clock (:class:`hilt.Station`), so waits for the simulated instrument cost no
        wall time. Waits for the link itself (retry back-off) are not instrument time and do not
        go through here.
        """
        time.sleep(seconds)

    def __init__(
        self,
        address: str | None = None,
        *,
        name: str | None = None,
        limits: dict[str, tuple[float | None, float | None]] | None = None,
        calibration: str | None = None,
        transport: Transport | None = None,
        **settings: Any,
    ) -> None:
        self.address = address
        self.name = name or self.model or type(self).__name__.lower()
        self.full_name = self.name
        self.calibration_file = calibration
        merged = {**self.transport_settings, **settings}
        if self.virtual:
            self.transport: Transport = transport or _NoLink(self.name)
        elif address is None:
            raise ConnectError(f"{self.name}: no address", instrument=self.name)
        else:
            self.transport = transport or open_transport(address, name=self.name, **merged)
        self.transport.resync = self.resync
        self.transport.on_reopen = self._on_reopen
        self.channels: list[InstrumentChannel] = []
        self._bind_parameters()
        self.configure()
        if limits:
            self.apply_limits(limits)

    # -- structure ---------------------------------------------------------------------------
    def configure(self) -> None:
        """Drivers make their channels and narrow hardware ranges for their options here.

        Called after the parameters are bound and before a station's soft limits are applied,
        so soft limits are checked against the instrument's real range.
        """

    def apply_limits(self, limits: dict[str, Any]) -> None:
        """Soft limits by parameter name; a channel parameter's limit applies to every channel."""
        for pname, bounds in limits.items():
            targets = [o.parameters[pname] for o in (self, *self.channels) if pname in o.parameters]
            if not targets:
                raise LimitError(f"no parameter {pname!r} to limit (has: {', '.join(self.all_parameter_names())})",
                                 instrument=self.name)
            low, high = bounds
            for p in targets:
                p.set_soft_limits(low, high)

    def all_parameter_names(self) -> list[str]:
        names = dict.fromkeys(self.parameters)
        for ch in self.channels:
            names.update(dict.fromkeys(ch.parameters))
        return list(names)

    # -- life cycle --------------------------------------------------------------------------
    def connect(self) -> None:
        self.transport.open()
        try:
            self.on_connect()
        except BaseException:
            self.transport.close()
            raise

    def on_connect(self) -> None:
        """First words to the instrument after the link opens (e.g. select the reply port)."""

    def close(self) -> None:
        self.transport.close()

    @property
    def connected(self) -> bool:
        """Open and in working order (False once the link dropped, until it is reopened)."""
        return self.transport.is_open and not self.transport.broken

    def reconnect(self) -> None:
        """Reopen the link now and re-read the instrument's state (``on_connect`` runs again)."""
        self.transport.reconnect()

    def _on_reopen(self) -> None:
        # What we remember of the instrument may be stale: it may have been power-cycled.
        for owner in (self, *self.channels):
            for p in owner.parameters.values():
                p.cache = None
        self.on_connect()

    def resync(self) -> None:
        """Find the reply stream's place again (the transport calls this inside a transaction,
        after draining what had arrived).

        With a :attr:`fence`, its queries are sent and lines read until their answers show up
        one after the other: every late reply before them is dropped. The answers are distinct,
        so a late copy of one of them cannot be taken for the fence. Without a fence a network
        link is reopened (a new connection carries no late replies) and a serial line is
        drained until it has been quiet for the timeout."""
        t = self.transport
        if not self.fence:
            if t.reopen_clears_stream:
                t.mark_broken()
                t._reopen()
            else:
                self._drain_until_quiet()
            return
        patterns = [re.compile(rx) for _, rx in self.fence]
        for attempt in range(2):
            try:
                self._fence(patterns)
                return
            except InstrumentTimeout:
                # An answer lost to a transient error (an error line in place of a fence reply):
                # one more fence, after dropping what came.
                if attempt:
                    raise
                t._discard_input()

    def _fence(self, patterns: list[re.Pattern[str]]) -> None:
        assert self.fence is not None
        t = self.transport
        for command, _ in self.fence:
            t.write(command)
        window: deque[str] = deque(maxlen=len(patterns))
        for _ in range(self.fence_max_lines):
            window.append(t.read().strip())
            if len(window) == len(patterns) and all(p.fullmatch(x) for p, x in zip(patterns, window, strict=True)):
                return
        raise ProtocolError(f"fence answers not found in {self.fence_max_lines} lines", instrument=self.name)

    def _drain_until_quiet(self) -> None:
        t = self.transport
        timeout = t.timeout
        t.timeout = min(timeout, 1.0)
        try:
            while True:
                try:
                    t._recv_until(b"\n")
                except InstrumentTimeout:
                    return
        finally:
            t.timeout = timeout
            t._discard_input()

    def __enter__(self) -> Instrument:
        # SIGTERM/SIGHUP unwind the block like a Ctrl-C, so the safe state below still runs.
        self._signals = exit_signals()
        self._signals.__enter__()
        try:
            self.connect()
        except BaseException:
            self._signals.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.shutdown()
        finally:
            self._signals.__exit__(None, None, None)

    def shutdown(self) -> None:
        """Safe state, then close; a failing safe state is logged and the link still closed."""
        try:
            if self.transport.is_open:  # a dropped link is reopened by the safe state's first call
                self.safe_state()
        except (HiltError, OSError) as exc:
            log.error("%s: safe state failed: %s", self.name, exc)
        finally:
            self.close()

    def safe_state(self) -> None:
        """Outputs off, heaters ramped to zero. Every driver with outputs overrides this."""

    # -- talking -----------------------------------------------------------------------------
    def transaction(self) -> Any:
        """The link's transaction: lock and Ctrl-C held across several exchanges."""
        return self.transport.transaction()

    def write(self, command: str, *, check_errors: bool = False) -> None:
        with self.transport.transaction():
            self.transport.write(command)
            if check_errors:
                self.check_errors(command)

    def query(self, command: str) -> str:
        """Send a query and return its reply (checked by :meth:`check_reply`).

        A query only reads, so after a timeout, a garbled reply or a dropped link it is sent
        again (``query_retries`` times, after the link has found its place or reopened)."""
        return self.retrying(lambda: self.check_reply(command, self.transport.query(command)), command)

    def retrying(self, call: Callable[[], T], what: str, *, retries: int | None = None) -> T:
        """Run ``call``, an exchange that only reads, and run it again after a timeout, a garbled
        reply or a dropped link: ``retries`` times (default :attr:`query_retries`; never while
        the link itself is being recovered), each time after the link found its place or
        reopened. :meth:`on_query_failure` sees every failure first and may stop the retries by
        raising. The first failure is the one raised; the retries are in the log."""
        n = 0 if self.transport.recovering else (self.query_retries if retries is None else retries)
        first: InstrumentCommunicationError | None = None
        for attempt in range(n + 1):
            try:
                if attempt:
                    time.sleep(self.retry_backoff * attempt)
                    self.transport.recover()
                return call()
            except (InstrumentTimeout, ConnectError, ProtocolError) as exc:
                first = first or exc
                self.on_query_failure(what, exc)
                log.warning("%s: %s failed (%s)%s", self.name, what, exc,
                            f"; trying again ({attempt + 1}/{n})" if attempt < n else "")
        assert first is not None
        raise first

    def on_query_failure(self, command: str, error: InstrumentCommunicationError) -> None:
        """Hook run when a query failed, before it is asked again: raise to stop the retries
        (e.g. an instrument that answers a refused query with silence and an error-queue entry)."""

    def check_reply(self, command: str, reply: str) -> str:
        """Hook for protocols whose replies can carry an error (e.g. Qontrol's ``E10:0``)."""
        return reply

    def check_errors(self, command: str | None = None) -> None:
        """Raise :class:`~hilt.errors.InstrumentError` if the instrument reports an error."""

    # -- identity and state ------------------------------------------------------------------
    def identify(self) -> dict[str, str]:
        """Vendor, model, serial and firmware; the default reads an IEEE 488.2 ``*IDN?``."""
        reply = self.query("*IDN?")
        parts = [p.strip() for p in reply.split(",")]
        if len(parts) < 2:
            raise ProtocolError("not an *IDN? reply", instrument=self.name, command="*IDN?", reply=reply)
        parts += [""] * (4 - len(parts))
        return {"vendor": parts[0], "model": parts[1], "serial": parts[2], "firmware": ",".join(parts[3:])}

    def snapshot(self) -> dict[str, Any]:
        """Identity and every parameter's current value, for run files and ``station check``."""
        try:
            identity: dict[str, str] | str = self.identify()
        except InstrumentCommunicationError as exc:
            identity = f"<error: {exc}>"
        snap: dict[str, Any] = {
            "driver": self.model,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "address": self.address,
            "identity": identity,
            "parameters": self.snapshot_parameters(),
        }
        if self.channels:
            snap["channels"] = {ch.name: ch.snapshot_parameters() for ch in self.channels}
        return snap

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} at {self.address}>"


class _NoLink(Transport):
    """The 'transport' of a virtual instrument: opens and closes, refuses bytes."""

    kind = "none"

    def __init__(self, name: str) -> None:
        super().__init__("virtual", name=name)

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _send(self, data: bytes) -> None:
        raise ConnectError("a virtual instrument has no link", instrument=self.name)
