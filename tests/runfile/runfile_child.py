"""A run-file writer in its own process, driven through its stdin/stdout (no sleeps).

    python runfile_child.py PATH stream   # write batches nonstop; print "flushed K" after each
                                          # batch K is flushed; the parent kills it when it likes
    python runfile_child.py PATH step     # write batch K, flush, print "flushed K", then wait for a
                                          # line on stdin: "next" writes another, "end" completes

Batch K logs scalars at step K and captures ROWS rows whose values all equal K, so the parent
can check every row it reads. Every third batch is followed by a checkpoint at step K.
"""

from __future__ import annotations

import sys

import numpy as np

from hilt.runfile import CaptureSpec, RunWriter

ROWS = 4
FRAME = (48, 48)


def batch(run: RunWriter, k: int) -> None:
    run.log_scalars(k, loss=1.0 / (k + 1), queries=ROWS * k)
    frames = np.full((ROWS, *FRAME), k, dtype=np.float32)
    run.capture("cam", step=k, epoch=k // 10, sample_idx=np.arange(ROWS) + ROWS * k,
                inputs=np.full((ROWS, 8), k, dtype=np.float32), physical=frames, twin=frames)
    if k % 3 == 2:
        run.save_checkpoint(k, {"w": np.full(3, float(k))}, {"lr": 0.1}, extra={"k": k})
    run.flush()
    print(f"flushed {k}", flush=True)


def main() -> None:
    path, mode = sys.argv[1], sys.argv[2]
    run = RunWriter.create(
        path, scalars=["loss"], seeds={"world": 1},
        captures={"cam": CaptureSpec(input_shape=(8,), physical_shape=FRAME, twin_shape=FRAME)},
    )
    k = 0
    while True:
        batch(run, k)
        k += 1
        if mode == "step":
            line = sys.stdin.readline().strip()
            if line != "next":
                run.close("completed" if line == "end" else "aborted")
                print("closed", flush=True)
                return


if __name__ == "__main__":
    main()
