"""hilt.instruments: device kinds (``hilt.instruments.kinds``) and systems built from them."""

from hilt.instruments.kinds import (
    KINDS,
    FrequencyMultiplier,
    HeaterDriver,
    LockIn,
    MotionStage,
    OpticalSwitch,
    PhotonicProcessorKind,
    PowerMeter,
    SignalSource,
    TunableLaser,
    kind_of,
    kinds_of,
)

__all__ = [
    "KINDS",
    "FrequencyMultiplier",
    "HeaterDriver",
    "LockIn",
    "MotionStage",
    "OpticalSwitch",
    "PhotonicProcessorKind",
    "PowerMeter",
    "SignalSource",
    "TunableLaser",
    "kind_of",
    "kinds_of",
]
