"""Gentec-EO MAESTRO command reference: *MAESTRO User's Manual* rev. 8.1, section 3.4 "Serial
Command format" and its command tables (``*`` + three-letter mnemonic + fixed-width parameters):
the display/range, measurement and set-up commands a power measurement uses. Left out: energy
mode, data logging to the meter, statistics, the attenuator and head-specific settings."""

from hilt.sims.reference import Command, Reference

_DISPLAY, _MEAS, _SETUP, _INFO = "Display and range", "Measurement", "Set-up", "Instrument"

REFERENCE = Reference(
    model="gentec_maestro",
    manual="Gentec-EO MAESTRO User's Manual rev. 8.1, section 3.4 (serial commands)",
    syntax="mnemonic",
    commands=tuple(Command(*row) for row in (
        ("*SCS", _DISPLAY, "*SCS18", "set range (index 0..41)"),
        ("*SSU", _DISPLAY, "*SSU", "one range up"),
        ("*SSD", _DISPLAY, "*SSD", "one range down"),
        ("*GCR", _DISPLAY, "*GCR", "current range index"),
        ("*SAS", _DISPLAY, "*SAS1", "autoscale on/off"),
        ("*GAS", _DISPLAY, "*GAS", "autoscale state"),
        ("*DVS", _DISPLAY, "*DVS", "the head's valid ranges"),
        ("*CVU", _MEAS, "*CVU", "current value"),
        ("*NVU", _MEAS, "*NVU", "new value available?"),
        ("*PWC", _SETUP, "*PWC10600", "wavelength correction (nm)"),
        ("*GWL", _SETUP, "*GWL", "wavelength correction"),
        ("*SOU", _SETUP, "*SOU", "zero offset"),
        ("*COU", _SETUP, "*COU", "clear the zero offset"),
        ("*GZO", _SETUP, "*GZO", "zero offset state"),
        ("*STL", _SETUP, "*STL10.0", "trigger level (%)"),
        ("*MUL", _SETUP, "*MUL1.000000", "multiplier"),
        ("*OFF", _SETUP, "*OFF0.000000", "offset"),
        ("*DBU", _SETUP, "*DBU0", "dBm display on/off"),
        ("*ANO", _SETUP, "*ANO0", "analog output on/off"),
        ("*VER", _INFO, "*VER", "firmware version"),
    )),
)
