"""DLC pro command reference: *DLC pro Command Reference* (Toptica), the DeCoF command line's
commands and the parameters of the system and laser subsystems a THz lab reads and sets
(current control, temperature control, wavelength control, the THz photomixer). Left out: the
scan generator, lock module, power stabilisation and the remaining parameter tree."""

from hilt.sims.reference import Command, Reference

_CMD, _SYS, _CC, _TC, _CTL, _THZ = ("Command line", "System", "Current control", "Temperature control",
                                   "Wavelength control", "THz photomixer")


def _ref(name: str) -> str:
    return f"(param-ref '{name})"


REFERENCE = Reference(
    model="toptica_dlcpro",
    manual="Toptica DLC pro Command Reference (DeCoF command line, TCP 1998; monitoring line 1999)",
    syntax="decof",
    commands=tuple(Command(*row) for row in (
        ("param-ref", _CMD, _ref("system-type"), "read a parameter"),
        ("param-set!", _CMD, "(param-set! 'laser1:dl:cc:enabled #f)", "set a parameter"),
        ("exec", _CMD, "(exec 'laser1:dl:cc:store)", "run a command"),
        ("system-type", _SYS, _ref("system-type"), "controller type"),
        ("serial-number", _SYS, _ref("serial-number"), "serial number"),
        ("fw-ver", _SYS, _ref("fw-ver"), "firmware version"),
        ("uptime", _SYS, _ref("uptime"), "seconds since power-on"),
        ("emission", _SYS, _ref("emission"), "any laser emitting"),
        ("laser1:dl:cc:enabled", _CC, _ref("laser1:dl:cc:enabled"), "laser 1 current on"),
        ("laser1:dl:cc:current-set", _CC, _ref("laser1:dl:cc:current-set"), "laser 1 current setpoint"),
        ("laser1:dl:cc:current-act", _CC, _ref("laser1:dl:cc:current-act"), "laser 1 current"),
        ("laser2:dl:cc:enabled", _CC, _ref("laser2:dl:cc:enabled"), "laser 2 current on"),
        ("laser1:dl:tc:temp-set", _TC, _ref("laser1:dl:tc:temp-set"), "laser 1 temperature setpoint"),
        ("laser1:dl:tc:temp-act", _TC, _ref("laser1:dl:tc:temp-act"), "laser 1 temperature"),
        ("laser1:ctl:wavelength-set", _CTL, _ref("laser1:ctl:wavelength-set"), "laser 1 wavelength setpoint"),
        ("laser1:ctl:wavelength-act", _CTL, _ref("laser1:ctl:wavelength-act"), "laser 1 wavelength"),
        ("laser2:ctl:wavelength-set", _CTL, _ref("laser2:ctl:wavelength-set"), "laser 2 wavelength setpoint"),
        ("laser2:ctl:wavelength-act", _CTL, _ref("laser2:ctl:wavelength-act"), "laser 2 wavelength"),
        ("laser1:thz:bias:enabled", _THZ, _ref("laser1:thz:bias:enabled"), "emitter bias on"),
        ("laser1:thz:bias:voltage-set", _THZ, _ref("laser1:thz:bias:voltage-set"), "emitter bias voltage"),
        ("laser1:thz:photocurrent", _THZ, _ref("laser1:thz:photocurrent"), "receiver photocurrent"),
    )),
)
