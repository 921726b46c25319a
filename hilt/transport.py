"""Transports: the byte pipes between a driver and an instrument.

Three kinds, picked from the address (see :func:`open_transport`):

* VISA (``TCPIP::...::SOCKET``, ``GPIB0::8::INSTR``, ``ASRL...``, ``USB...``) through pyvisa:
  NI-VISA (or another IVI library) when installed, else the pure-Python pyvisa-py back end;
  ``visa_library="@py"`` in a station's ``transport:`` settings or ``HILT_VISA_LIBRARY`` chooses;
* serial through pyserial: a device path (``/dev/ttyUSB0``, ``COM3``, a pty path) or a pyserial
  URL such as ``socket://127.0.0.1:5000``;
* raw TCP: ``tcp://host:port``.

Every transport carries one re-entrant lock: a transaction (a write and the read of its reply)
holds it, so a GUI thread and a training loop never interleave bytes on one instrument. A Ctrl-C
that lands inside a transaction is held until the transaction ends, so the instrument is never
left with half a command. Every exchange is kept in a short ring buffer and sent to the
``hilt.io`` logger at DEBUG level, bytes both ways with timestamps.
"""

from __future__ import annotations

import _signal
import contextlib
import logging
import os
import select
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hilt import interrupts
from hilt.errors import (
    ConnectError,
    InstrumentCommunicationError,
    InstrumentTimeout,
    ProtocolError,
    Terminated,
)

io_log = logging.getLogger("hilt.io")

VISA_PREFIXES = ("TCPIP", "GPIB", "USB", "ASRL", "VXI", "PXI")
SERIAL_URL_PREFIXES = ("socket://", "rfc2217://", "loop://", "spy://", "alt://", "hwgrep://")


@dataclass(frozen=True, slots=True)
class Exchange:
    """One chunk of bytes that crossed the wire."""

    time: float  # time.time() when it crossed
    direction: str  # "->" to the instrument, "<-" from it
    data: bytes


_MAIN = threading.main_thread()

# SIGTERM/SIGHUP handling (see exit_signals): while the main thread is inside a transaction the
# signal is remembered and raised as Terminated when the outermost transaction ends.
_main_depth = 0
_pending_signal: int | None = None
EXIT_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def _on_exit_signal(signum: int, frame: Any) -> None:
    global _pending_signal
    if _main_depth > 0:
        _pending_signal = signum
        return
    raise Terminated(signum)


class exit_signals:  # noqa: N801 - used like a function: ``with exit_signals():``
    """Turn SIGTERM and SIGHUP into :class:`~hilt.errors.Terminated` (a KeyboardInterrupt) while
    the block runs, so the code around it unwinds and puts the hardware in its safe state.

    By default both signals end a Python process at once, skipping every ``finally`` and leaving
    heaters and lasers on. Installed only on the main thread and only where the signal still has
    its default handler (a GUI or a user's own handler is left alone); nesting is allowed.
    """

    _lock = threading.Lock()
    _users = 0
    _previous: dict[int, Any] = {}

    def __enter__(self) -> exit_signals:
        cls = type(self)
        if threading.current_thread() is not _MAIN:
            self._active = False
            return self
        self._active = True
        with cls._lock:
            if cls._users == 0:
                cls._previous = {}
                for sig in EXIT_SIGNALS:
                    if signal.getsignal(sig) in (signal.SIG_DFL, None):
                        cls._previous[sig] = signal.signal(sig, _on_exit_signal)
            cls._users += 1
        return self

    def __exit__(self, *exc: object) -> None:
        cls = type(self)
        if not self._active:
            return
        with cls._lock:
            cls._users -= 1
            if cls._users == 0:
                for sig, previous in cls._previous.items():
                    signal.signal(sig, previous)
                cls._previous = {}


# SIGINT handlers that raise KeyboardInterrupt as Python's own does (hold_sigint may stand in).
_PYTHON_SIGINT = (signal.default_int_handler, interrupts.remembering_sigint)


class _HeldSigint:
    """The SIGINT handler installed while a transaction runs: remember, don't raise."""

    __slots__ = ("caught",)

    def __init__(self) -> None:
        self.caught = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.caught = True


