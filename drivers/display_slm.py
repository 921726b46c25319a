"""A display-driven phase SLM (a second monitor) as hilt's SLM kind.

Holoeye PLUTO/GAEA, Hamamatsu X13138, Thorlabs Exulus, Santec SLM-200 in DVI mode and Meadowlark's
HDMI models take their frame from a video input: the computer sees a monitor whose resolution is
the panel's, and each screen pixel's grey level is the SLM pixel's drive level. This driver shows
frames there in a frameless full-screen Qt window (:mod:`hilt.drivers.slm_window`, which says how
the frame stays pixel-exact and how the hand-off between threads works)::

    slm = DisplaySLM(screen="HDMI-1", pixel_pitch_m=8e-6, wavelength_m=633e-9, settle_s=0.02)
    slm.show_phase(phase)      # rad; through slm.lut to grey levels, shown, settled
    slm.close()

Bit depth: the video path carries 8 bits per colour, and the panels above read one of them (the
grey level g is sent as the colour (g, g, g)). ``bit_depth`` 1..8 is shown that way. A panel
with more levels over its video input encodes them across the colour channels in a way its
manual defines; pass ``rgb_encoder`` (levels -> uint32 ``0xRRGGBB`` per pixel) to show such a
panel's frames. hilt ships no encoder: none could be checked against a panel here, so a
``bit_depth`` above 8 without one is refused.

``show_grey``/``show_phase`` return once the window has flushed the frame to the window system,
plus one refresh period of that screen (when the monitor takes it), plus ``settle_s`` (the
liquid crystal's response, from the SLM's data sheet or measured).

Not verified without hardware: the frame's arrival on a real panel (tests grab the window from
Qt's offscreen platform and compare every pixel), the vertical-refresh wait (a fixed period, not
a vsync signal), colour management or a "night light" in the operating system (outside Qt:
switch it off for the SLM's screen).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from hilt.errors import ConfigError
from hilt.slm_lut import HostLutSLM, check_bit_depth, check_lut, linear_lut

from .slm_window import (
    GuiHost,
    SlmWindow,
    find_screen,
    grab_window,
    grey_to_rgb32,
    gui_host,
    rgb32_image,
    window_pixels,
)

__all__ = ["DisplaySLM"]

RgbEncoder = Callable[[np.ndarray], np.ndarray]


class DisplaySLM(HostLutSLM):
    """An SLM driven as a monitor: ``screen`` is its index or name (None: the one screen that
    is not the primary one); ``shape`` (rows, cols), when given, must be that screen's size in
    device pixels. ``paint_timeout`` (s) bounds the wait for the window to paint a frame."""

    kinds: ClassVar[tuple[str, ...]] = ("slm",)
    model: ClassVar[str] = "display_slm"

    def __init__(
        self,
        screen: int | str | None = None,
        *,
        shape: tuple[int, int] | None = None,
        pixel_pitch_m: float = 8e-6,
        bit_depth: int = 8,
        wavelength_m: float = 633e-9,
        settle_s: float = 0.0,
        lut: np.ndarray | None = None,
        rgb_encoder: RgbEncoder | None = None,
        paint_timeout: float = 5.0,
        name: str = "slm",
    ) -> None:
        self.bit_depth = check_bit_depth(bit_depth)
        if self.bit_depth > 8 and rgb_encoder is None:
            raise ConfigError(
                f"a {self.bit_depth}-bit display SLM needs rgb_encoder (levels -> 0xRRGGBB as its "
                "manual packs them into the video signal): the video path carries 8 bits a colour"
            )
        for label, value in (("pixel_pitch_m", pixel_pitch_m), ("wavelength_m", wavelength_m)):
            if not float(value) > 0:
                raise ConfigError(f"{label} must be positive, got {value!r}")
        if not float(settle_s) >= 0:
            raise ConfigError(f"settle_s must be >= 0, got {settle_s!r}")
        self.pixel_pitch_m = float(pixel_pitch_m)
        self.wavelength_m = float(wavelength_m)
        self.settle_s = float(settle_s)
        self.name = name
        self.full_name = name
        self._encoder = rgb_encoder
        self._paint_timeout = float(paint_timeout)
        self._lut = linear_lut(self.bit_depth) if lut is None else check_lut(lut, self.bit_depth)
        self._lock = threading.Lock()
        self._host: GuiHost = gui_host()
        self._window: SlmWindow | None = None
        self._window, screen_shape, self.refresh_s, self.screen_name = self._host.call(
            lambda: self._open(screen)
        )
        if shape is not None and tuple(shape) != screen_shape:
            self.close()
            raise ConfigError(
                f"the SLM is {shape[0]}x{shape[1]} (rows x cols) but screen {self.screen_name!r} "
                f"is {screen_shape[0]}x{screen_shape[1]}: set the screen's resolution to the panel's"
            )
        self.shape: tuple[int, int] = screen_shape
        self._shown = np.zeros(self.shape, dtype=np.uint8 if self.bit_depth <= 8 else np.uint16)
        self.show_grey(self._shown)

    def _open(self, screen: int | str | None) -> tuple[SlmWindow, tuple[int, int], float, str]:
        chosen = find_screen(screen)
        window = SlmWindow(chosen, title=f"hilt SLM {self.name}")
        window.show_on_screen()
        rate = chosen.refreshRate()
        return window, window_pixels(window), (1.0 / rate if rate > 0 else 0.0), chosen.name()

    # --- the SLM kind -----------------------------------------------------------------------


    def shown(self) -> np.ndarray:
        """The grey levels on the panel now (the last frame the window flushed)."""
        return self._shown.copy()

    def safe_state(self) -> None:
        """The all-zero frame (the window stays open)."""
        if self._window is not None:
            self.show_grey(np.zeros(self.shape, dtype=self._shown.dtype))

    def grab(self) -> np.ndarray:
        """What the window system holds for the SLM's window now, each pixel as 0xRRGGBB
        (uint32, ``shape``): a check that a frame reached the screen unchanged."""
        window = self._window
        if window is None:
            raise ConfigError(f"{self.name}: the SLM window is closed")
        return self._host.call(lambda: grab_window(window))

    def close(self) -> None:
        """Close the window (on the GUI thread). The driver cannot show frames afterwards."""
        window, self._window = self._window, None
        if window is not None:
            self._host.call(lambda: (window.close(), window.deleteLater()))

    def __enter__(self) -> DisplaySLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- showing a frame --------------------------------------------------------------------

    def _show(self, levels: np.ndarray) -> None:
        if self._window is None:
            raise ConfigError(f"{self.name}: the SLM window is closed")
        # The frame is prepared here, on the caller's thread; the GUI thread only paints it.
        if self._encoder is None:
            image = grey_to_rgb32(levels)
        else:
            rgb = np.asarray(self._encoder(levels))
            if rgb.shape != self.shape:
                raise ValueError(f"rgb_encoder returned shape {rgb.shape}, the SLM is {self.shape}")
            image = rgb32_image(rgb)
        with self._lock:
            self._host.present(self._window, image, self._paint_timeout)
            self._shown = levels.copy()
            # The monitor takes the flushed frame at its next refresh; then the LC settles.
            wait = self.refresh_s + self.settle_s
            if wait > 0:
                time.sleep(wait)

