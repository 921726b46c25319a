"""The full-screen Qt window a display SLM shows its frames in, and the GUI-thread hand-off.

Display-driven SLMs (Holoeye PLUTO/GAEA, Hamamatsu X13138, Thorlabs Exulus, Santec in DVI mode,
Meadowlark HDMI models) are a second monitor to the computer: whatever the graphics card puts on
that screen is what the panel shows, one screen pixel per SLM pixel, the grey level taken from
the 8-bit video signal. So the window must put the frame on the screen *unchanged*:

* frameless and full screen on the chosen screen, the mouse cursor hidden over it, never taking
  the keyboard focus (a click on the lab PC's main screen stays there);
* pixel-exact: the frame is an ``RGB32`` image drawn at (0, 0) with the ``Source`` composition
  mode, with its device pixel ratio set to the window's, so a high-DPI (scaled) desktop draws it
  1:1 in device pixels: no scaling, no smoothing, no blending; a grey level ``g`` is the
  colour (g, g, g). The image carries no colour space, so Qt does no colour management;
  the operating system's own (an ICC profile or "night light" on that monitor) is outside Qt and
  must be off for the SLM's screen, which the docs say;
* double-buffered: a :class:`QRasterWindow` paints into its backing store and flushes the
  finished frame to the window system in one step, so a half-drawn frame never reaches the
  screen.

Threads: Qt windows live on the GUI thread (the thread of the ``QGuiApplication``). A driver
thread prepares the :class:`QImage` itself (QImage is safe to build on any thread), posts it to
the window through a queued signal and waits on a :class:`threading.Event` that the window sets
once the frame has been painted and flushed (after the window's ``UpdateRequest`` or ``Expose``
handling returns): no sleeps, no polling. Called on the GUI thread itself, the wait runs a local
event loop until the window says the frame is out. In a process with no Qt application (a
script, ``hilt slm serve``) :func:`gui_host` starts one on a thread of its own; on macOS Cocoa
insists on the main thread, so there create the ``QApplication`` on the main thread first (the
hilt app does).

Not verified without hardware: a scaled (high-DPI) desktop, which Qt's offscreen platform does
not model (its windows keep a device pixel ratio of 1), and when the monitor (the SLM's controller) latches the flushed
frame. The window system shows it at the next vertical refresh of that screen, at most one
refresh period later: :class:`~hilt.drivers.display_slm.DisplaySLM` waits that period on top of
the liquid crystal's settle time.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QEventLoop,
    QObject,
    QPointF,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QCursor, QGuiApplication, QImage, QPainter, QRasterWindow, QScreen

from hilt.errors import ConfigError, InstrumentTimeout

__all__ = [
    "GuiHost", "SlmWindow", "find_screen", "grab_window", "grey_to_rgb32", "gui_host", "rgb32_image", "rgb32_to_array",
    "screen_pixels", "window_pixels",
]


def grey_to_rgb32(levels: np.ndarray) -> QImage:
    """An ``RGB32`` image whose pixel (r, c) is the colour (g, g, g), g = ``levels[r, c]``
    (0..255, any integer dtype; checked by the caller). Built on the calling thread."""
    # 0xRRGGBB with R = G = B = g: one multiply by 0x010101 spreads the byte to all three.
    return rgb32_image(np.asarray(levels, dtype=np.uint32) * np.uint32(0x010101))


def rgb32_image(rgb: np.ndarray) -> QImage:
    """An ``RGB32`` image of the 0xRRGGBB values ``rgb`` (uint32, ``(rows, cols)``)."""
    argb = np.ascontiguousarray(rgb, dtype=np.uint32) | np.uint32(0xFF000000)
    rows, cols = argb.shape
    image = QImage(argb.data, cols, rows, cols * 4, QImage.Format.Format_RGB32)
    # The QImage above borrows argb's memory; the copy owns its own.
    return image.copy()


def rgb32_to_array(image: QImage) -> np.ndarray:
    """The 0xRRGGBB value of every pixel of ``image`` (converted to RGB32 first), uint32
    ``(rows, cols)``: what a grab of the window holds."""
    img = image.convertToFormat(QImage.Format.Format_RGB32)
    rows, cols = img.height(), img.width()
    stride = img.bytesPerLine() // 4
    flat = np.frombuffer(img.constBits(), dtype=np.uint32, count=rows * stride)
    return flat.reshape(rows, stride)[:, :cols] & np.uint32(0xFFFFFF)


def grab_window(window: QRasterWindow) -> np.ndarray:
    """The pixels the window system holds for ``window`` (0xRRGGBB, uint32), in device pixels.
    Call on the GUI thread."""
    return rgb32_to_array(window.screen().grabWindow(window.winId()).toImage())


def screen_pixels(screen: QScreen) -> tuple[int, int]:
    """``(rows, cols)`` of a screen in device pixels (its geometry is in logical pixels)."""
    geometry, ratio = screen.geometry(), screen.devicePixelRatio()
    return round(geometry.height() * ratio), round(geometry.width() * ratio)


def window_pixels(window: QRasterWindow) -> tuple[int, int]:
    """``(rows, cols)`` of a window in device pixels: what its backing store holds."""
    geometry, ratio = window.geometry(), window.devicePixelRatio()
    return round(geometry.height() * ratio), round(geometry.width() * ratio)


def _describe(screens: list[QScreen]) -> str:
    return "; ".join(
        f"{i}: {s.name() or '(no name)'} {screen_pixels(s)[1]}x{screen_pixels(s)[0]}"
        for i, s in enumerate(screens)
    )


def find_screen(choice: int | str | None) -> QScreen:
    """The screen ``choice`` names: an index into the screen list, a screen name (as the
    operating system reports it, e.g. ``HDMI-1`` or ``\\\\.\\DISPLAY2``), or None for the one
    screen that is not the primary one. A missing screen is a ConfigError listing those there
    are. Call on the GUI thread."""
    app = QGuiApplication.instance()
    screens = list(app.screens()) if app is not None else []
    if not screens:
        raise ConfigError("no screens: is a display attached (or QT_QPA_PLATFORM set)?")
    listing = _describe(screens)
    if choice is None:
        others = [s for s in screens if s is not app.primaryScreen()]
        if len(others) != 1:
            raise ConfigError(
                f"choose the SLM's screen by index or name ({len(screens)} screens: {listing})"
            )
        return others[0]
    if isinstance(choice, bool):
        raise ConfigError(f"screen {choice!r}: give an index or a name ({listing})")
    if isinstance(choice, int) or (isinstance(choice, str) and choice.strip().isdigit()):
        index = int(choice)
        if not 0 <= index < len(screens):
            raise ConfigError(f"no screen {index}: there are {len(screens)} ({listing})")
        return screens[index]
    for s in screens:
        if s.name() == choice:
            return s
    raise ConfigError(f"no screen named {choice!r} (screens: {listing})")


class SlmWindow(QRasterWindow):
    """A frameless full-screen window on one screen that shows one frame, pixel for pixel.

    Create, show and feed it on the GUI thread (:meth:`GuiHost.call`); :meth:`present` takes
    the frame and an event set once the frame is on its way to the screen."""

    painted = Signal()

    def __init__(self, screen: QScreen, title: str = "hilt SLM") -> None:
        super().__init__()
        self.setTitle(title)
        self.setFlags(
            Qt.WindowType.Window
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowDoesNotAcceptFocus
        )
        self.setCursor(QCursor(Qt.CursorShape.BlankCursor))
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        rows, cols = screen_pixels(screen)
        self._image = grey_to_rgb32(np.zeros((rows, cols), dtype=np.uint8))
        self._waiting: list[threading.Event] = []
        self._did_paint = False

    def show_on_screen(self) -> None:
        """Full screen on its screen, without asking for the focus (``showFullScreen`` would)."""
        self.setWindowStates(Qt.WindowState.WindowFullScreen)
        self.setVisible(True)

    def present(self, image: QImage, done: threading.Event) -> None:
        """Show ``image`` from the next paint on; ``done`` is set once it has been flushed."""
        self._image = image
        self._waiting.append(done)
        self.update()

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        image = self._image
        # Device pixels, not logical ones: on a scaled desktop the image is drawn 1:1.
        image.setDevicePixelRatio(self.devicePixelRatio())
        painter = QPainter(self)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QPointF(0, 0), image)
        painter.end()
        self._did_paint = True

    def event(self, event: QEvent) -> bool:
        self._did_paint = False
        handled = super().event(event)
        # QPaintDeviceWindow paints and flushes the backing store inside this call, so once it
        # returns after a paint the frame has been handed to the window system.
        if self._did_paint and self._waiting:
            waiting, self._waiting = self._waiting, []
            for done in waiting:
                done.set()
            self.painted.emit()
        return handled


class _Invoker(QObject):
    """Runs callables on the thread it lives in (the GUI thread), posted from any thread."""

    post = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.post.connect(self._run, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _run(self, job: Callable[[], None]) -> None:
        job()


class GuiHost:
    """The GUI thread of this process, as seen from a driver: run a callable there and get its
    result, wait for a window's paint acknowledgement from any thread."""

    def __init__(self, invoker: _Invoker, owns_thread: bool) -> None:
        self._invoker = invoker
        self.owns_thread = owns_thread

    def on_gui_thread(self) -> bool:
        return QThread.currentThread() is self._invoker.thread()

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """``fn()`` run on the GUI thread, its result or its exception; InstrumentTimeout when
        the GUI thread does not run it within ``timeout`` s (its event loop is not running)."""
        if self.on_gui_thread():
            return fn()
        future: Future[Any] = Future()

        def job() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the waiting thread, raised there
                future.set_exception(exc)

        self._invoker.post.emit(job)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise InstrumentTimeout(
                f"the Qt GUI thread did not answer within {timeout:g} s: is its event loop running?"
            ) from None

    def present(self, window: SlmWindow, image: QImage, timeout: float = 10.0) -> None:
        """Hand ``image`` to ``window`` and return once the window has painted and flushed it."""
        done = threading.Event()
        if not self.on_gui_thread():
            self._invoker.post.emit(lambda: window.present(image, done))
            if not done.wait(timeout):
                raise InstrumentTimeout(
                    f"the SLM window did not paint the frame within {timeout:g} s "
                    "(is it exposed, is the Qt event loop running?)"
                )
            return
        # On the GUI thread: run its events until the window says the frame is out.
        loop = QEventLoop()
        window.painted.connect(loop.quit)
        QTimer.singleShot(round(timeout * 1000), loop.quit)
        try:
            window.present(image, done)
            if not done.is_set():
                loop.exec()
        finally:
            window.painted.disconnect(loop.quit)
        if not done.is_set():
            raise InstrumentTimeout(f"the SLM window did not paint the frame within {timeout:g} s (is it exposed?)")