class hold_sigint:  # noqa: N801 - used like a function: ``with hold_sigint():``
    """Hold a Ctrl-C (and a SIGTERM/SIGHUP under :class:`exit_signals`) until the block ends,
    then raise it.

    Only the main thread receives signals, so elsewhere this does nothing; nor does it for
    SIGINT when someone else (a GUI, pytest, a user) owns SIGINT. The raw ``_signal`` calls skip
    the enum conversions of :func:`signal.signal`: this runs on every instrument transaction.
    """

    __slots__ = ("_held", "_previous", "_main")

    def __enter__(self) -> None:
        global _main_depth
        self._held = None
        self._main = threading.current_thread() is _MAIN
        if not self._main:
            return
        _main_depth += 1
        if _signal.getsignal(signal.SIGINT) in _PYTHON_SIGINT:
            self._held = _HeldSigint()
            self._previous = _signal.signal(signal.SIGINT, self._held)

    def __exit__(self, *exc: object) -> None:
        global _main_depth, _pending_signal
        if not self._main:
            return
        if self._held is not None:
            _signal.signal(signal.SIGINT, self._previous)
        _main_depth -= 1
        if _main_depth == 0 and _pending_signal is not None:
            signum, _pending_signal = _pending_signal, None
            raise Terminated(signum)
        if self._held is not None and self._held.caught:
            interrupts.note_interrupt()
            raise KeyboardInterrupt


class _Transaction:
    """The lock, held across a whole exchange; the outermost level also holds Ctrl-C and first
    brings a link that lost its place back in step (see :meth:`Transport.recover`)."""

    __slots__ = ("_t", "_sigint")

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def __enter__(self) -> Transport:
        t = self._t
        if t._owner == threading.get_ident():  # nested in this thread's own transaction
            t.lock.acquire()
            t._depth += 1
            return t
        # Signals are held before the lock is taken: a Ctrl-C or SIGTERM landing between taking
        # it and recording the transaction would leave the lock held and this thread as owner.
        self._sigint = hold_sigint()
        self._sigint.__enter__()
        try:
            t.lock.acquire()
        except BaseException:
            self._sigint.__exit__()
            raise
        try:
            t._owner = threading.get_ident()
            t._depth = 1
            if not t.is_open:
                raise ConnectError("not connected", instrument=t.name)
            if t._broken or t._stale:
                t.recover()
            t._fresh = True
        except BaseException:
            # Leave nothing of this transaction behind: a thread recorded as owner would skip
            # the lock on its next call.
            t._depth = 0
            t._owner = None
            try:
                self._sigint.__exit__()
            finally:
                t.lock.release()
            raise
        return t

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        t = self._t
        t._depth -= 1
        try:
            if t._depth == 0:
                t._owner = None
                self._sigint.__exit__()
        finally:
            t.lock.release()


