"""hilt.instruments: device kinds (``hilt.instruments.kinds``) and systems built from them."""

from hilt.camera_frame import CameraFrame
from hilt.instruments.kinds import (
    KINDS,
    Camera,
    FrequencyMultiplier,
    HeaterDriver,
    LockIn,
    MotionStage,
    OpticalSwitch,
    PhotonicProcessorKind,
    PowerMeter,
    SignalSource,
    SpatialLightModulator,
    TunableLaser,
    kind_of,
    kinds_of,
)

__all__ = [
    "KINDS",
    "Camera",
    "CameraFrame",
    "FrequencyMultiplier",
    "HeaterDriver",
    "LockIn",
    "MotionStage",
    "OpticalSwitch",
    "PhotonicProcessorKind",
    "PowerMeter",
    "SignalSource",
    "SpatialLightModulator",
    "TunableLaser",
    "kind_of",
    "kinds_of",
]
