"""Qontrol Q8iv command reference: the *Q8iv / Q8b programming manual*'s command reference
(``[command][channel][operator][value]``, ``=`` to set and ``?`` to query), as far as the
documents named in :mod:`hilt.drivers.qontrol` give it: output (voltage and current per channel,
their soft limits, whole-chain and vector forms), device information and the chain queries.
Left out: no list of the remaining commands (calibration, ADC, logging, non-volatile settings)
could be retrieved, so they are not recorded here rather than recorded by guess."""

from hilt.sims.reference import Command, Reference

_OUT, _LIM, _CHAIN, _INFO = "Output", "Limits", "Whole chain", "Device information"


def commands() -> tuple[Command, ...]:
    """The list, shared with the Q8b (same command set, other full scale)."""
    return tuple(Command(*row) for row in (
        ("v", _OUT, "v0?", "channel voltage (V)"),
        ("i", _OUT, "i0?", "channel current (mA)"),
        ("vvec", _OUT, "vvec0=1,2", "voltages of consecutive channels"),
        ("ivec", _OUT, "ivec0=1,2", "currents of consecutive channels"),
        ("vmax", _LIM, "vmax0?", "channel voltage limit"),
        ("imax", _LIM, "imax0?", "channel current limit"),
        ("vall", _CHAIN, "vall?", "every channel's voltage"),
        ("iall", _CHAIN, "iall?", "every channel's current"),
        ("vipall", _CHAIN, "vipall?", "every channel's voltage and current"),
        ("nup", _CHAIN, "nup?", "modules up the chain"),
        ("nupall", _CHAIN, "nupall?", "every module of the chain"),
        ("id", _INFO, "id?", "device type and serial"),
        ("nchan", _INFO, "nchan?", "channels of the module"),
        ("vfull", _INFO, "vfull?", "full-scale voltage"),
        ("ifull", _INFO, "ifull?", "full-scale current"),
        ("firmware", _INFO, "firmware?", "firmware version"),
        ("lifetime", _INFO, "lifetime?", "time powered"),
        ("ok", _INFO, "ok?", "OK replies after a set on/off"),
    ))


REFERENCE = Reference(
    model="qontrol_q8iv",
    manual="Qontrol Q8iv / Q8b programming manual, command reference",
    syntax="mnemonic",
    commands=commands(),
)
