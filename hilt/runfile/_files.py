"""What the run file needs from the file system, below HDF5.

* The companion directory ``<run>.h5.d/`` next to each run file, holding the writer lock and the
  objects SWMR cannot add to a growing file (checkpoints, calibration tables added mid-run).
* The writer lock: the live writer holds an exclusive ``flock`` on ``<run>.h5.d/writer.lock`` for
  its whole life. The kernel drops it when the process dies, SIGKILL included, so "the file says
  running but nobody holds the lock" means the writer crashed. ``flock`` (not ``fcntl`` locks)
  because it is per open file, so a reader in the writer's own process still sees the lock.
  The lock file names the writer's host; a reader on another host falls back on the heartbeat.
* The HDF5 superblock. A SWMR writer marks the superblock "open for (SWMR) write"; after a crash
  the mark stays, HDF5 refuses a plain open and its SWMR-read open retries damaged metadata for
  minutes instead of failing. So we read and check the superblock ourselves (fast, clear errors),
  clear the mark in place before a resume (what the ``h5clear`` tool does), and read a crashed
  file through a view with the mark cleared, never touching the file.
"""

from __future__ import annotations

import errno
import io
import os
import socket
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hilt.runfile._errors import RunFileError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Superblock status flags (HDF5 file format spec, superblock version 2 and 3).
FLAG_WRITE = 0x01
FLAG_SWMR_WRITE = 0x04


def companion_dir(path: Path) -> Path:
    """The directory that belongs to a run file: ``run.h5`` -> ``run.h5.d``."""
    return path.with_name(path.name + ".d")


def lock_path(path: Path) -> Path:
    return companion_dir(path) / "writer.lock"


# -- the writer lock -------------------------------------------------------------------------
if sys.platform == "win32":  # pragma: no cover - untested: no Windows CI yet
    import msvcrt

    def _try_lock(fd: int, exclusive: bool) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        if not exclusive:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return True
else:
    import fcntl

    def _try_lock(fd: int, exclusive: bool) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class WriterLock:
    """An exclusive lock held by the one live writer of a run, for the writer's whole life."""

    def __init__(self, path: Path, *, wait_s: float = 1.0) -> None:
        lp = lock_path(path)
        lp.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(lp, os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o644)
        # A reader probing the lock holds it shared for microseconds; retry briefly for that.
        deadline = time.monotonic() + wait_s
        while not _try_lock(self._fd, exclusive=True):
            if time.monotonic() > deadline:
                os.close(self._fd)
                raise RunFileError(f"{path}: another live writer holds this run ({lp} is locked)")
            time.sleep(0.01)
        # Who holds it, so a reader on another host knows the lock says nothing to it.
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()} {socket.gethostname()}\n".encode())

    def release(self) -> None:
        if self._fd >= 0:
            # Closing drops the lock; the lock file stays, so no reader can race an unlink.
            os.close(self._fd)
            self._fd = -1


