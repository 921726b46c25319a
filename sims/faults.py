"""Fault injection for simulators, switchable while the simulator runs.

A test (or a person exploring the GUI) sets fields on ``sim.faults``; the server applies them to
the traffic of every client:

* ``drop``: close the connection instead of answering the next command;
* ``delay``: seconds to wait before each reply (longer than the driver's timeout -> a timeout);
* ``garble``: corrupt replies (flip bits in every reply byte but the terminator);
* ``error``: make the next ``error_count`` commands fail with the instrument's own error
  (the simulator decides how its instrument reports it: an error queue entry, an ``Error:`` line,
  an ``E10:0`` message, ...).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Faults:
    drop: bool = False
    delay: float = 0.0
    garble: bool = False
    error: bool = False
    error_count: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def clear(self) -> None:
        self.drop = self.garble = self.error = False
        self.delay = 0.0
        self.error_count = 1

    def take_error(self) -> bool:
        """True once per injected error, counting them down."""
        with self._lock:
            if not self.error:
                return False
            self.error_count -= 1
            if self.error_count <= 0:
                self.error = False
                self.error_count = 1
            return True


def garble_bytes(data: bytes, terminator: bytes) -> bytes:
    """Corrupt a reply while keeping its terminator, so the driver reads it and must notice."""
    keep = bool(terminator) and data.endswith(terminator)
    body = data[: -len(terminator)] if keep else data
    garbled = bytes((b ^ 0x5A) | 0x80 for b in body) or b"\xff"
    return garbled + (terminator if keep else b"")
