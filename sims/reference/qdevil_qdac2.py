"""QDAC-II command reference: *QDevil QDAC-II Command Reference* (SCPI), as QDevil's own QCoDeS
driver spells the commands: the DC output per channel (level, range, filter, slew, the present
output), the DC generators (sweeps, lists, their triggers and control), bus and internal
triggers, current sensing with its buffer, and the common and SYSTem queries. Left out: the
waveform generators (sine, triangle, square, AWG and traces), markers, external trigger outputs
and the LAN settings."""

from hilt.sims.reference import Command, Reference, common, scpi_system

_COMMON, _SOUR, _SWE, _LIST = "Common commands", "SOURce (DC output)", "Sweep generator", "List generator"
_DC, _TRIG, _SENS, _SYST = "DC generator control", "Triggers", "Current sensing", "SYSTem"

REFERENCE = Reference(
    model="qdevil_qdac2",
    manual="QDevil QDAC-II Command Reference (SCPI)",
    syntax="scpi",
    commands=common("*IDN?", "*RST", "*CLS", "*ESE", "*ESR?", "*SRE", "*STB?", "*OPC", "*WAI", "*TST?",
                    subsystem=_COMMON)
    + tuple(Command(*row) for row in (
        ("[:SOURce<n>]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", _SOUR, "sour1:volt?", "DC voltage"),
        ("[:SOURce<n>]:VOLTage:LAST?", _SOUR, "sour1:volt:last?", "the output now"),
        ("[:SOURce<n>]:VOLTage:MODE", _SOUR, "sour1:volt:mode?", "fixed, sweep or list"),
        ("[:SOURce<n>]:VOLTage:SLEW", _SOUR, "sour1:volt:slew?", "slew rate"),
        ("[:SOURce<n>]:VOLTage:TRIGger", _SOUR, "sour1:volt:trig?", "triggered fixed level"),
        ("[:SOURce<n>]:RANGe", _SOUR, "sour1:rang?", "high or low range"),
        ("[:SOURce<n>]:FILTer", _SOUR, "sour1:filt?", "output filter"),
        ("[:SOURce<n>]:SWEep:STARt", _SWE, "sour1:swe:star?", "start voltage"),
        ("[:SOURce<n>]:SWEep:STOP", _SWE, "sour1:swe:stop?", "stop voltage"),
        ("[:SOURce<n>]:SWEep:POINts", _SWE, "sour1:swe:poin?", "points"),
        ("[:SOURce<n>]:SWEep:DWELl", _SWE, "sour1:swe:dwel?", "time per point"),
        ("[:SOURce<n>]:SWEep:DIRection", _SWE, "sour1:swe:dir?", "up or down"),
        ("[:SOURce<n>]:SWEep:GENeration", _SWE, "sour1:swe:gen?", "stepped or analog"),
        ("[:SOURce<n>]:SWEep:COUNt", _SWE, "sour1:swe:coun?", "repetitions"),
        ("[:SOURce<n>]:SWEep:TIME?", _SWE, "sour1:swe:time?", "duration of one sweep"),
        ("[:SOURce<n>]:SWEep:NCLeft?", _SWE, "sour1:swe:ncl?", "cycles remaining"),
        ("[:SOURce<n>]:LIST:VOLTage", _LIST, "sour1:list:volt?", "the list"),
        ("[:SOURce<n>]:LIST:VOLTage:APPend", _LIST, "sour1:list:volt:app 0.5", "append to the list"),
        ("[:SOURce<n>]:LIST:POINts?", _LIST, "sour1:list:poin?", "points in the list"),
        ("[:SOURce<n>]:LIST:DWELl", _LIST, "sour1:list:dwel?", "time per point"),
        ("[:SOURce<n>]:LIST:DIRection", _LIST, "sour1:list:dir?", "up or down"),
        ("[:SOURce<n>]:LIST:COUNt", _LIST, "sour1:list:coun?", "repetitions"),
        ("[:SOURce<n>]:LIST:TMODe", _LIST, "sour1:list:tmod?", "whole list or one point per trigger"),
        ("[:SOURce<n>]:LIST:NCLeft?", _LIST, "sour1:list:ncl?", "cycles remaining"),
        ("[:SOURce<n>]:DC:TRIGger:SOURce", _DC, "sour1:dc:trig:sour?", "generator trigger"),
        ("[:SOURce<n>]:DC:INITiate[:IMMediate]", _DC, "sour1:dc:init", "arm the generator"),
        ("[:SOURce<n>]:DC:INITiate:CONTinuous", _DC, "sour1:dc:init:cont?", "re-arm after a run"),
        ("[:SOURce<n>]:DC:ABORt", _DC, "sour1:dc:abor", "stop the generator"),
        ("[:SOURce<n>]:DC:DELay", _DC, "sour1:dc:del?", "delay after the trigger"),
        ("*TRG", _TRIG, "*TRG", "bus trigger"),
        (":TINT", _TRIG, "tint 1", "fire an internal trigger"),
        ("READ<n>?", _SENS, "read1?", "measure the current"),
        ("FETCh<n>?", _SENS, "fetc1?", "the last current reading"),
        ("[:SENSe<n>]:RANGe", _SENS, "sens1:rang?", "current sense range"),
        ("[:SENSe<n>]:NPLCycles", _SENS, "sens1:nplc?", "integration time (mains cycles)"),
        ("[:SENSe<n>]:APERture", _SENS, "sens1:aper?", "integration time (s)"),
        ("[:SENSe<n>]:DELay", _SENS, "sens1:del?", "delay after the trigger"),
        ("[:SENSe<n>]:COUNt", _SENS, "sens1:coun?", "measurements per trigger"),
        ("[:SENSe<n>]:TRIGger:SOURce", _SENS, "sens1:trig:sour?", "measurement trigger"),
        ("[:SENSe<n>]:INITiate[:IMMediate]", _SENS, "sens1:init", "arm the measurement"),
        ("[:SENSe<n>]:INITiate:CONTinuous", _SENS, "sens1:init:cont?", "re-arm after measuring"),
        ("[:SENSe<n>]:ABORt", _SENS, "sens1:abor", "stop measuring"),
        ("[:SENSe<n>]:DATA:REMove?", _SENS, "sens1:data:rem?", "read and empty the buffer"),
        ("[:SENSe<n>]:DATA:LAST?", _SENS, "sens1:data:last?", "the last reading"),
        ("[:SENSe<n>]:DATA:POINts?", _SENS, "sens1:data:poin?", "readings in the buffer"),
        ("[:SENSe<n>]:NCLeft?", _SENS, "sens1:ncl?", "measurements remaining"),
    ))
    + scpi_system(":SYSTem:ERRor[:NEXT]?", ":SYSTem:ERRor:ALL?", ":SYSTem:ERRor:COUNt?", subsystem=_SYST),
)
