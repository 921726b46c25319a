"""TSL-550 command reference: the Santec TSL-5xx SCPI command set (TSL-570 operation manual,
"SCPI commands", pp. 69-99, which the TSL-550's SCPI firmware shares; the TSL-550 manual's own
pages were not retrievable): the common commands, wavelength, power, sweep, trigger, logging
(read-out) and system commands. Left out: the legacy (Santec command set 2) commands, the
communication set-up (GPIB address, delimiter, Ethernet), display and the SPECial commands."""

from hilt.sims.reference import Command, Reference, common, scpi_system

_COMMON, _WAV, _POW, _SWE = "Common commands", "Wavelength", "Power", "Sweep"
_TRIG, _READ, _SYST = "Trigger", "Logging (read-out)", "System"

REFERENCE = Reference(
    model="santec_tsl550",
    manual="Santec TSL-5xx SCPI command set (TSL-570 operation manual, SCPI commands, pp. 69-99)",
    syntax="scpi",
    commands=common("*IDN?", "*RST", "*CLS", "*ESE", "*ESR?", "*SRE", "*STB?", "*OPC", "*WAI", "*TST?",
                    subsystem=_COMMON)
    + tuple(Command(*row) for row in (
        (":WAVelength", _WAV, ":WAV?", "wavelength (nm)"),
        (":WAVelength:UNIT", _WAV, ":WAV:UNIT?", "displayed unit, nm or THz"),
        (":WAVelength:FINe", _WAV, ":WAV:FIN?", "fine tuning"),
        (":WAVelength:FINetuning:DISable", _WAV, ":WAV:FINETUNING:DIS", "end fine tuning"),
        (":WAVelength:OFFSet", _WAV, ":WAV:OFFS?", "wavelength offset"),
        (":FREQuency", _WAV, ":FREQ?", "optical frequency (THz)"),
        (":COHCtrl", _WAV, ":COHC?", "coherence control"),
        (":POWer[:LEVel]", _POW, ":POW?", "output power setpoint"),
        (":POWer:ACTual[:LEVel]?", _POW, ":POW:ACT?", "monitored power"),
        (":POWer:UNIT", _POW, ":POW:UNIT?", "dBm or mW"),
        (":POWer:STATe", _POW, ":POW:STAT?", "LD current on/off"),
        (":POWer:ATTenuation", _POW, ":POW:ATT?", "attenuator (dB)"),
        (":POWer:ATTenuation:AUTo", _POW, ":POW:ATT:AUT?", "automatic power control"),
        (":POWer:SHUTter", _POW, ":POW:SHUT?", "internal shutter"),
        (":AM:STATe", _POW, ":AM:STAT?", "modulation on/off"),
        (":AM:SOURce", _POW, ":AM:SOUR?", "modulation source"),
        (":WAVelength:SWEep:STARt", _SWE, ":WAV:SWE:STAR?", "sweep start (nm)"),
        (":WAVelength:SWEep:STOP", _SWE, ":WAV:SWE:STOP?", "sweep stop (nm)"),
        (":FREQuency:SWEep:STARt", _SWE, ":FREQ:SWE:STAR?", "sweep start (THz)"),
        (":FREQuency:SWEep:STOP", _SWE, ":FREQ:SWE:STOP?", "sweep stop (THz)"),
        (":WAVelength:SWEep:MODe", _SWE, ":WAV:SWE:MOD?", "step/continuous, one-/two-way"),
        (":WAVelength:SWEep:SPEed", _SWE, ":WAV:SWE:SPE?", "sweep speed (nm/s)"),
        (":WAVelength:SWEep:STEP", _SWE, ":WAV:SWE:STEP?", "step of a step sweep (nm)"),
        (":FREQuency:SWEep:STEP", _SWE, ":FREQ:SWE:STEP?", "step of a step sweep (THz)"),
        (":WAVelength:SWEep:DWELl", _SWE, ":WAV:SWE:DWEL?", "dwell per step (s)"),
        (":WAVelength:SWEep:DELay", _SWE, ":WAV:SWE:DEL?", "wait between sweeps (s)"),
        (":WAVelength:SWEep:CYCLes", _SWE, ":WAV:SWE:CYCL?", "repetitions"),
        (":WAVelength:SWEep:COUNt?", _SWE, ":WAV:SWE:COUN?", "sweeps done"),
        (":WAVelength:SWEep[:STATe]", _SWE, ":WAV:SWE?", "sweep start/stop and state"),
        (":WAVelength:SWEep:STATe:REPeat", _SWE, ":WAV:SWE:STAT:REP", "repeating sweep"),
        (":TRIGger:INPut:EXTernal", _TRIG, ":TRIG:INP:EXT?", "external trigger input on/off"),
        (":TRIGger:INPut:EXTernal:ACTive", _TRIG, ":TRIG:INP:EXT:ACT?", "input trigger polarity"),
        (":TRIGger:INPut:STANdby", _TRIG, ":TRIG:INP:STAN?", "trigger input standby"),
        (":TRIGger:INPut:SOFTtrigger", _TRIG, ":TRIG:INP:SOFT", "software trigger"),
        (":TRIGger:OUTPut", _TRIG, ":TRIG:OUTP?", "output trigger timing"),
        (":TRIGger:OUTPut:ACTive", _TRIG, ":TRIG:OUTP:ACT?", "output trigger polarity"),
        (":TRIGger:OUTPut:STEP", _TRIG, ":TRIG:OUTP:STEP?", "output trigger interval"),
        (":TRIGger:OUTPut:SETTing", _TRIG, ":TRIG:OUTP:SETT?", "interval in time or wavelength"),
        (":TRIGger:THRough", _TRIG, ":TRIG:THR?", "trigger through"),
        (":READout:POINts?", _READ, ":READ:POIN?", "logged points"),
        (":READout:DATa?", _READ, ":READ:DAT?", "logged wavelengths"),
        (":READout:DATa:POWer?", _READ, ":READ:DAT:POW?", "logged powers"),
    ))
    + scpi_system(":SYSTem:ERRor[:NEXT]?", subsystem=_SYST)
    + tuple(Command(*row) for row in (
        (":SYSTem:ALERt?", _SYST, ":SYST:ALER?", "latest alert"),
        (":SYSTem:LOCK?", _SYST, ":SYST:LOCK?", "external interlock"),
    )),
)
