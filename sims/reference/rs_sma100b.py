"""SMA100B command reference: *R&S SMA100B User Manual*, "Remote Control Commands", the same
subsystems as the SGS100A list (:mod:`hilt.sims.reference.rs_sgs100a`)."""

from hilt.sims.reference import Reference
from hilt.sims.reference.rs_sgs100a import commands

REFERENCE = Reference(
    model="rs_sma100b",
    manual="R&S SMA100B RF and Microwave Signal Generator User Manual, Remote Control Commands",
    syntax="scpi",
    commands=commands("SOUR:"),
)
