"""Fault injection for simulators, switchable while the simulator runs.

A test (or a person exploring the GUI) sets fields on ``sim.faults``; the server applies them to
the traffic of every client:

* ``drop``: close the connection instead of answering the next command (every command while
  set; with ``drop_count`` > 0 only that many times: a link that drops once);
* ``delay``: seconds to wait before each reply (longer than the driver's timeout -> a timeout);
  with ``delay_count`` > 0 only that many replies are delayed (a single late reply);
* ``garble``: corrupt replies (flip bits in every reply byte but the terminator);
* ``truncate``: send only the first half of each reply, without its terminator;
  ``garble_count`` / ``truncate_count`` > 0 limit either to that many replies;
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
    drop_count: int = 0
    delay: float = 0.0
    delay_count: int = 0
    garble: bool = False
    garble_count: int = 0
    truncate: bool = False
    truncate_count: int = 0
    error: bool = False
    error_count: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def clear(self) -> None:
        self.drop = self.garble = self.error = self.truncate = False
        self.delay = 0.0
        self.delay_count = self.drop_count = self.garble_count = self.truncate_count = 0
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


    def _take(self, flag: str) -> bool:
        with self._lock:
            if not getattr(self, flag):
                return False
            count = getattr(self, f"{flag}_count")
            if count > 0:
                setattr(self, f"{flag}_count", count - 1)
                if count == 1:
                    setattr(self, flag, False)
            return True

    def take_drop(self) -> bool:
        """True when this command's connection is to be dropped (counting ``drop_count`` down)."""
        return self._take("drop")

    def take_garble(self) -> bool:
        return self._take("garble")

    def take_truncate(self) -> bool:
        return self._take("truncate")

    def take_delay(self) -> float:
        """Seconds to hold the next reply (counting ``delay_count`` down when it is set)."""
        with self._lock:
            if self.delay <= 0:
                return 0.0
            delay = self.delay
            if self.delay_count > 0:
                self.delay_count -= 1
                if self.delay_count == 0:
                    self.delay = 0.0
            return delay


def truncate_bytes(data: bytes) -> bytes:
    """The first half of a reply: its terminator (and, for a frame, its tail) never comes."""
    return data[: max(1, len(data) // 2)]


def garble_bytes(data: bytes, terminator: bytes) -> bytes:
    """Corrupt a reply while keeping its terminator, so the driver reads it and must notice."""
    keep = bool(terminator) and data.endswith(terminator)
    body = data[: -len(terminator)] if keep else data
    garbled = bytes((b ^ 0x5A) | 0x80 for b in body) or b"\xff"
    return garbled + (terminator if keep else b"")
