"""Neuromorphic board command reference: hilt's board protocol, version 1
(``docs/protocols/board.md``, the whole contract): every request type of its "Messages" table,
with the neuromorphic class's payloads. The ERROR frame (type ``FF``) is a reply only and is not
listed.

Probes are hex: the type byte, then the payload (a fresh simulator: no model loaded, so RUN_BATCH
and READ_RESULTS are answered with the protocol's errors 8 and 11, which are implemented
answers).
"""

from hilt.sims.reference import Command, Reference

_ID, _MODEL, _RUN, _CTL = "Identity and status", "Model", "Inference", "Counters and reset"

REFERENCE = Reference(
    model="hilt_neuromorphic",
    manual="hilt board protocol, version 1, neuromorphic class (docs/protocols/board.md)",
    syntax="framed",
    commands=tuple(Command(*row) for row in (
        ("IDENTIFY", _ID, "01", "identity and limits, key=value lines"),
        ("STATUS", _ID, "02", "state, model CRC, load progress, last batch, last error"),
        # offset 0, total 7: the first 7 bytes (the header) of a 2-input, 1-layer network
        ("LOAD_MODEL", _MODEL, "10" "00000000" "00000007" "02010002010810", "a chunk of the model"),
        # batch 1, sample_bytes 2, arg 1 step: one tick of two input lines
        ("RUN_BATCH", _RUN, "20" "00000001" "00000002" "00000001" "0000", "a batch of event rasters"),
        ("READ_RESULTS", _RUN, "21" "00000001" "00000000" "00000001", "spikes of a batch"),
        ("READ_COUNTERS", _CTL, "30", "spikes, synaptic operations, time steps, latency"),
        ("RESET", _CTL, "40" "00", "stop the batch (level 0) or forget all (level 1)"),
    )),
)
