"""8164B command reference: *Keysight 8164B Lightwave Measurement System Programming Guide*
(tunable laser source commands of the SOURce subsystem, the SLOT and SYSTem queries and the
common commands). Left out: power meter modules (SENSe), sweep and logging, the TRIGger and
MMEMory subsystems."""

from hilt.sims.reference import Command, Reference

_COMMON, _SOUR, _SYST = "Common commands", "SOURce (tunable laser)", "SYSTem and SLOT"

REFERENCE = Reference(
    model="keysight_8164b",
    manual="Keysight 8164B Lightwave Measurement System Programming Guide",
    syntax="scpi",
    commands=tuple(Command(*row) for row in (
        ("*IDN?", _COMMON, "*IDN?", "identification"),
        ("*OPT?", _COMMON, "*OPT?", "installed modules"),
        ("*RST", _COMMON, "*RST", "reset"),
        ("*CLS", _COMMON, "*CLS", "clear status"),
        ("*OPC", _COMMON, "*OPC?", "operation complete"),
        ("[:SOURce<n>]:WAVelength[:CW]", _SOUR, ":SOUR0:WAV?", "wavelength"),
        ("[:SOURce<n>]:WAVelength:FREQuency", _SOUR, ":SOUR0:WAV:FREQ?", "optical frequency offset"),
        ("[:SOURce<n>]:POWer[:LEVel][:IMMediate][:AMPLitude]", _SOUR, ":SOUR0:POW?", "output power"),
        ("[:SOURce<n>]:POWer:UNIT", _SOUR, ":SOUR0:POW:UNIT?", "dBm or W"),
        ("[:SOURce<n>]:POWer:STATe", _SOUR, ":SOUR0:POW:STAT?", "laser on/off"),
        ("[:SOURce<n>]:POWer:ATTenuation", _SOUR, ":SOUR0:POW:ATT?", "attenuation"),
        ("[:SOURce<n>]:AM:STATe", _SOUR, ":SOUR0:AM:STAT?", "amplitude modulation"),
        ("[:SOURce<n>]:WAVelength:SWEep[:STATe]", _SOUR, ":SOUR0:WAV:SWE?", "wavelength sweep"),
        (":SLOT<n>:IDN?", _SYST, ":SLOT0:IDN?", "module identification"),
        (":SLOT<n>:EMPTy?", _SYST, ":SLOT0:EMPT?", "slot empty"),
        (":SYSTem:ERRor[:NEXT]?", _SYST, ":SYST:ERR?", "next error"),
    )),
)
