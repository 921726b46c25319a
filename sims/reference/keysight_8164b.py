"""8164B command reference: *8163A/B, 8164A/B & 8166A/B Mainframes Programming Guide*, chapter 4
(tunable laser commands of the SOURce subsystem: wavelength, power, modulation state, sweep and
lambda logging; the TRIGger subsystem as the laser uses it; the SLOT queries) and the common
commands. Left out: power meter and attenuator modules (SENSe, the power meter's TRIGger input
modes), MMEMory, STATus, the PMAX curve and the coherence control settings."""

from hilt.sims.reference import Command, Reference, common, scpi_system

_COMMON, _SOUR, _SWE = "Common commands", "SOURce (tunable laser)", "Sweep and lambda logging"
_TRIG, _SYST = "TRIGger", "SYSTem and SLOT"

REFERENCE = Reference(
    model="keysight_8164b",
    manual="Keysight 8163A/B, 8164A/B & 8166A/B Mainframes Programming Guide",
    syntax="scpi",
    commands=common("*IDN?", "*OPT?", "*RST", "*CLS", "*ESE", "*ESR?", "*SRE", "*STB?", "*OPC", "*WAI",
                    "*TST?", subsystem=_COMMON)
    + tuple(Command(*row) for row in (
        ("[:SOURce<n>]:WAVelength[:CW]", _SOUR, ":SOUR0:WAV?", "wavelength"),
        ("[:SOURce<n>]:WAVelength:FREQuency", _SOUR, ":SOUR0:WAV:FREQ?", "relative frequency reference"),
        ("[:SOURce<n>]:POWer[:LEVel][:IMMediate][:AMPLitude]", _SOUR, ":SOUR0:POW?", "output power"),
        ("[:SOURce<n>]:POWer:UNIT", _SOUR, ":SOUR0:POW:UNIT?", "dBm or W"),
        ("[:SOURce<n>]:POWer:STATe", _SOUR, ":SOUR0:POW:STAT?", "laser on/off"),
        ("[:SOURce<n>]:POWer:ATTenuation", _SOUR, ":SOUR0:POW:ATT?", "attenuation"),
        ("[:SOURce<n>]:AM:STATe", _SOUR, ":SOUR0:AM:STAT?", "amplitude modulation"),
        ("[:SOURce<n>]:WAVelength:SWEep:MODE", _SWE, ":SOUR0:WAV:SWE:MODE?", "stepped, manual or continuous"),
        ("[:SOURce<n>]:WAVelength:SWEep:REPeat", _SWE, ":SOUR0:WAV:SWE:REP?", "one- or two-way"),
        ("[:SOURce<n>]:WAVelength:SWEep:STARt", _SWE, ":SOUR0:WAV:SWE:STAR?", "start wavelength"),
        ("[:SOURce<n>]:WAVelength:SWEep:STOP", _SWE, ":SOUR0:WAV:SWE:STOP?", "stop wavelength"),
        ("[:SOURce<n>]:WAVelength:SWEep:STEP[:WIDTh]", _SWE, ":SOUR0:WAV:SWE:STEP?", "step / trigger interval"),
        ("[:SOURce<n>]:WAVelength:SWEep:SPEed", _SWE, ":SOUR0:WAV:SWE:SPE?", "continuous sweep speed"),
        ("[:SOURce<n>]:WAVelength:SWEep:CYCLes", _SWE, ":SOUR0:WAV:SWE:CYCL?", "sweep cycles"),
        ("[:SOURce<n>]:WAVelength:SWEep:DWELl", _SWE, ":SOUR0:WAV:SWE:DWEL?", "dwell per step"),
        ("[:SOURce<n>]:WAVelength:SWEep[:STATe]", _SWE, ":SOUR0:WAV:SWE?", "start, stop, pause, continue"),
        ("[:SOURce<n>]:WAVelength:SWEep:CHECkparams?", _SWE, ":SOUR0:WAV:SWE:CHEC?", "sweep parameters consistent?"),
        ("[:SOURce<n>]:WAVelength:SWEep:EXPectedtriggernum?", _SWE, ":SOUR0:WAV:SWE:EXP?", "triggers to expect"),
        ("[:SOURce<n>]:WAVelength:SWEep:SOFTtrigger", _SWE, ":SOUR0:WAV:SWE:SOFT", "software trigger"),
        ("[:SOURce<n>]:WAVelength:SWEep:LLOGging", _SWE, ":SOUR0:WAV:SWE:LLOG?", "lambda logging"),
        ("[:SOURce<n>]:READout:DATA?", _SWE, ":SOUR0:READ:DATA? LLOG", "logged wavelengths"),
        ("[:SOURce<n>]:READout:POINts?", _SWE, ":SOUR0:READ:POIN? LLOG", "logged points"),
        (":TRIGger<n>[:CHANnel<n>]:OUTPut", _TRIG, ":TRIG0:OUTP?", "when an output trigger is made"),
        (":TRIGger<n>[:CHANnel<n>]:INPut", _TRIG, ":TRIG0:INP?", "what an input trigger does"),
        (":TRIGger:CONFiguration", _TRIG, ":TRIG:CONF?", "trigger connector configuration"),
        (":SLOT<n>:IDN?", _SYST, ":SLOT0:IDN?", "module identification"),
        (":SLOT<n>:EMPTy?", _SYST, ":SLOT0:EMPT?", "slot empty"),
    ))
    + scpi_system(":SYSTem:ERRor[:NEXT]?", subsystem=_SYST),
)
