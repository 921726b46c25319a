"""Qontrol Q8b command reference: the same command set as the Q8iv
(:mod:`hilt.sims.reference.qontrol_q8iv`); only the full-scale current differs."""

from hilt.sims.reference import Reference
from hilt.sims.reference.qontrol_q8iv import commands

REFERENCE = Reference(
    model="qontrol_q8b",
    manual="Qontrol Q8iv / Q8b programming manual, command reference",
    syntax="mnemonic",
    commands=commands(),
)
