"""E8257D command reference: *Keysight E8257D/67D PSG Signal Generators SCPI Command Reference*,
the IEEE 488.2 common commands and the System, Diagnostic, Frequency, Power, Output, Phase,
Sweep/List, Trigger, Reference oscillator and analog modulation (AM, FM, phase modulation,
pulse) subsystems. Left out: the digital modulation, user flatness, memory and display
subsystems."""

from hilt.sims.reference import Command, Reference, common, scpi_system

_COMMON, _SYST, _DIAG = "IEEE 488.2 common", "System", "Diagnostic"
_FREQ, _POW, _OUTP, _PHAS = "Frequency", "Power", "Output", "Phase"
_SWE, _TRIG, _ROSC, _MOD = "Sweep and list", "Trigger", "Reference oscillator", "Analog modulation"

REFERENCE = Reference(
    model="keysight_e8257d",
    manual="Keysight E8257D/67D PSG Signal Generators SCPI Command Reference",
    syntax="scpi",
    commands=common(subsystem=_COMMON) + scpi_system(
        ":SYSTem:ERRor[:NEXT]?", ":SYSTem:ERRor:ALL?", ":SYSTem:VERSion?", subsystem=_SYST,
    ) + tuple(Command(*row) for row in (
        (":SYSTem:PRESet", _SYST, "SYST:PRES", "preset"),
        (":SYSTem:PRESet:TYPE", _SYST, "SYST:PRES:TYPE?", "preset type"),
        (":SYSTem:COMMunicate:LAN:IP", _SYST, "SYST:COMM:LAN:IP?", "LAN address"),
        (":SYSTem:DATE", _SYST, "SYST:DATE?", "date"),
        (":SYSTem:TIME", _SYST, "SYST:TIME?", "time"),
        (":DIAGnostic[:CPU]:INFOrmation:OPTions?", _DIAG, "DIAG:INFO:OPT?", "installed options"),
        (":DIAGnostic[:CPU]:INFOrmation:OPTions:DETail?", _DIAG, "DIAG:INFO:OPT:DET?", "options, detail"),
        (":DIAGnostic[:CPU]:INFOrmation:OTIMe?", _DIAG, "DIAG:INFO:OTIM?", "hours of operation"),
        (":DIAGnostic[:CPU]:INFOrmation:CCOunt:PON?", _DIAG, "DIAG:INFO:CCO:PON?", "power-on cycles"),
        (":DIAGnostic[:CPU]:INFOrmation:CCOunt:ATTenuator?", _DIAG, "DIAG:INFO:CCO:ATT?", "attenuator cycles"),
        (":DIAGnostic[:CPU]:INFOrmation:SDATe?", _DIAG, "DIAG:INFO:SDAT?", "firmware date"),
        (":DIAGnostic[:CPU]:INFOrmation:REVision?", _DIAG, "DIAG:INFO:REV?", "firmware revision"),
        (":DIAGnostic[:CPU]:INFOrmation:BOARds?", _DIAG, "DIAG:INFO:BOAR?", "installed boards"),
        (":DIAGnostic[:CPU]:INFOrmation:WLICence?", _DIAG, "DIAG:INFO:WLIC?", "waveform licences"),
        ("[:SOURce]:FREQuency[:CW]", _FREQ, "FREQ?", "CW frequency"),
        ("[:SOURce]:FREQuency:FIXed", _FREQ, "FREQ:FIX?", "CW frequency"),
        ("[:SOURce]:FREQuency:MODE", _FREQ, "FREQ:MODE?", "CW, sweep or list"),
        ("[:SOURce]:FREQuency:STARt", _FREQ, "FREQ:STAR?", "sweep start"),
        ("[:SOURce]:FREQuency:STOP", _FREQ, "FREQ:STOP?", "sweep stop"),
        ("[:SOURce]:FREQuency:MULTiplier", _FREQ, "FREQ:MULT?", "display multiplier"),
        ("[:SOURce]:FREQuency:OFFSet", _FREQ, "FREQ:OFFS?", "display offset"),
        ("[:SOURce]:FREQuency:REFerence", _FREQ, "FREQ:REF?", "reference frequency"),
        ("[:SOURce]:POWer[:LEVel][:IMMediate][:AMPLitude]", _POW, "POW?", "output power"),
        ("[:SOURce]:POWer:ALC[:STATe]", _POW, "POW:ALC?", "automatic level control"),
        ("[:SOURce]:POWer:ATTenuation", _POW, "POW:ATT?", "attenuator setting"),
        ("[:SOURce]:POWer:MODE", _POW, "POW:MODE?", "fixed, sweep or list"),
        ("[:SOURce]:POWer:OFFSet", _POW, "POW:OFFS?", "display offset"),
        ("[:SOURce]:POWer:REFerence", _POW, "POW:REF?", "reference power"),
        ("[:SOURce]:POWer:PROTection[:STATe]", _POW, "POW:PROT?", "power search protection"),
        (":OUTPut[:STATe]", _OUTP, "OUTP?", "RF output on/off"),
        (":OUTPut:MODulation[:STATe]", _OUTP, "OUTP:MOD?", "modulation on/off"),
        ("[:SOURce]:PHASe[:ADJust]", _PHAS, "PHAS?", "phase adjustment"),
        ("[:SOURce]:PHASe:REFerence", _PHAS, "PHAS:REF", "phase reference"),
        ("[:SOURce]:SWEep:POINts", _SWE, "SWE:POIN?", "step sweep points"),
        ("[:SOURce]:SWEep:DWELl", _SWE, "SWE:DWEL?", "step dwell"),
        ("[:SOURce]:LIST:TYPE", _SWE, "LIST:TYPE?", "list or step sweep"),
        (":INITiate:CONTinuous[:ALL]", _TRIG, "INIT:CONT?", "continuous sweep"),
        (":INITiate[:IMMediate][:ALL]", _TRIG, "INIT", "start one sweep"),
        (":TRIGger[:SEQuence]:SOURce", _TRIG, "TRIG:SOUR?", "trigger source"),
        ("[:SOURce]:ROSCillator:SOURce?", _ROSC, "ROSC:SOUR?", "reference in use"),
        ("[:SOURce]:AM[:STATe]", _MOD, "AM?", "amplitude modulation on/off"),
        ("[:SOURce]:AM[:DEPTh]", _MOD, "AM:DEPT?", "AM depth"),
        ("[:SOURce]:FM[:STATe]", _MOD, "FM?", "frequency modulation on/off"),
        ("[:SOURce]:FM[:DEViation]", _MOD, "FM:DEV?", "FM deviation"),
        ("[:SOURce]:PM[:STATe]", _MOD, "PM?", "phase modulation on/off"),
        ("[:SOURce]:PULM:STATe", _MOD, "PULM:STAT?", "pulse modulation on/off"),
    )),
)
