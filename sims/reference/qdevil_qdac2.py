"""QDAC-II command reference: *QDevil QDAC-II Command Reference* (SCPI): the DC voltage source
commands per channel, current sensing, filters and ranges, and the system queries. Left out:
sweeps, lists, arbitrary waveforms, triggers and markers."""

from hilt.sims.reference import Command, Reference

_COMMON, _SOUR, _SENS, _SYST = "Common commands", "SOURce", "SENSe", "SYSTem"

REFERENCE = Reference(
    model="qdevil_qdac2",
    manual="QDevil QDAC-II Command Reference (SCPI)",
    syntax="scpi",
    commands=tuple(Command(*row) for row in (
        ("*IDN?", _COMMON, "*IDN?", "identification"),
        ("*RST", _COMMON, "*RST", "reset"),
        ("*CLS", _COMMON, "*CLS", "clear status"),
        ("*OPC", _COMMON, "*OPC?", "operation complete"),
        ("[:SOURce<n>]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", _SOUR, "sour1:volt?", "DC voltage"),
        ("[:SOURce<n>]:VOLTage:MODE", _SOUR, "sour1:volt:mode?", "fixed, sweep or list"),
        ("[:SOURce<n>]:VOLTage:SLEW", _SOUR, "sour1:volt:slew?", "slew rate"),
        ("[:SOURce<n>]:RANGe", _SOUR, "sour1:rang?", "high or low range"),
        ("[:SOURce<n>]:FILTer", _SOUR, "sour1:filt?", "output filter"),
        ("READ<n>?", _SENS, "read1?", "measured current"),
        ("[:SENSe<n>]:RANGe", _SENS, "sens1:rang?", "current sense range"),
        ("[:SENSe<n>]:NPLCycles", _SENS, "sens1:nplc?", "integration time"),
        (":SYSTem:ERRor[:NEXT]?", _SYST, "syst:err?", "next error"),
        (":SYSTem:ERRor:ALL?", _SYST, "syst:err:all?", "all errors"),
    )),
)
