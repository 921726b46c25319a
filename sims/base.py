"""Simulator base classes: an instrument model, its per-client sessions, and line handling.

A :class:`SimulatedInstrument` holds the instrument's state (one per simulated device, shared by
all its clients) and reads/writes the station's :class:`~hilt.sims.world.World`. Each client
connection gets a :class:`Session` that turns received bytes into reply bytes; line-based
instruments use :class:`LineSession` and implement :meth:`SimulatedInstrument.handle`.
Servers (TCP, pty) live in :mod:`hilt.sims.server` and know nothing of any instrument.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

from hilt.sims.faults import Faults
from hilt.sims.world import World

log = logging.getLogger("hilt.sims")


class Session:
    """One client's conversation. ``feed`` takes received bytes and returns bytes to send."""

    def __init__(self, sim: SimulatedInstrument) -> None:
        self.sim = sim

    def greeting(self) -> bytes:
        return b""

    def feed(self, data: bytes) -> bytes:
        raise NotImplementedError

    def poll(self) -> bytes:
        """Bytes the instrument sends unasked (a monitoring line's updates); polled by the server
        only for session classes that override this."""
        return b""


class DropConnection(Exception):
    """Raised inside a session to make the server close the link (fault injection)."""


class LineSession(Session):
    """Splits input on the instrument's input terminators and answers line by line."""

    def __init__(self, sim: SimulatedInstrument) -> None:
        super().__init__(sim)
        self._buffer = bytearray()
        self.state: dict[str, Any] = {}

    def greeting(self) -> bytes:
        text = self.sim.greeting(self)
        return text.encode(self.sim.encoding) if text else b""

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        terms = self.sim.input_terminators
        while True:
            cut = min((i for i in (self._buffer.find(t) for t in terms) if i >= 0), default=-1)
            if cut < 0:
                break
            line = bytes(self._buffer[:cut])
            del self._buffer[: cut + 1]
            # CR LF arrives as two terminators: skip the empty line between them.
            if not line.strip():
                if self.sim.answer_empty_lines:
                    out += self._answer("")
                continue
            out += self._answer(line.decode(self.sim.encoding, errors="replace"))
        return bytes(out)

    def _answer(self, line: str) -> bytes:
        faults = self.sim.faults
        if faults.take_drop():
            raise DropConnection
        with self.sim.lock:
            if faults.take_error():
                reply = self.sim.inject_error(line, self)
            else:
                reply = self.sim.handle(line, self)
        if reply is None:
            return b""
        if isinstance(reply, bytes):
            # A binary reply (a lock-in's buffer dump) is sent as the simulator built it, terminator
            # included or not, as its manual says.
            return reply
        return (reply + self.sim.reply_terminator).encode(self.sim.encoding)


class SimulatedInstrument:
    """Base of every simulator.

    Class attributes: ``model`` (the ``hilt.sims`` entry point name), ``transport`` (``tcp``:
    served as a VISA socket resource; ``serial``: a ``socket://`` URL or a pty), ``default_port``
    (the real instrument's port, used only when asked for), terminators and encoding.
    """

    model: ClassVar[str] = ""
    description: ClassVar[str] = ""
    transport: ClassVar[str] = "tcp"
    default_port: ClassVar[int | None] = None
    input_terminators: ClassVar[tuple[bytes, ...]] = (b"\n",)
    reply_terminator: ClassVar[str] = "\n"
    encoding: ClassVar[str] = "ascii"
    answer_empty_lines: ClassVar[bool] = False
    session_class: ClassVar[type[Session]] = LineSession
    #: Further network ports the instrument serves beside its command port: name -> (the session
    #: class spoken there, the real instrument's port number).
    extra_ports: ClassVar[dict[str, tuple[type[Session], int | None]]] = {}
    #: Also reachable over RS-232 with the same bytes (served on a pty or a ``socket://`` URL).
    also_serial: ClassVar[bool] = False
    #: Options :mod:`hilt.sims.coverage` builds a fresh simulator with to probe one command (a
    #: small chip where the default one takes seconds to build); the commands are the same.
    probe_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, world: World | None = None, *, name: str | None = None, **options: Any) -> None:
        self.world = world or World()
        self.name = name or self.model
        self.faults = Faults()
        self.lock = threading.RLock()
        self.options = options
        self.rng = self.world.rng(self.name)
        #: Commands received that this simulator does not implement -> how many times.
        self.unknown_commands: dict[str, int] = {}

    def new_session(self) -> Session:
        return self.session_class(self)

    def greeting(self, session: Session) -> str:
        """Text sent when a client connects (e.g. a banner and a prompt)."""
        return ""

    def handle(self, line: str, session: Session) -> str | bytes | None:
        """The reply to one command line, without terminator; None for no reply.

        A ``bytes`` reply is sent verbatim (binary block transfers): no terminator is added.
        """
        raise NotImplementedError

    def unknown_command(self, command: str) -> None:
        """Note a command this simulator does not implement.

        Every simulator calls this where its instrument meets a command it does not know, then
        answers the way the instrument's manual says it answers one (an error-queue entry, a
        status bit, an error line, silence). The first time each distinct command arrives it is
        logged at WARNING on ``hilt.sims`` with the simulator's name, so a user whose script stops
        on a missing command sees which one at once; ``unknown_commands`` counts them all.
        """
        key = " ".join(command.split())[:120]
        first = key not in self.unknown_commands
        self.unknown_commands[key] = self.unknown_commands.get(key, 0) + 1
        if first:
            log.warning("%s (simulated %s): %r is not implemented by the simulator; answered as the "
                        "instrument answers an unknown command", self.name, self.model, key)

    def inject_error(self, line: str, session: Session) -> str | None:
        """Answer ``line`` the way this instrument answers a command it cannot execute."""
        raise NotImplementedError

    def publish(self, key: str, value: Any) -> None:
        """Write a quantity into the world under this simulator's name."""
        self.world.set(f"{self.name}.{key}", value)

    def state(self) -> dict[str, Any]:
        """The simulator's visible state, for debugging and the GUI."""
        return {}
