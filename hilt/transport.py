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
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from hilt.errors import ConnectError, InstrumentCommunicationError, InstrumentTimeout

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


class _HeldSigint:
    """The SIGINT handler installed while a transaction runs: remember, don't raise."""

    __slots__ = ("caught",)

    def __init__(self) -> None:
        self.caught = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.caught = True


class hold_sigint:  # noqa: N801 - used like a function: ``with hold_sigint():``
    """Hold a Ctrl-C until the block ends, then raise it.

    Only the main thread receives signals, so elsewhere this does nothing; nor does it when
    someone else (a GUI, pytest, a user) owns SIGINT. The raw ``_signal`` calls skip the enum
    conversions of :func:`signal.signal`: this runs on every instrument transaction.
    """

    __slots__ = ("_held", "_previous")

    def __enter__(self) -> None:
        self._held = None
        if threading.current_thread() is _MAIN and _signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._held = _HeldSigint()
            self._previous = _signal.signal(signal.SIGINT, self._held)

    def __exit__(self, *exc: object) -> None:
        if self._held is not None:
            _signal.signal(signal.SIGINT, self._previous)
            if self._held.caught:
                raise KeyboardInterrupt


class _Transaction:
    """The lock, held across a whole exchange; the outermost level also holds Ctrl-C."""

    __slots__ = ("_t", "_sigint")

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def __enter__(self) -> Transport:
        t = self._t
        t.lock.acquire()
        try:
            if t._depth == 0:
                t._owner = threading.get_ident()
                if not t.is_open:
                    raise ConnectError("not connected", instrument=t.name)
                self._sigint = hold_sigint()
                self._sigint.__enter__()
                if t._stale:
                    t._stale = False
                    t._discard_input()
        except BaseException:
            t.lock.release()
            raise
        t._depth += 1
        return t

    def __exit__(self, *exc: object) -> None:
        t = self._t
        t._depth -= 1
        try:
            if t._depth == 0:
                t._owner = None
                self._sigint.__exit__()
        finally:
            t.lock.release()


class Transport:
    """Byte pipe with terminators, an encoding, a timeout, a lock and an exchange log."""

    kind = "abstract"

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
    ) -> None:
        self.address = address
        self.name = name or address
        self.timeout = timeout
        self.write_termination = write_termination
        self.read_termination = read_termination
        self.encoding = encoding
        self.lock = threading.RLock()
        # Plain tuples: this runs twice per transaction; Exchange objects are made on reading.
        self._log: deque[tuple[float, str, bytes]] = deque(maxlen=log_size)
        self._stale = False  # a reply may still be in flight after a timeout
        self._depth = 0  # transaction nesting, guarded by the lock
        self._owner: int | None = None  # thread holding the outermost transaction
        self.is_open = False

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

    def _discard_input(self) -> None:
        """Drop whatever the instrument sent that nobody read (a late reply after a timeout)."""
        raise NotImplementedError

    # -- public ------------------------------------------------------------------------------
    def open(self) -> None:
        with self.lock:
            if not self.is_open:
                self._open()
                self.is_open = True

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

    def mark_stale(self) -> None:
        """Drop whatever unread input is waiting before the next transaction starts (a driver that
        finds the stream out of step, e.g. a bad frame or an unsolicited error line, calls this)."""
        self._stale = True

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
        self._record("->", data)
        try:
            self._send(data)
        except InstrumentCommunicationError:
            raise
        except OSError as exc:
            raise ConnectError(f"write failed: {exc}", instrument=self.name, command=data) from exc

    def _read_unlocked(self, terminator: bytes) -> bytes:
        try:
            data = self._recv_until(terminator)
        except InstrumentTimeout:
            self._stale = True
            raise
        except InstrumentCommunicationError:
            raise
        except OSError as exc:
            raise ConnectError(f"read failed: {exc}", instrument=self.name) from exc
        self._record("<-", data)
        return data

    def _decode(self, raw: bytes) -> str:
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            from hilt.errors import ProtocolError

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
            try:
                data = self._recv_exact(size)
            except InstrumentTimeout:
                self._stale = True
                raise
            except OSError as exc:
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


class TcpTransport(Transport):
    """A plain TCP socket (``tcp://host:port``)."""

    kind = "tcp"

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

    def _discard_input(self) -> None:
        assert self._sock is not None
        self._buffer.clear()
        self._sock.settimeout(0.0)
        with contextlib.suppress(OSError):
            while self._sock.recv(65536):
                pass


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

    def _discard_input(self) -> None:
        self._port.reset_input_buffer()


class VisaTransport(Transport):
    """pyvisa resource; pyvisa-py (``@py``) unless another VISA library is named."""

    kind = "visa"
    _managers: dict[str, Any] = {}
    _managers_lock = threading.Lock()

    def __init__(self, address: str, *, visa_library: str | None = None, **settings: Any) -> None:
        super().__init__(address, **settings)
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
        if self._res is not None:
            self._res.close()
            self._res = None

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

    def _discard_input(self) -> None:
        import pyvisa

        self._res.timeout = 50
        self._visa_timeout = 0.05
        try:
            while True:
                self._res.read_raw()
        except (pyvisa.errors.VisaIOError, OSError):
            pass


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
