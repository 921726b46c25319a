"""Keithley 2400 command reference: *Series 2400 SourceMeter User's Manual*, section 18 "SCPI
Command Reference" and the common commands: the SOURce, SENSe, OUTPut, FORMat, measurement
(READ/MEASure/INITiate/FETCh), TRIGger, ROUTe and SYSTem subsystems a lab uses for
single-channel calibration. Left out: CALCulate (math, limit tests), TRACe (buffer), DISPlay,
STATus and the sweep and memory subsystems."""

from hilt.sims.reference import Command, Reference, common, scpi_system

_COMMON, _SOUR, _SENS, _OUT = "Common commands", "SOURce", "SENSe", "OUTPut"
_MEAS, _TRIG, _SYST = "Measurement", "TRIGger and ROUTe", "SYSTem and FORMat"

REFERENCE = Reference(
    model="keithley_2400",
    manual="Keithley Series 2400 SourceMeter User's Manual, SCPI Command Reference",
    syntax="scpi",
    commands=common("*IDN?", "*RST", "*CLS", "*OPC", "*ESR?", "*STB?", subsystem=_COMMON)
    + tuple(Command(*row) for row in (
        (":SOURce:FUNCtion[:MODE]", _SOUR, ":SOUR:FUNC?", "source voltage or current"),
        (":SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]", _SOUR, ":SOUR:VOLT?", "voltage level"),
        (":SOURce:VOLTage:RANGe", _SOUR, ":SOUR:VOLT:RANG?", "voltage source range"),
        (":SOURce:VOLTage:PROTection[:LEVel]", _SOUR, ":SOUR:VOLT:PROT?", "overvoltage protection"),
        (":SOURce:CURRent[:LEVel][:IMMediate][:AMPLitude]", _SOUR, ":SOUR:CURR?", "current level"),
        (":SOURce:CURRent:RANGe", _SOUR, ":SOUR:CURR:RANG?", "current source range"),
        (":SENSe:FUNCtion[:ON]", _SENS, ":SENS:FUNC?", "measured functions"),
        (":SENSe:CURRent[:DC]:PROTection[:LEVel]", _SENS, ":SENS:CURR:PROT?", "current compliance"),
        (":SENSe:VOLTage[:DC]:PROTection[:LEVel]", _SENS, ":SENS:VOLT:PROT?", "voltage compliance"),
        (":SENSe:CURRent[:DC]:RANGe[:UPPer]", _SENS, ":SENS:CURR:RANG?", "current measure range"),
        (":SENSe:CURRent[:DC]:NPLCycles", _SENS, ":SENS:CURR:NPLC?", "integration time"),
        (":OUTPut[:STATe]", _OUT, ":OUTP?", "output on/off"),
        (":FORMat:ELEMents[:SENSe[1]]", _SYST, ":FORM:ELEM?", "reading elements"),
        (":READ?", _MEAS, ":READ?", "trigger and read"),
        (":MEASure[:CURRent]?", _MEAS, ":MEAS:CURR?", "one-shot measurement"),
        (":INITiate[:IMMediate]", _MEAS, ":INIT", "start the trigger model"),
        (":FETCh?", _MEAS, ":FETC?", "latest readings"),
        (":TRIGger:COUNt", _TRIG, ":TRIG:COUN?", "trigger count"),
        (":ROUTe:TERMinals", _TRIG, ":ROUT:TERM?", "front or rear terminals"),
    )) + scpi_system(":SYSTem:ERRor[:NEXT]?", subsystem=_SYST) + tuple(Command(*row) for row in (
        (":SYSTem:RSENse", _SYST, ":SYST:RSEN?", "2- or 4-wire sensing"),
        (":SYSTem:BEEPer:STATe", _SYST, ":SYST:BEEP:STAT?", "beeper"),
    )),
)