class Transport:
    """Byte pipe with terminators, an encoding, a timeout, a lock and an exchange log.

    Keeping its place: a reply that comes late (after its timeout), a garbled or truncated reply,
    or bytes nobody asked for mark the link *stale*; a link the instrument closed (or that failed
    to write) is *broken*. The next transaction first calls :meth:`recover`: a broken link is
    reopened (``reconnect_attempts`` tries with growing pauses, then ``on_reopen``, which an
    instrument uses to re-read its state); a stale one is drained and handed to ``resync``, which
    an instrument sets to its fence (queries with known answers, read until they show up).
    Without a fence a stale network link is reopened, since a fresh connection carries no late
    replies. A reply is never handed to a request other than its own.
    """

    kind = "abstract"
    #: A fresh connection starts a clean byte stream (sockets); a serial line does not: the
    #: instrument may still be sending into it.
    reopen_clears_stream = False

    def __init__(
        self,
        address: str,
        *,
        name: str = "",
        timeout: float = 2.0,
        write_termination: str = "\n",
        read_termination: str = "\n",
        encoding: str = "ascii",
        log_size: int = 256,
        reconnect_attempts: int = 3,
        reconnect_backoff: float = 0.2,
    ) -> None:
        self.address = address
        self.name = name or address
        self.timeout = timeout
        self.write_termination = write_termination
        self.read_termination = read_termination
        self.encoding = encoding
        self.reconnect_attempts = int(reconnect_attempts)
        self.reconnect_backoff = float(reconnect_backoff)
        self.lock = threading.RLock()
        # Plain tuples: this runs twice per transaction; Exchange objects are made on reading.
        self._log: deque[tuple[float, str, bytes]] = deque(maxlen=log_size)
        self._stale = False  # a reply may still be in flight, or the stream is out of step
        self._broken = False  # the link dropped: reopen before the next exchange
        self._depth = 0  # transaction nesting, guarded by the lock
        self._owner: int | None = None  # thread holding the outermost transaction
        # Nothing exchanged yet in this transaction: bytes waiting before its first write are
        # out of step (a read may legitimately collect the reply to an earlier write).
        self._fresh = False
        self.is_open = False
        #: Set by the instrument: find the reply stream's place again (runs inside a transaction).
        self.resync: Callable[[], None] | None = None
        #: Set by the instrument: first words after a reopen (re-read state, select reply port).
        self.on_reopen: Callable[[], None] | None = None
        self.recoveries = {"resync": 0, "reconnect": 0}
        self._recovering = False  # inside recover(): the instrument's own calls do not recurse

    # -- what subclasses provide ------------------------------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def _recv_until(self, terminator: bytes) -> bytes:
        """Bytes up to and including ``terminator``; InstrumentTimeout when it does not come."""
        raise NotImplementedError

    def _recv_exact(self, size: int) -> bytes:
        raise NotImplementedError

    def _discard_input(self) -> bytes:
        """Drop whatever the instrument sent that nobody read (a late reply after a timeout);
        return what was dropped (as far as the transport can tell), for the log."""
        raise NotImplementedError

    def _input_pending(self) -> bool:
        """Bytes (or an end of stream) waiting before a transaction starts: out of step.

        Cheap (no blocking); a transport that cannot tell says False. A closed peer marks the
        link broken here, so a set is not written into a dead connection."""
        return False

    def _socket_input_pending(self, sock: socket.socket) -> bool:
        """:meth:`_input_pending` for a link that is a socket underneath: a closed peer marks the
        link broken (and counts as pending, so the transaction recovers first)."""
        state = _socket_pending(sock)
        if state is None:
            self._broken = True
            return True
        return state

    # -- public ------------------------------------------------------------------------------
    def open(self) -> None:
        with self.lock:
            if not self.is_open:
                self._open()
                self.is_open = True
                self._stale = self._broken = False

    def close(self) -> None:
        with self.lock:
            if self.is_open:
                self.is_open = False
                with contextlib.suppress(Exception):
                    self._close()

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def broken(self) -> bool:
        """The link dropped (or lost its place beyond repair); the next exchange reopens it."""
        return self._broken

    def mark_stale(self) -> None:
        """The stream may be out of step (a bad frame, an unsolicited error line, a garbled
        reply): the next transaction drains it and finds its place again before sending."""
        self._stale = True

    def mark_broken(self) -> None:
        """The link cannot be trusted: the next transaction reopens it."""
        self._broken = True

    def recover(self) -> None:
        """Bring the link back in step now (the lock is taken; callable inside a transaction).

        Broken: reopen with bounded retries, then ``on_reopen``; on a serial line the stream is
        then resynchronised too. Stale: drain, then ``resync`` (or reopen a network link when
        there is no fence). A failure leaves the link broken and raises ConnectError."""
        with self.lock:
            if self._recovering:
                return
            depth, self._depth = self._depth, max(self._depth, 1)  # nested calls skip the lock
            self._recovering = True
            try:
                if self._broken:
                    self._reopen()
                    self._stale = not self.reopen_clears_stream
                if self._stale or self._input_pending():
                    self._stale = False
                    self._fresh = False
                    self._resync()
            finally:
                self._depth = depth
                self._recovering = False

    @property
    def recovering(self) -> bool:
        """True while the link is being reopened or resynchronised (no retries inside)."""
        return self._recovering

    def ensure_in_step(self) -> None:
        """Inside a transaction, before its first write: bring the link in step now, so the
        caller knows of a reopen before it sends (a driver that must not send into an unknown
        state checks its own bookkeeping after this)."""
        with self.lock:
            if self._broken or self._stale or (self._fresh and self._input_pending()):
                self._fresh = False
                self.recover()

    def reconnect(self) -> None:
        """Close and reopen the link now, then let the instrument re-read its state."""
        with self.lock:
            if not self.is_open:
                raise ConnectError("not connected", instrument=self.name)
            self._broken = True
            self.recover()

    def _reopen(self) -> None:
        last: BaseException | None = None
        for attempt in range(max(1, self.reconnect_attempts)):
            if attempt:
                time.sleep(self.reconnect_backoff * 2 ** (attempt - 1))
            with contextlib.suppress(Exception):
                self._close()
            try:
                self._open()
                self._broken = False
                self._stale = False
                if self.on_reopen is not None:
                    self.on_reopen()
            except InstrumentCommunicationError as exc:
                self._broken = True
                last = exc
                io_log.warning("%s: reconnect attempt %d failed: %s", self.name, attempt + 1, exc)
                continue
            self.recoveries["reconnect"] += 1
            io_log.warning("%s: link reopened (attempt %d)", self.name, attempt + 1)
            return
        raise ConnectError(f"link lost and {max(1, self.reconnect_attempts)} reconnect attempt(s) failed: {last}",
                           instrument=self.name)

    def _resync(self) -> None:
        io_log.warning("%s: out of step (late, garbled or unexpected reply): resynchronising", self.name)
        try:
            dropped = b""
            with contextlib.suppress(OSError):
                dropped = self._discard_input()
            if dropped:
                # Nothing the instrument says is lost without a trace: an unsolicited error line
                # or a late reply shows up in the log and the exchange ring.
                self._record("<-", dropped)
                io_log.warning("%s: dropped %d unread byte(s): %r", self.name, len(dropped), dropped[:200])
            if self.resync is not None:
                self.resync()
            elif self.reopen_clears_stream:
                self._broken = True
                self._reopen()
        except InstrumentCommunicationError as exc:
            self._broken = True
            raise ConnectError(f"lost its place in the reply stream and could not find it again ({exc}); "
                               "the link will be reopened", instrument=self.name) from exc
        self.recoveries["resync"] += 1

    def transaction(self) -> _Transaction:
        """Hold the lock (and any Ctrl-C) across several reads and writes."""
        return _Transaction(self)

    @property
    def exchanges(self) -> list[Exchange]:
        """The last exchanges (oldest first): time, direction (``->``/``<-``) and bytes."""
        return [Exchange(*entry) for entry in list(self._log)]

    def _record(self, direction: str, data: bytes) -> None:
        self._log.append((time.time(), direction, data))
        if io_log.isEnabledFor(logging.DEBUG):
            io_log.debug("%s %s %r", self.name, direction, data)

    # The _unlocked methods run inside a transaction the caller holds; the public ones take it.
    def _write_unlocked(self, data: bytes) -> None:
        if self._fresh:
            self._fresh = False
            if self._input_pending():
                self.recover()
        self._record("->", data)
        try:
            self._send(data)
        except ConnectError:
            self._broken = True
            raise
        except InstrumentCommunicationError:
            raise
        except OSError as exc:
            self._broken = True
            raise ConnectError(f"write failed: {exc}", instrument=self.name, command=data) from exc

    def _read_unlocked(self, terminator: bytes) -> bytes:
        self._fresh = False
        try:
            data = self._recv_until(terminator)
        except InstrumentTimeout:
            self._stale = True
            raise
        except ConnectError:
            self._broken = True
            raise
        except InstrumentCommunicationError:
            raise
        except OSError as exc:
            self._broken = True
            raise ConnectError(f"read failed: {exc}", instrument=self.name) from exc
        self._record("<-", data)
        return data

    def _decode(self, raw: bytes) -> str:
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            self._stale = True
            raise ProtocolError("reply is not valid text", instrument=self.name, reply=raw) from exc
        term = self.read_termination
        if term and text.endswith(term):
            text = text[: -len(term)]
        return text

    def write_raw(self, data: bytes) -> None:
        with self.transaction():
            self._write_unlocked(data)

    def read_raw(self, terminator: bytes | None = None) -> bytes:
        """One terminated message, terminator included."""
        term = terminator if terminator is not None else self.read_termination.encode(self.encoding)
        with self.transaction():
            return self._read_unlocked(term)

    def read_bytes(self, size: int) -> bytes:
        with self.transaction():
            self._fresh = False
            try:
                data = self._recv_exact(size)
            except InstrumentTimeout:
                self._stale = True
                raise
            except ConnectError:
                self._broken = True
                raise
            except OSError as exc:
                self._broken = True
                raise ConnectError(f"read failed: {exc}", instrument=self.name) from exc
            self._record("<-", data)
            return data

    # write/read/query inside a transaction this thread already holds skip taking it again: a
    # driver's set with its error check is one transaction, not four.
    def write(self, command: str) -> None:
        data = (command + self.write_termination).encode(self.encoding)
        if self._owner == threading.get_ident():
            self._write_unlocked(data)
            return
        with self.transaction():
            self._write_unlocked(data)

    def read(self) -> str:
        if self._owner == threading.get_ident():
            return self._decode(self._read_unlocked(self._read_term))
        with self.transaction():
            return self._decode(self._read_unlocked(self._read_term))

    def query(self, command: str) -> str:
        data = (command + self.write_termination).encode(self.encoding)
        if self._owner == threading.get_ident():
            self._write_unlocked(data)
            return self._decode(self._read_unlocked(self._read_term))
        with self.transaction():
            self._write_unlocked(data)
            return self._decode(self._read_unlocked(self._read_term))

    @property
    def _read_term(self) -> bytes:
        return self.read_termination.encode(self.encoding)

    def _timeout_error(self, what: str = "reply") -> InstrumentTimeout:
        return InstrumentTimeout(f"no {what} within {self.timeout:g} s", instrument=self.name)