def writer_state(path: Path) -> str:
    """``alive``: a process on this host holds the run's writer lock; ``dead``: nobody does;
    ``unknown``: the last writer ran on another host (a lock over a network file system proves
    nothing) or the lock cannot be checked, so only the heartbeat can tell."""
    lp = lock_path(path)
    try:
        text = lp.read_text()
    except FileNotFoundError:
        return "dead"
    except OSError:
        return "unknown"
    parts = text.split()
    if len(parts) >= 2 and parts[1] != socket.gethostname():
        return "unknown"
    try:
        fd = os.open(lp, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return "unknown"
    try:
        free = _try_lock(fd, exclusive=False)
    except OSError:
        return "unknown"
    finally:
        os.close(fd)  # also drops the shared lock if we got it
    return "dead" if free else "alive"


# -- the superblock --------------------------------------------------------------------------
_M32 = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    for s1, s2, s3 in ((4, 6, 8), (16, 19, 4)):
        a = ((a - c) & _M32) ^ _rot(c, s1)
        c = (c + b) & _M32
        b = ((b - a) & _M32) ^ _rot(a, s2)
        a = (a + c) & _M32
        c = ((c - b) & _M32) ^ _rot(b, s3)
        b = (b + a) & _M32
    return a, b, c


def _final(a: int, b: int, c: int) -> int:
    c = ((c ^ b) - _rot(b, 14)) & _M32
    a = ((a ^ c) - _rot(c, 11)) & _M32
    b = ((b ^ a) - _rot(a, 25)) & _M32
    c = ((c ^ b) - _rot(b, 16)) & _M32
    a = ((a ^ c) - _rot(c, 4)) & _M32
    b = ((b ^ a) - _rot(a, 14)) & _M32
    return ((c ^ b) - _rot(b, 24)) & _M32


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``: HDF5's metadata checksum."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & _M32
    i = 0
    while length - i > 12:
        x, y, z = struct.unpack_from("<3I", data, i)
        a, b, c = _mix((a + x) & _M32, (b + y) & _M32, (c + z) & _M32)
        i += 12
    if length == 0:
        return c
    x, y, z = struct.unpack("<3I", data[i:] + bytes(12 - (length - i)))
    return _final((a + x) & _M32, (b + y) & _M32, (c + z) & _M32)


@dataclass(frozen=True)
class Superblock:
    offset: int  # where the signature is (0 unless the file has a user block)
    version: int
    flags: int  # status flags; 0 for versions 0 and 1, which SWMR never uses
    eof: int  # end-of-file address the superblock records (v2/3), -1 if not read
    size: int  # bytes covered by the checksum (v2/3)

    @property
    def open_for_write(self) -> bool:
        return bool(self.flags & (FLAG_WRITE | FLAG_SWMR_WRITE))


def read_superblock(path: Path) -> Superblock:
    """Find and check the superblock; a clear :class:`RunFileError` if it is not a sound one."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            offset = 0
            while True:  # the signature sits at 0, 512, 1024, 2048, ... (after a user block)
                fh.seek(offset)
                head = fh.read(12 + 4 * 8 + 4)
                if head[:8] == HDF5_SIGNATURE:
                    break
                offset = 512 if offset == 0 else offset * 2
                if offset >= size:
                    raise RunFileError(f"{path}: not an HDF5 file (no HDF5 signature)")
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(head) < 9:
        raise RunFileError(f"{path}: damaged HDF5 file (truncated superblock)")
    version = head[8]
    if version not in (2, 3):
        return Superblock(offset, version, 0, -1, 0)
    if len(head) < 12 or head[9] != 8:
        raise RunFileError(f"{path}: damaged HDF5 file (truncated or unsupported superblock)")
    n = 12 + 4 * 8
    if len(head) < n + 4 or struct.unpack_from("<I", head, n)[0] != lookup3(head[:n]):
        raise RunFileError(f"{path}: damaged HDF5 file (superblock checksum mismatch)")
    eof = struct.unpack_from("<Q", head, 12 + 2 * 8)[0]
    return Superblock(offset, version, head[11], eof, n)


def _patched_superblock(path: Path, sb: Superblock) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(sb.offset)
        raw = bytearray(fh.read(sb.size + 4))
    raw[11] = 0
    struct.pack_into("<I", raw, sb.size, lookup3(bytes(raw[: sb.size])))
    return bytes(raw)


def clear_write_flags(path: Path) -> None:
    """Clear the "open for write" marks a crashed SWMR writer left (``h5clear -s``), in place."""
    sb = read_superblock(path)
    if not sb.open_for_write:
        return
    raw = _patched_superblock(path, sb)
    with open(path, "r+b") as fh:
        fh.seek(sb.offset)
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())


class ClearedFlagsView(io.RawIOBase):
    """The file, read-only, as if its write marks were cleared: lets HDF5 open a crashed run
    without SWMR (so damage fails fast) and without modifying the file."""

    def __init__(self, path: Path, sb: Superblock) -> None:
        super().__init__()
        self._fh = open(path, "rb")
        self._patch = _patched_superblock(path, sb)
        self._start = sb.offset
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = self._fh.seek(pos, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        self._fh.seek(self._pos)
        n = self._fh.readinto(buf)
        lo = max(self._pos, self._start)
        hi = min(self._pos + n, self._start + len(self._patch))
        if lo < hi:
            view = memoryview(buf).cast("B")
            view[lo - self._pos : hi - self._pos] = self._patch[lo - self._start : hi - self._start]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()
