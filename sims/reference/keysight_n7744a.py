"""N7744A command reference: *Keysight N7744A/N7745A Programming Guide* (multi-port optical
power meter): the SENSe power settings, READ/FETCh measurements, INITiate and the SYSTem
queries. Left out: logging, MinMax and stability functions (SENSe:FUNCtion), TRIGger and
MMEMory."""

from hilt.sims.reference import Command, Reference

_COMMON, _SENS, _MEAS, _SYST = "Common commands", "SENSe", "Measurement", "SYSTem"

REFERENCE = Reference(
    model="keysight_n7744a",
    manual="Keysight N7744A/N7745A Optical Multiport Power Meter Programming Guide",
    syntax="scpi",
    commands=tuple(Command(*row) for row in (
        ("*IDN?", _COMMON, "*IDN?", "identification"),
        ("*RST", _COMMON, "*RST", "reset"),
        ("*CLS", _COMMON, "*CLS", "clear status"),
        ("*OPC", _COMMON, "*OPC?", "operation complete"),
        (":SENSe<n>[:CHANnel<n>]:POWer:WAVelength", _SENS, ":SENS1:POW:WAV?", "wavelength"),
        (":SENSe<n>[:CHANnel<n>]:POWer:ATIMe", _SENS, ":SENS1:POW:ATIM?", "averaging time"),
        (":SENSe<n>[:CHANnel<n>]:POWer:UNIT", _SENS, ":SENS1:POW:UNIT?", "dBm or W"),
        (":SENSe<n>[:CHANnel<n>]:POWer:RANGe[:UPPer]", _SENS, ":SENS1:POW:RANG?", "power range"),
        (":SENSe<n>[:CHANnel<n>]:POWer:RANGe:AUTO", _SENS, ":SENS1:POW:RANG:AUTO?", "auto range"),
        (":SENSe<n>[:CHANnel<n>]:POWer:REFerence", _SENS, ":SENS1:POW:REF? TOREF", "reference"),
        (":SENSe<n>[:CHANnel<n>]:CORRection[:LOSS][:INPut][:MAGNitude]", _SENS, ":SENS1:CORR?", "input loss"),
        (":READ<n>[:CHANnel<n>]:POWer?", _MEAS, ":READ1:POW?", "measure one port"),
        (":FETCh<n>[:CHANnel<n>]:POWer?", _MEAS, ":FETC1:POW?", "last reading of one port"),
        (":READ[<n>]:POWer:ALL:CSV?", _MEAS, ":READ:POW:ALL:CSV?", "measure all ports"),
        (":FETCh[<n>]:POWer:ALL:CSV?", _MEAS, ":FETC:POW:ALL:CSV?", "last readings of all ports"),
        (":INITiate<n>[:CHANnel<n>][:IMMediate]", _MEAS, ":INIT1", "start a measurement"),
        (":INITiate<n>[:CHANnel<n>]:CONTinuous", _MEAS, ":INIT1:CONT?", "continuous measurement"),
        (":SYSTem:ERRor[:NEXT]?", _SYST, ":SYST:ERR?", "next error"),
    )),
)
