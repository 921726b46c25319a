"""Damaged, truncated, foreign or unknown files: one clear line, quickly (never a hang)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from hilt.runfile import CaptureSpec, RunFileError, RunWriter, open_run
from hilt.runfile._files import ClearedFlagsView, read_superblock


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "run.h5"
    with RunWriter.create(path, scalars=["loss"],
                          captures={"cam": CaptureSpec(physical_shape=(100, 100))}) as run:
        for step in range(20):
            run.log_scalars(step, loss=1.0)
            run.capture("cam", step=step, physical=np.ones((2, 100, 100)))
    return path


def copy_of(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    return dst


def expect_error(path: Path, match: str) -> str:
    t0 = time.monotonic()
    with pytest.raises(RunFileError, match=match) as info:
        with open_run(path) as r:
            r.captures("cam")
    assert time.monotonic() - t0 < 5
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_garbage_bytes(tmp_path: Path) -> None:
    path = tmp_path / "garbage.h5"
    path.write_bytes(np.random.default_rng(0).bytes(10_000))
    expect_error(path, "not an HDF5 file")
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    expect_error(empty, "not an HDF5 file")


def test_damaged_superblock(tmp_path: Path, good_run: Path) -> None:
    path = copy_of(good_run, tmp_path / "r.h5")
    with open(path, "r+b") as fh:
        fh.seek(20)
        fh.write(b"\xff\xfe\xfd")
    expect_error(path, "superblock checksum")


def test_damaged_metadata(tmp_path: Path, good_run: Path) -> None:
    path = copy_of(good_run, tmp_path / "r.h5")
    with open(path, "r+b") as fh:
        fh.seek(48)  # the root group's object header follows the superblock
        fh.write(np.random.default_rng(1).bytes(2000))
    expect_error(path, "damaged")


@pytest.mark.parametrize("fraction", [0.5, 0.01])
def test_truncated(tmp_path: Path, good_run: Path, fraction: float) -> None:
    path = copy_of(good_run, tmp_path / "r.h5")
    with open(path, "r+b") as fh:
        fh.truncate(int(path.stat().st_size * fraction))
    expect_error(path, "truncated|damaged")


def test_truncated_crashed_run_fails_fast(tmp_path: Path, good_run: Path) -> None:
    # A file still marked "open for SWMR write" (as a crash leaves it), then cut short: HDF5's
    # SWMR-read open would retry for minutes; the reader must answer at once.
    path = copy_of(good_run, tmp_path / "r.h5")
    with open(path, "r+b") as fh:
        raw = bytearray(fh.read(48))
        raw[11] = 0x05
        from hilt.runfile._files import lookup3

        raw[44:48] = lookup3(bytes(raw[:44])).to_bytes(4, "little")
        fh.seek(0)
        fh.write(raw)
        fh.truncate(path.stat().st_size // 3)
    assert read_superblock(path).open_for_write
    expect_error(path, "truncated|damaged")


def test_foreign_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    msg = expect_error(path, "not a hilt run file")
    assert msg.count(":") >= 1


def test_unknown_layout_version(tmp_path: Path, good_run: Path) -> None:
    path = copy_of(good_run, tmp_path / "r.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["layout_version"] = 99
    expect_error(path, "layout version 99")


def test_missing_file_and_resume_of_non_run(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.h5", "no such run file")
    (tmp_path / "x.h5").write_bytes(b"not hdf5")
    with pytest.raises(RunFileError, match="not an HDF5 file"):
        RunWriter.resume(tmp_path / "x.h5")


def test_cleared_flags_view_leaves_file_untouched(tmp_path: Path, good_run: Path) -> None:
    path = copy_of(good_run, tmp_path / "r.h5")
    before = path.read_bytes()
    sb = read_superblock(path)
    with ClearedFlagsView(path, sb) as view, h5py.File(view, "r") as f:
        assert f.attrs["hilt_format"] == "hilt-run"
    assert path.read_bytes() == before
