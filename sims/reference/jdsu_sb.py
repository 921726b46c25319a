"""JDSU SB switch command reference: *SB Series Fiberoptic Switch User's Manual* (SD000153
Rev. J), Programming Guide pp. 26-28, the SB command set: switching, relay drivers, status and
errors. ``XDRS k`` and ``SRE l`` as settings are the forms the ``LRN?`` reply (``CLOSE i;XDRS k;SRE
l``) is made of, so a client can send that reply back to restore the switch."""

from hilt.sims.reference import Command, Reference

_SWITCH, _DRIVERS, _STATUS = "Switching", "Relay drivers", "Status and errors"

REFERENCE = Reference(
    model="jdsu_sb",
    manual="JDS Uniphase SB Series Fiberoptic Switch User's Manual (SD000153 Rev. J), Programming Guide",
    syntax="mnemonic",
    commands=tuple(Command(*row) for row in (
        ("CLOSE", _SWITCH, "CLOSE 1", "connect the common port to output i"),
        ("RESET", _SWITCH, "RESET", "power-up state: no output, drivers off"),
        ("LRN?", _SWITCH, "LRN?", "the settings as commands"),
        ("XDR", _DRIVERS, "XDR 1 1", "one relay driver on or off"),
        ("XDRS", _DRIVERS, "XDRS 0", "every relay driver, binary coded"),
        ("XDRS?", _DRIVERS, "XDRS?", "the relay drivers, binary coded"),
        ("SRE", _STATUS, "SRE 0", "service request mask"),
        ("SRE?", _STATUS, "SRE?", "service request mask"),
        ("STB?", _STATUS, "STB?", "status register"),
        ("LERR?", _STATUS, "LERR?", "last error number"),
    )),
)
