"""FPGA accelerator command reference: the hilt board protocol, version 1
(``docs/protocols/board.md``, the whole contract): every request type of its "Messages" table.
The ERROR frame (type ``FF``) is a reply only and is not listed.

Probes are hex: the type byte, then the payload. A fresh board has no model, so RUN_BATCH and
READ_RESULTS are answered with the board's own errors (no model, no results): the simulator
implements them all the same.
"""

from hilt.sims.reference import Command, Reference

_ID, _MODEL, _RUN, _SAFE = "Identity and status", "Model", "Inference", "Counters and reset"

REFERENCE = Reference(
    model="fpga_accelerator",
    manual="hilt board protocol, version 1 (docs/protocols/board.md)",
    syntax="framed",
    commands=tuple(Command(*row) for row in (
        ("IDENTIFY", _ID, "01", "board class, identity and limits, key=value lines"),
        ("STATUS", _ID, "02", "state, model CRC, load progress, last batch, last error"),
        # offset 0, total 1, one byte: a model too short to run (refused as malformed)
        ("LOAD_MODEL", _MODEL, "10" "00000000" "00000001" "01", "a chunk of the model payload"),
        # batch 1, sample_bytes 1, arg 0, one sample
        ("RUN_BATCH", _RUN, "20" "00000001" "00000001" "00000000" "00", "a batch of int8 samples"),
        ("READ_RESULTS", _RUN, "21" "00000001" "00000000" "00000001", "results of the last batch"),
        ("READ_COUNTERS", _SAFE, "30", "cycles, latency, batches, frames"),
        ("RESET", _SAFE, "40" "00", "abort the batch (0) or forget everything (1)"),
    )),
)
