"""Loopback servers that put a simulated instrument on the wire.

* :class:`TcpSimServer`: a TCP listener on 127.0.0.1 (port chosen by the OS unless given), any
  number of clients at once, each with its own session; reached as a VISA socket resource
  (``TCPIP::127.0.0.1::<port>::SOCKET``) or, for serial instruments, as ``socket://127.0.0.1:<port>``.
* :class:`PtySimServer`: a pseudo-terminal whose path any program can open as a serial port.

Faults (``sim.faults``) are applied here, to the bytes, so every instrument gets them for free.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import tty

from hilt.errors import SimulatorError
from hilt.sims.base import DropConnection, Session, SimulatedInstrument
from hilt.sims.faults import garble_bytes, truncate_bytes

log = logging.getLogger("hilt.sims")

#: Seconds between two polls of a session that sends unasked (a monitoring line's updates).
POLL_INTERVAL = 0.05


class _ServerBase:
    def __init__(self, sim: SimulatedInstrument) -> None:
        self.sim = sim
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _spawn(self, target: object, *args: object, name: str) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _outgoing(self, reply: bytes) -> bytes | None:
        """Apply delay, garble and truncate faults; None when the server is stopping."""
        faults = self.sim.faults
        delay = faults.take_delay()
        if delay > 0 and self._stop.wait(delay):
            return None
        if reply and faults.take_garble():
            term = self.sim.reply_terminator.encode(self.sim.encoding)
            reply = garble_bytes(reply, term)
        if reply and faults.take_truncate():
            reply = truncate_bytes(reply)
        return reply

    def __enter__(self) -> _ServerBase:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    @property
    def address(self) -> str:
        raise NotImplementedError


class TcpSimServer(_ServerBase):
    """Serve one simulated instrument over TCP on the loopback interface."""

    def __init__(self, sim: SimulatedInstrument, port: int = 0, host: str = "127.0.0.1", *,
                 session_class: type[Session] | None = None, as_serial: bool = False) -> None:
        super().__init__(sim)
        self.session_class = session_class
        self.as_serial = as_serial
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._listener: socket.socket | None = None
        self._clients: set[socket.socket] = set()
        self._clients_lock = threading.Lock()

    @property
    def address(self) -> str:
        if self.port is None:
            raise SimulatorError("server not started")
        if self.sim.transport == "serial" or self.as_serial:
            return f"socket://{self.host}:{self.port}"
        if self.sim.transport == "raw":
            return f"tcp://{self.host}:{self.port}"
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.requested_port))
        except OSError as exc:
            listener.close()
            raise SimulatorError(f"{self.sim.model}: cannot listen on {self.host}:{self.requested_port}: {exc}") from exc
        listener.listen(16)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop, name=f"sim-{self.sim.name}-accept")
        log.info("%s listening at %s", self.sim.name, self.address)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._clients_lock:
                self._clients.add(conn)
            self._spawn(self._serve_client, conn, name=f"sim-{self.sim.name}-client")

    def _serve_client(self, conn: socket.socket) -> None:
        session: Session = self.session_class(self.sim) if self.session_class else self.sim.new_session()
        # A session that speaks unasked (a monitoring line) is polled between reads.
        polled = type(session).poll is not Session.poll
        if polled:
            conn.settimeout(POLL_INTERVAL)
        try:
            hello = session.greeting()
            if hello:
                conn.sendall(hello)
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    data = None
                if data == b"":
                    return
                reply = (session.feed(data) if data else b"") + (session.poll() if polled else b"")
                if reply:
                    out = self._outgoing(reply)
                    if out is None:
                        return
                    conn.sendall(out)
        except DropConnection:
            log.info("%s: dropping a client (fault injection)", self.sim.name)
        except OSError:
            pass
        except Exception:  # a simulator bug must not kill the server silently
            log.exception("%s: simulator error", self.sim.name)
        finally:
            with self._clients_lock:
                self._clients.discard(conn)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._clients_lock:
            clients = list(self._clients)
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(timeout=2)


class PtySimServer(_ServerBase):
    """Serve one simulated serial instrument on a pseudo-terminal (``/dev/pts/N``)."""

    def __init__(self, sim: SimulatedInstrument) -> None:
        super().__init__(sim)
        self._master: int | None = None
        self._slave: int | None = None
        self.path: str | None = None

    @property
    def address(self) -> str:
        if self.path is None:
            raise SimulatorError("pty not started")
        return self.path

    def start(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        # Keeping our own slave descriptor open keeps the pty alive between clients.
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        self._spawn(self._loop, name=f"sim-{self.sim.name}-pty")

    def _loop(self) -> None:
        assert self._master is not None
        session = self.sim.new_session()
        master = self._master
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            try:
                reply = session.feed(data)
            except DropConnection:
                # A serial line cannot be 'closed' by the far end: go silent instead.
                session = self.sim.new_session()
                continue
            except Exception:
                log.exception("%s: simulator error", self.sim.name)
                continue
            if reply:
                out = self._outgoing(reply)
                if out is None:
                    return
                os.write(master, out)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None


def serve(sim: SimulatedInstrument, *, port: int = 0, pty: bool = False, serial: bool = False) -> _ServerBase:
    """Start serving ``sim`` and return the running server (use ``.address`` and ``.stop()``).

    ``pty`` serves a serial instrument (or one that also has an RS-232 port) on a pseudo-terminal;
    ``serial`` serves the RS-232 port of such an instrument as a ``socket://`` URL.
    """
    serial_ok = sim.transport == "serial" or sim.also_serial
    if (pty or serial) and not serial_ok:
        raise SimulatorError(f"{sim.model} is not a serial instrument: no pty")
    server: _ServerBase = PtySimServer(sim) if pty else TcpSimServer(sim, port=port, as_serial=serial)
    server.start()
    return server


def serve_extra_ports(sim: SimulatedInstrument, ports: dict[str, int] | None = None) -> dict[str, TcpSimServer]:
    """Serve the instrument's further network ports (``sim.extra_ports``), each on its own TCP
    listener (port chosen by the OS unless ``ports`` names one); returns name -> running server."""
    servers: dict[str, TcpSimServer] = {}
    try:
        for name, (session_class, _real_port) in sim.extra_ports.items():
            server = TcpSimServer(sim, port=(ports or {}).get(name, 0), session_class=session_class)
            server.start()
            servers[name] = server
    except SimulatorError:
        for server in servers.values():
            server.stop()
        raise
    return servers