_host: GuiHost | None = None
_host_lock = threading.Lock()


def gui_host() -> GuiHost:
    """This process's :class:`GuiHost`: the running ``QGuiApplication``'s thread, or (with no
    Qt application yet) a thread of its own running one."""
    global _host
    with _host_lock:
        app = QCoreApplication.instance()
        if _host is not None and app is not None and _host._invoker.thread() is app.thread():
            return _host
        if app is not None:
            if not isinstance(app, QGuiApplication):
                raise ConfigError("the Qt application is a QCoreApplication: an SLM window needs a QGuiApplication")
            invoker = _Invoker()
            invoker.moveToThread(app.thread())
            _host = GuiHost(invoker, owns_thread=False)
            return _host
        _host = _start_qt_thread()
        return _host


def _start_qt_thread() -> GuiHost:
    started: Future[GuiHost] = Future()

    def run() -> None:
        try:
            # Qt's GLib event dispatcher complains when its loop runs off the main thread.
            os.environ.setdefault("QT_NO_GLIB", "1")
            app = QGuiApplication(["hilt-slm"])
            # The SLM windows come and go; the application stays for the next one.
            app.setQuitOnLastWindowClosed(False)
            invoker = _Invoker()
            started.set_result(GuiHost(invoker, owns_thread=True))
        except BaseException as exc:
            started.set_exception(exc)
            return
        app.exec()
        # Every Qt object of this thread is destroyed here, on its own thread, before the
        # interpreter shuts down: left to the interpreter's exit, destroying them from the main
        # thread crashed (SIGSEGV).
        for window in app.topLevelWindows():
            window.close()
            shiboken6.delete(window)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        shiboken6.delete(invoker)
        shiboken6.delete(app)

    thread = threading.Thread(target=run, name="hilt-slm-qt", daemon=True)
    thread.start()
    host = started.result(30.0)

    def stop() -> None:
        global _host
        host._invoker.post.emit(QCoreApplication.quit)
        thread.join(10.0)
        _host = None

    atexit.register(stop)
    return host
