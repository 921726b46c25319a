"""One image from a camera with what it was taken with: the object every camera back end returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraFrame:
    """A frame as a camera delivered it.

    * ``image``: the pixels, ``uint8`` or ``uint16`` digital numbers (DN), shape
      ``(rows, cols)`` of the region of interest after binning.
    * ``counter``: the camera's frame counter (counts every frame exposed since the camera was
      opened; a gap means frames were dropped or flushed).
    * ``timestamp_s``: when the exposure started, s, on the device's clock (the simulated clock
      for a simulated camera); only differences between frames of one camera mean anything.
    * ``exposure_s``: exposure time, s; ``gain_db``: analogue gain, dB.
    * ``roi``: ``(x, y, width, height)`` in full-sensor pixels (before binning), or None when the
      back end does not say; ``binning``: pixels summed or averaged per side (1: none).
    """

    image: np.ndarray
    counter: int
    timestamp_s: float
    exposure_s: float
    gain_db: float
    roi: tuple[int, int, int, int] | None = None
    binning: int = 1
