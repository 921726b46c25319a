"""SGS100A command reference: *R&S SGS100A SGMA RF Source User Manual*, chapter "Remote Control
Commands": common commands and the SYSTem, DIAGnostic, SOURce (frequency, power, phase,
reference oscillator, I/Q), OUTPut and TRIGger subsystems a lab uses. Left out: the MMEMory,
STATus, CALibration and UNIT subsystems."""

from hilt.sims.reference import Command, Reference, common, scpi_system

_COMMON, _SYST, _DIAG = "Common commands", "SYSTem", "DIAGnostic"
_FREQ, _POW, _PHAS, _OUTP = "SOURce:FREQuency", "SOURce:POWer", "SOURce:PHASe", "OUTPut"
_ROSC, _IQ, _OTHER = "SOURce:ROSCillator", "SOURce:IQ", "SOURce and TRIGger"


def commands(prefix: str) -> tuple[Command, ...]:
    """The list, shared with the SMA100B (same SCPI tree for these subsystems)."""
    return common(subsystem=_COMMON) + scpi_system(subsystem=_SYST) + tuple(Command(*row) for row in (
        (":SYSTem:PRESet", _SYST, "SYST:PRES", "preset"),
        (":SYSTem:DATE", _SYST, "SYST:DATE?", "date"),
        (":SYSTem:TIME", _SYST, "SYST:TIME?", "time"),
        (":SYSTem:COMMunicate:NETWork:IPADdress", _SYST, "SYST:COMM:NETW:IPAD?", "LAN address"),
        (":DIAGnostic:INFO:OTIMe?", _DIAG, "DIAG:INFO:OTIM?", "operating hours"),
        (":DIAGnostic:INFO:POCount?", _DIAG, "DIAG:INFO:POC?", "power-on count"),
        ("[:SOURce<hw>]:FREQuency[:CW]", _FREQ, f"{prefix}FREQ?", "RF frequency"),
        ("[:SOURce<hw>]:FREQuency:FIXed", _FREQ, f"{prefix}FREQ:FIX?", "RF frequency"),
        ("[:SOURce<hw>]:FREQuency:MODE", _FREQ, f"{prefix}FREQ:MODE?", "CW or sweep"),
        ("[:SOURce<hw>]:FREQuency:OFFSet", _FREQ, f"{prefix}FREQ:OFFS?", "frequency offset"),
        ("[:SOURce<hw>]:POWer[:LEVel][:IMMediate][:AMPLitude]", _POW, f"{prefix}POW?", "RF level"),
        ("[:SOURce<hw>]:POWer:LIMit[:AMPLitude]", _POW, f"{prefix}POW:LIM?", "level limit"),
        ("[:SOURce<hw>]:POWer:OFFSet", _POW, f"{prefix}POW:OFFS?", "level offset"),
        ("[:SOURce<hw>]:POWer:ALC[:STATe]", _POW, f"{prefix}POW:ALC?", "automatic level control"),
        ("[:SOURce<hw>]:PHASe", _PHAS, f"{prefix}PHAS?", "phase offset"),
        ("[:SOURce<hw>]:PHASe:REFerence", _PHAS, f"{prefix}PHAS:REF", "phase reference"),
        (":OUTPut<hw>[:STATe]", _OUTP, "OUTP?", "RF output on/off"),
        (":OUTPut<hw>:STATe:PON", _OUTP, "OUTP:STAT:PON?", "RF state at power-on"),
        ("[:SOURce]:ROSCillator:SOURce", _ROSC, "ROSC:SOUR?", "internal or external reference"),
        ("[:SOURce]:ROSCillator:EXTernal:FREQuency", _ROSC, "ROSC:EXT:FREQ?", "external reference frequency"),
        ("[:SOURce<hw>]:IQ:STATe", _IQ, f"{prefix}IQ:STAT?", "I/Q modulation on/off"),
        ("[:SOURce<hw>]:OPMode", _OTHER, f"{prefix}OPM?", "operating mode"),
        ("[:SOURce<hw>]:LOSCillator:SOURce", _OTHER, f"{prefix}LOSC:SOUR?", "LO source"),
        (":TRIGger<hw>:SOURce", _OTHER, "TRIG:SOUR?", "trigger source"),
    ))


REFERENCE = Reference(
    model="rs_sgs100a",
    manual="R&S SGS100A SGMA RF Source User Manual, Remote Control Commands",
    syntax="scpi",
    commands=commands("SOUR:"),
)
