"""Keithley 2400 command reference: *Series 2400 SourceMeter User's Manual*, section 18 "SCPI
Command Reference" and the common commands: the SOURce, SENSe, OUTPut, FORMat, measurement
(READ/MEASure/INITiate/FETCh), TRIGger and ARM, ROUTe, TRACe (buffer), CALCulate3 (buffer
statistics), the STATus measurement register and SYSTem subsystems a lab uses. Left out:
CALCulate1/2 (math, limit tests), the rest of DISPlay and STATus, and the sweep and memory
subsystems."""

from hilt.sims.reference import Command, Reference, common, scpi_system

_COMMON, _SOUR, _SENS, _OUT = "Common commands", "SOURce", "SENSe", "OUTPut"
_MEAS, _TRIG, _SYST = "Measurement", "TRIGger, ARM and ROUTe", "SYSTem, DISPlay and FORMat"
_BUF, _STAT = "TRACe buffer and CALCulate3", "STATus"

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
        (":MEASure:VOLTage[:DC]?", _MEAS, ":MEAS:VOLT?", "one-shot voltage measurement"),
        (":MEASure:RESistance?", _MEAS, ":MEAS:RES?", "one-shot resistance measurement"),
        (":SENSe:VOLTage[:DC]:RANGe[:UPPer]", _SENS, ":SENS:VOLT:RANG?", "voltage measure range"),
        (":SENSe:VOLTage[:DC]:NPLCycles", _SENS, ":SENS:VOLT:NPLC?", "voltage integration time"),
        (":SENSe:RESistance:RANGe[:UPPer]", _SENS, ":SENS:RES:RANG?", "resistance range"),
        (":SENSe:RESistance:NPLCycles", _SENS, ":SENS:RES:NPLC?", "resistance integration time"),
        (":SENSe:RESistance:MODE", _SENS, ":SENS:RES:MODE?", "manual or auto ohms"),
        (":SENSe:CURRent[:DC]:RANGe:AUTO", _SENS, ":SENS:CURR:RANG:AUTO?", "current auto range"),
        (":SENSe:VOLTage[:DC]:RANGe:AUTO", _SENS, ":SENS:VOLT:RANG:AUTO?", "voltage auto range"),
        (":SENSe:RESistance:RANGe:AUTO", _SENS, ":SENS:RES:RANG:AUTO?", "resistance auto range"),
        (":SENSe:AVERage[:STATe]", _SENS, ":SENS:AVER?", "averaging filter"),
        (":SENSe:AVERage:TCONtrol", _SENS, ":SENS:AVER:TCON?", "repeat or moving filter"),
        (":SENSe:AVERage:COUNt", _SENS, ":SENS:AVER:COUN?", "filter count"),
        (":SOURce:VOLTage:RANGe:AUTO", _SOUR, ":SOUR:VOLT:RANG:AUTO?", "voltage source auto range"),
        (":SOURce:CURRent:RANGe:AUTO", _SOUR, ":SOUR:CURR:RANG:AUTO?", "current source auto range"),
        (":SOURce:DELay", _SOUR, ":SOUR:DEL?", "source delay"),
        (":SOURce:DELay:AUTO", _SOUR, ":SOUR:DEL:AUTO?", "automatic source delay"),
        (":SOURce:CLEar:AUTO", _OUT, ":SOUR:CLE:AUTO?", "output off after each reading"),
        (":OUTPut:SMODe", _OUT, ":OUTP:SMOD?", "output-off state"),
        (":ARM[:SEQuence[1]][:LAYer[1]]:COUNt", _TRIG, ":ARM:COUN?", "arm count"),
        (":ARM[:SEQuence[1]][:LAYer[1]]:SOURce", _TRIG, ":ARM:SOUR?", "arm source"),
        (":ARM[:SEQuence[1]][:LAYer[1]]:TIMer", _TRIG, ":ARM:TIM?", "arm timer"),
        (":ARM[:SEQuence[1]][:LAYer[1]][:TCONfigure]:OUTPut", _TRIG, ":ARM:OUTP?", "arm output trigger"),
        (":ARM[:SEQuence[1]][:LAYer[1]][:TCONfigure]:ILINe", _TRIG, ":ARM:ILIN?", "arm input line"),
        (":ARM[:SEQuence[1]][:LAYer[1]][:TCONfigure]:OLINe", _TRIG, ":ARM:OLIN?", "arm output line"),
        (":TRIGger[:SEQuence[1]]:DELay", _TRIG, ":TRIG:DEL?", "trigger delay"),
        (":TRIGger[:SEQuence[1]]:SOURce", _TRIG, ":TRIG:SOUR?", "trigger source"),
        (":TRIGger[:SEQuence[1]][:TCONfigure]:OUTPut", _TRIG, ":TRIG:OUTP?", "trigger output events"),
        (":TRIGger[:SEQuence[1]][:TCONfigure]:ILINe", _TRIG, ":TRIG:ILIN?", "trigger input line"),
        (":TRIGger[:SEQuence[1]][:TCONfigure]:OLINe", _TRIG, ":TRIG:OLIN?", "trigger output line"),
        (":TRACe:POINts", _BUF, ":TRAC:POIN?", "buffer size"),
        (":TRACe:POINts:ACTual?", _BUF, ":TRAC:POIN:ACT?", "readings stored"),
        (":TRACe:FEED", _BUF, ":TRAC:FEED?", "what the buffer stores"),
        (":TRACe:FEED:CONTrol", _BUF, ":TRAC:FEED:CONT?", "buffer armed (NEXT) or not"),
        (":TRACe:CLEar", _BUF, ":TRAC:CLE", "empty the buffer"),
        (":TRACe:DATA?", _BUF, ":TRAC:DATA?", "read the buffer"),
        (":CALCulate3:FORMat", _BUF, ":CALC3:FORM?", "buffer statistic"),
        (":CALCulate3:DATA?", _BUF, ":CALC3:DATA?", "the statistic over the buffer"),
        (":STATus:PRESet", _STAT, ":STAT:PRES", "status registers to defaults"),
        (":STATus:MEASurement[:EVENt]?", _STAT, ":STAT:MEAS?", "measurement events"),
        (":STATus:MEASurement:ENABle", _STAT, ":STAT:MEAS:ENAB?", "measurement event enable"),
    )) + scpi_system(":SYSTem:ERRor[:NEXT]?", subsystem=_SYST) + tuple(Command(*row) for row in (
        (":SYSTem:RSENse", _SYST, ":SYST:RSEN?", "2- or 4-wire sensing"),
        (":SYSTem:BEEPer:STATe", _SYST, ":SYST:BEEP:STAT?", "beeper"),
        (":SYSTem:AZERo[:STATe]", _SYST, ":SYST:AZER?", "auto zero"),
        (":SYSTem:LFRequency", _SYST, ":SYST:LFR?", "line frequency"),
        (":SYSTem:LFRequency:AUTO", _SYST, ":SYST:LFR:AUTO?", "line frequency detection"),
        (":DISPlay:ENABle", _SYST, ":DISP:ENAB?", "front panel display"),
        (":FORMat[:DATA]", _SYST, ":FORM?", "data format"),
    )),
)