def _socket_pending(sock: socket.socket) -> bool | None:
    """Without blocking: True when bytes wait, None when the peer closed, False otherwise."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return None
    return True if data else None


class TcpTransport(Transport):
    """A plain TCP socket (``tcp://host:port``)."""

    kind = "tcp"
    reopen_clears_stream = True

    def __init__(self, address: str, **settings: Any) -> None:
        super().__init__(address, **settings)
        hostport = address.split("://", 1)[1]
        host, _, port = hostport.rpartition(":")
        self.host, self.port = host, int(port)
        self._sock: socket.socket | None = None
        self._buffer = bytearray()

    def _open(self) -> None:
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise ConnectError(f"cannot connect to {self.address}: {exc}", instrument=self.name) from exc
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer.clear()

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, data: bytes) -> None:
        assert self._sock is not None
        self._sock.sendall(data)

    def _fill(self, deadline: float) -> None:
        assert self._sock is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout_error()
        self._sock.settimeout(remaining)
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise self._timeout_error() from None
        if not chunk:
            raise ConnectError("connection closed by the instrument", instrument=self.name)
        self._buffer += chunk

    def _recv_until(self, terminator: bytes) -> bytes:
        deadline = time.monotonic() + self.timeout
        start = 0
        while True:
            idx = self._buffer.find(terminator, start)
            if idx >= 0:
                end = idx + len(terminator)
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return data
            start = max(0, len(self._buffer) - len(terminator) + 1)
            self._fill(deadline)

    def _recv_exact(self, size: int) -> bytes:
        deadline = time.monotonic() + self.timeout
        while len(self._buffer) < size:
            self._fill(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _discard_input(self) -> bytes:
        assert self._sock is not None
        dropped = bytearray(self._buffer)
        self._buffer.clear()
        self._sock.settimeout(0.0)
        with contextlib.suppress(OSError):
            while chunk := self._sock.recv(65536):
                dropped += chunk
        return bytes(dropped)

    def _input_pending(self) -> bool:
        if self._buffer:
            return True
        if self._sock is None:
            self._broken = True
            return True
        return self._socket_input_pending(self._sock)


class SerialTransport(Transport):
    """pyserial: a device path, a pty path, or a URL such as ``socket://127.0.0.1:5000``."""

    kind = "serial"

    def __init__(
        self,
        address: str,
        *,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        xonxoff: bool = False,
        rtscts: bool = False,
        **settings: Any,
    ) -> None:
        super().__init__(address, **settings)
        self.reopen_clears_stream = address.startswith("socket://")
        self.serial_settings = dict(
            baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits,
            xonxoff=xonxoff, rtscts=rtscts,
        )
        self._port: Any = None

    def _open(self) -> None:
        import serial

        try:
            self._port = serial.serial_for_url(self.address, timeout=self.timeout, **self.serial_settings)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConnectError(f"cannot open {self.address}: {exc}", instrument=self.name) from exc
        sock = getattr(self._port, "_socket", None)
        if sock is not None:
            # pyserial's socket:// leaves Nagle on: every short command would wait for an ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    def _send(self, data: bytes) -> None:
        import serial

        try:
            self._port.write(data)
        except serial.SerialException as exc:
            raise ConnectError(f"write failed: {exc}", instrument=self.name) from exc

    def _apply_timeout(self) -> None:
        # pyserial reconfigures the port (tcsetattr) on every timeout assignment: only on change.
        if self._port.timeout != self.timeout:
            self._port.timeout = self.timeout

    def _recv_until(self, terminator: bytes) -> bytes:
        import serial

        self._apply_timeout()
        try:
            data = self._port.read_until(terminator)
        except serial.SerialException as exc:
            raise ConnectError(f"read failed: {exc}", instrument=self.name) from exc
        if not data.endswith(terminator):
            if data:
                self._record("<-", data)
            raise self._timeout_error()
        return data

    def _recv_exact(self, size: int) -> bytes:
        self._apply_timeout()
        data = self._port.read(size)
        if len(data) < size:
            raise self._timeout_error(f"{size} bytes")
        return data

    def _discard_input(self) -> bytes:
        dropped = b""
        with contextlib.suppress(Exception):  # only for the log: never fail the drain over it
            waiting = self._port.in_waiting
            if waiting:
                self._port.timeout = 0
                dropped = self._port.read(waiting)
        self._port.reset_input_buffer()
        return dropped

    def _input_pending(self) -> bool:
        if self._port is None:
            self._broken = True
            return True
        sock = getattr(self._port, "_socket", None)
        if sock is not None:
            return self._socket_input_pending(sock)
        try:
            return self._port.in_waiting > 0
        except (OSError, ValueError) as exc:  # the device went away (USB adapter unplugged)
            io_log.warning("%s: %s", self.name, exc)
            self._broken = True
            return True


class VisaTransport(Transport):
    """pyvisa resource; pyvisa-py (``@py``) unless another VISA library is named."""

    kind = "visa"
    _managers: dict[str, Any] = {}
    _managers_lock = threading.Lock()

    def __init__(self, address: str, *, visa_library: str | None = None, **settings: Any) -> None:
        super().__init__(address, **settings)
        self.reopen_clears_stream = address.upper().startswith("TCPIP")
        self._session: Any = None  # pyvisa-py's session object, when that is the back end
        # "" is pyvisa's own choice: NI-VISA (or another IVI library) when installed, else
        # pyvisa-py. "@py" forces pyvisa-py; a path names a VISA library.
        self.visa_library = os.environ.get("HILT_VISA_LIBRARY", "") if visa_library is None else visa_library
        self._res: Any = None

    @classmethod
    def resource_manager(cls, library: str = "") -> Any:
        import pyvisa

        with cls._managers_lock:
            if library not in cls._managers:
                cls._managers[library] = pyvisa.ResourceManager(library)
            return cls._managers[library]

    def _open(self) -> None:
        import pyvisa

        try:
            rm = self.resource_manager(self.visa_library)
            self._res = rm.open_resource(self.address, open_timeout=int(self.timeout * 1000))
        except (pyvisa.errors.VisaIOError, OSError, ValueError) as exc:
            raise ConnectError(f"cannot open {self.address}: {exc}", instrument=self.name) from exc
        self._res.timeout = self.timeout * 1000
        self._res.write_termination = ""
        self._res.read_termination = self.read_termination or None
        self._visa_timeout = self.timeout
        self._visa_term = self.read_termination.encode(self.encoding)
        self._check_socket(rm)

    def _check_socket(self, rm: Any) -> None:
        """pyvisa-py reports a refused TCP connection as opened; ask the socket itself."""
        session = getattr(rm.visalib, "sessions", {}).get(self._res.session)
        sock = getattr(session, "interface", None)
        self._session = session if isinstance(sock, socket.socket) else None
        if isinstance(sock, socket.socket):
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._res.close()
                self._res = None
                raise ConnectError(f"cannot connect to {self.address}: {os.strerror(err)}", instrument=self.name)
            # pyvisa-py leaves Nagle on: a set followed by an error query would wait ~40 ms for
            # the delayed ACK of the first write.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _close(self) -> None:
        self._session = None
        if self._res is not None:
            self._res.close()
            self._res = None

    def _input_pending(self) -> bool:
        # Only pyvisa-py's socket sessions can be asked without a VISA read; it also reports a
        # closed peer as a timeout, so the end of stream is looked for here, before a write.
        session = self._session
        if session is None:
            return False
        if getattr(session, "_pending_buffer", None):
            return True
        return self._socket_input_pending(session.interface)

    def _visa_error(self, exc: Exception, what: str) -> InstrumentCommunicationError:
        import pyvisa.constants as vc

        code = getattr(exc, "error_code", None)
        if code == vc.StatusCode.error_timeout:
            self._stale = True
            return self._timeout_error()
        return ConnectError(f"{what} failed: {exc}", instrument=self.name)

    def _send(self, data: bytes) -> None:
        import pyvisa

        try:
            self._res.write_raw(data)
        except pyvisa.errors.VisaIOError as exc:
            raise self._visa_error(exc, "write") from exc

    def _recv_until(self, terminator: bytes) -> bytes:
        import pyvisa

        res = self._res
        # Each pyvisa attribute write is a VISA call: only on change.
        if terminator != self._visa_term:
            res.read_termination = terminator.decode(self.encoding)
            self._visa_term = terminator
        if self.timeout != self._visa_timeout:
            res.timeout = self.timeout * 1000
            self._visa_timeout = self.timeout
        try:
            return res.read_raw()
        except pyvisa.errors.VisaIOError as exc:
            raise self._visa_error(exc, "read") from exc

    def _recv_exact(self, size: int) -> bytes:
        import pyvisa

        try:
            return self._res.read_bytes(size)
        except pyvisa.errors.VisaIOError as exc:
            raise self._visa_error(exc, "read") from exc

    def _discard_input(self) -> bytes:
        import pyvisa

        self._res.timeout = 50
        dropped = bytearray()
        try:
            while True:
                dropped += self._res.read_raw()
        except (pyvisa.errors.VisaIOError, OSError):
            pass
        finally:
            # Every read path (terminated or sized) must see the instrument's own timeout again.
            self._res.timeout = self.timeout * 1000
            self._visa_timeout = self.timeout
        return bytes(dropped)


def transport_kind(address: str) -> str:
    """Which transport an address calls for: ``visa``, ``serial`` or ``tcp``."""
    upper = address.upper()
    if upper.startswith(VISA_PREFIXES):
        return "visa"
    if address.startswith("tcp://"):
        return "tcp"
    return "serial"


TRANSPORTS: dict[str, type[Transport]] = {"visa": VisaTransport, "serial": SerialTransport, "tcp": TcpTransport}

SERIAL_ONLY = {"baudrate", "bytesize", "parity", "stopbits", "xonxoff", "rtscts"}


def open_transport(address: str, **settings: Any) -> Transport:
    """Make (not yet open) the transport an address calls for.

    Settings that do not apply to that transport (a baud rate for a TCP socket) are dropped, so
    a driver can declare its serial settings once and still be reached over a socket.
    """
    kind = transport_kind(address)
    if kind != "serial":
        settings = {k: v for k, v in settings.items() if k not in SERIAL_ONLY}
    if kind != "visa":
        settings.pop("visa_library", None)
    return TRANSPORTS[kind](address, **settings)
