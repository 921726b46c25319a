"""Photonic processor command reference: hilt's own frame protocol, version 1
(``docs/protocols/photonic-processor.md``, the whole contract): every request type of its
"Messages" table. The ERROR frame (type ``FF``) is a reply only and is not listed.

Probes are hex: the type byte, then the payload (the simulator is probed with
``probe_options``: a 4-port, 2-layer chip, 16 heaters a layer).
"""

from hilt.sims.reference import Command, Reference

_ID, _HEAT, _RUN, _SAFE = "Identity", "Heaters", "Inference", "Light and safety"

REFERENCE = Reference(
    model="photonic_processor",
    manual="hilt photonic processor protocol, version 1 (docs/protocols/photonic-processor.md)",
    syntax="framed",
    commands=tuple(Command(*row) for row in (
        ("INFO", _ID, "01", "architecture and limits, JSON"),
        # layer 0, offset 0, count 1, one f32 volt (0.0)
        ("SET_HEATERS", _HEAT, "10" "0000" "00000000" "00000001" "00000000", "set heater volts"),
        ("GET_HEATERS", _HEAT, "11" "0000", "read a layer's heater volts"),
        # flags 0, batch 1, n 4, four complex64 zeros
        ("RUN", _RUN, "20" "00" "00000001" "0004" + "00" * 32, "a batch of input vectors"),
        ("LIGHT", _SAFE, "30" "01" "3f800000", "light on/off and power (mW)"),
        ("SAFE", _SAFE, "40", "every heater to 0 V, light off"),
    )),
)
