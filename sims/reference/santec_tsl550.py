"""TSL-550 command reference: *Santec TSL-550 Operation Manual*, remote interface, SCPI command
list: wavelength, power, output, sweep and system commands. Left out: the legacy
(non-SCPI) command set and the trigger configuration."""

from hilt.sims.reference import Command, Reference

_COMMON, _WAV, _POW, _SWE, _SYST = "Common commands", "Wavelength", "Power", "Sweep", "System"

REFERENCE = Reference(
    model="santec_tsl550",
    manual="Santec TSL-550 Operation Manual, SCPI command list",
    syntax="scpi",
    commands=tuple(Command(*row) for row in (
        ("*IDN?", _COMMON, "*IDN?", "identification"),
        ("*RST", _COMMON, "*RST", "reset"),
        ("*CLS", _COMMON, "*CLS", "clear status"),
        ("*OPC", _COMMON, "*OPC?", "operation complete"),
        (":WAVelength", _WAV, ":WAV?", "wavelength"),
        (":WAVelength:UNIT", _WAV, ":WAV:UNIT?", "nm or THz"),
        (":WAVelength:FINE", _WAV, ":WAV:FINE?", "fine tuning"),
        (":FREQuency", _WAV, ":FREQ?", "optical frequency"),
        (":POWer[:LEVel]", _POW, ":POW?", "output power"),
        (":POWer:ACTual[:LEVel]?", _POW, ":POW:ACT?", "monitored power"),
        (":POWer:UNIT", _POW, ":POW:UNIT?", "dBm or mW"),
        (":POWer:STATe", _POW, ":POW:STAT?", "LD current on/off"),
        (":POWer:ATTenuation", _POW, ":POW:ATT?", "attenuator"),
        (":POWer:ATTenuation:AUTo", _POW, ":POW:ATT:AUT?", "automatic attenuation"),
        (":WAVelength:SWEep:STARt", _SWE, ":WAV:SWE:STAR?", "sweep start"),
        (":WAVelength:SWEep:STOP", _SWE, ":WAV:SWE:STOP?", "sweep stop"),
        (":WAVelength:SWEep:SPEed", _SWE, ":WAV:SWE:SPE?", "sweep speed"),
        (":WAVelength:SWEep[:STATe]", _SWE, ":WAV:SWE?", "sweep start/stop"),
        (":SYSTem:ERRor?", _SYST, ":SYST:ERR?", "next error"),
    )),
)
