"""N7744A command reference: *Keysight N7744A/N7745A Programming Guide* (multi-port optical
power meter; the command tree of the 8163/8164 power meters): the SENSe power settings,
reference and correction, READ/FETCh measurements, INITiate, the logging data acquisition
function, the TRIGger subsystem and the common and SYSTem queries. Left out: the MinMax and
stability functions, MMEMory, STATus and the power meter's zeroing and wavelength response."""

from hilt.sims.reference import Command, Reference, common, scpi_system

_COMMON, _SENS, _MEAS, _LOG = "Common commands", "SENSe", "Measurement", "Logging"
_TRIG, _SYST = "TRIGger", "SYSTem"

REFERENCE = Reference(
    model="keysight_n7744a",
    manual="Keysight N7744A/N7745A Optical Multiport Power Meter Programming Guide",
    syntax="scpi",
    commands=common("*IDN?", "*RST", "*CLS", "*ESE", "*ESR?", "*SRE", "*STB?", "*OPC", "*WAI", "*TST?",
                    subsystem=_COMMON)
    + tuple(Command(*row) for row in (
        (":SENSe<n>[:CHANnel<n>]:POWer:WAVelength", _SENS, ":SENS1:POW:WAV?", "wavelength"),
        (":SENSe<n>[:CHANnel<n>]:POWer:ATIMe", _SENS, ":SENS1:POW:ATIM?", "averaging time"),
        (":SENSe<n>[:CHANnel<n>]:POWer:UNIT", _SENS, ":SENS1:POW:UNIT?", "dBm or W"),
        (":SENSe<n>[:CHANnel<n>]:POWer:RANGe[:UPPer]", _SENS, ":SENS1:POW:RANG?", "power range"),
        (":SENSe<n>[:CHANnel<n>]:POWer:RANGe:AUTO", _SENS, ":SENS1:POW:RANG:AUTO?", "auto range"),
        (":SENSe<n>[:CHANnel<n>]:POWer:REFerence", _SENS, ":SENS1:POW:REF? TOREF", "reference"),
        (":SENSe<n>[:CHANnel<n>]:POWer:REFerence:STATe", _SENS, ":SENS1:POW:REF:STAT?", "relative readings"),
        (":SENSe<n>[:CHANnel<n>]:CORRection[:LOSS][:INPut][:MAGNitude]", _SENS, ":SENS1:CORR?", "input loss"),
        (":READ<n>[:CHANnel<n>]:POWer?", _MEAS, ":READ1:POW?", "measure one port"),
        (":FETCh<n>[:CHANnel<n>]:POWer?", _MEAS, ":FETC1:POW?", "last reading of one port"),
        (":READ[<n>]:POWer:ALL:CSV?", _MEAS, ":READ:POW:ALL:CSV?", "measure all ports"),
        (":FETCh[<n>]:POWer:ALL:CSV?", _MEAS, ":FETC:POW:ALL:CSV?", "last readings of all ports"),
        (":INITiate<n>[:CHANnel<n>][:IMMediate]", _MEAS, ":INIT1", "start a measurement"),
        (":INITiate<n>[:CHANnel<n>]:CONTinuous", _MEAS, ":INIT1:CONT?", "continuous measurement"),
        (":SENSe<n>[:CHANnel<n>]:FUNCtion:PARameter:LOGGing", _LOG, ":SENS1:FUNC:PAR:LOGG?", "points, averaging time"),
        (":SENSe<n>[:CHANnel<n>]:FUNCtion:STATe", _LOG, ":SENS1:FUNC:STAT?", "start/stop, progress"),
        (":SENSe<n>[:CHANnel<n>]:FUNCtion:RESult?", _LOG, ":SENS1:FUNC:RES?", "logged samples"),
        (":TRIGger<n>[:CHANnel<n>]:INPut", _TRIG, ":TRIG1:INP?", "what an input trigger does"),
        (":TRIGger<n>[:CHANnel<n>]:OUTPut", _TRIG, ":TRIG1:OUTP?", "when an output trigger is made"),
        (":TRIGger:CONFiguration", _TRIG, ":TRIG:CONF?", "trigger connector configuration"),
        (":TRIGger", _TRIG, ":TRIG NODEB", "generate a hardware trigger"),
    ))
    + scpi_system(":SYSTem:ERRor[:NEXT]?", ":SYSTem:ERRor:ALL?", ":SYSTem:ERRor:COUNt?", subsystem=_SYST),
)
