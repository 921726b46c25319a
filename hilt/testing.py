"""Test helpers for driver authors: protocol tests over a real loopback socket.

:func:`expected_protocol` starts a scripted peer that expects exactly the given bytes, in order,
and answers with the given bytes; the driver talks to it through its real transport (pyvisa-py
socket or pyserial ``socket://``), so a protocol test exercises the same code path as the lab::

    with expected_protocol(KeysightE8257D, [(b":FREQ:CW?\\n", b"+1.0E+10\\n")]) as synth:
        assert synth.frequency.get() == 1e10

Leaving the block asserts that every expected exchange happened and nothing else was sent.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any

Exchange = tuple[bytes | None, bytes | None]


class ScriptedPeer:
    """A loopback TCP peer that plays one side of a scripted conversation."""

    def __init__(self, exchanges: Sequence[Exchange], *, greeting: bytes = b"", timeout: float = 5.0) -> None:
        self.exchanges = list(exchanges)
        self.greeting = greeting
        self.timeout = timeout
        self.received = bytearray()
        self.problems: list[str] = []
        self.done = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True, name="scripted-peer")
        self._thread.start()

    def address(self, kind: str) -> str:
        if kind == "serial":
            return f"socket://127.0.0.1:{self.port}"
        if kind == "tcp":
            return f"tcp://127.0.0.1:{self.port}"
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def _run(self) -> None:
        self._listener.settimeout(self.timeout)
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(self.timeout)
            if self.greeting:
                conn.sendall(self.greeting)
            buffer = bytearray()
            for expected, reply in self.exchanges:
                if expected:
                    while len(buffer) < len(expected):
                        try:
                            chunk = conn.recv(65536)
                        except OSError:
                            chunk = b""
                        if not chunk:
                            self.problems.append(f"exchange {self.done}: expected {expected!r}, got {bytes(buffer)!r} and then nothing")
                            return
                        buffer += chunk
                        self.received += chunk
                    got = bytes(buffer[: len(expected)])
                    del buffer[: len(expected)]
                    if got != expected:
                        self.problems.append(f"exchange {self.done}: expected {expected!r}, got {got!r}")
                        return
                if reply:
                    conn.sendall(reply)
                self.done += 1
            # Anything more the driver sends is a protocol error; wait briefly for the close.
            conn.settimeout(0.2)
            with contextlib.suppress(OSError):
                extra = bytes(buffer) + conn.recv(65536)
                if extra:
                    self.received += extra
                    self.problems.append(f"unexpected bytes after the script: {extra!r}")

    def finish(self) -> None:
        """Wait for the peer and raise AssertionError on any mismatch."""
        self._thread.join(self.timeout + 1)
        self._listener.close()
        if self.problems:
            raise AssertionError("; ".join(self.problems))
        if self.done != len(self.exchanges):
            raise AssertionError(f"only {self.done} of {len(self.exchanges)} exchanges happened; "
                                 f"received {bytes(self.received)!r}")


def transport_kind_of(driver_cls: type) -> str:
    settings = getattr(driver_cls, "transport_settings", {})
    return "serial" if "baudrate" in settings else "visa"


@contextlib.contextmanager
def expected_protocol(driver_cls: type, exchanges: Sequence[Exchange], *, greeting: bytes = b"",
                      kind: str | None = None, connect: bool = True, **kwargs: Any) -> Iterator[Any]:
    """A connected driver whose peer expects exactly ``exchanges``; checked on leaving."""
    peer = ScriptedPeer(exchanges, greeting=greeting)
    inst = driver_cls(peer.address(kind or transport_kind_of(driver_cls)), **kwargs)
    try:
        if connect:
            inst.connect()
        yield inst
    finally:
        inst.close()
        peer.finish()
