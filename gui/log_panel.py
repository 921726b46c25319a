"""The Log dock: hilt's messages as they happen, and the instrument traffic when you ask for it.

Everything hilt logs (``hilt.*``: stations, drivers, loops, this app) at the chosen level or
above appears here, from whichever thread logged it. Tick "Instrument traffic" to see every
exchange with the instruments (the ``hilt.io`` logger at DEBUG: each command sent and reply
read, as ``hilt -vv`` prints them); it is a lot of text while readings are live.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

LEVELS = (("Debug", logging.DEBUG), ("Info", logging.INFO), ("Warning", logging.WARNING),
          ("Error", logging.ERROR))
#: Lines kept in the view; older ones scroll away.
MAX_LINES = 5000

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _Bridge(QObject):
    # A signal carries each record to the UI thread: a handler is called on the thread that
    # logged, and only the UI thread may touch the text view.
    line = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler that hands each formatted record to the UI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.bridge = _Bridge()
        self.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.line.emit(self.format(record))
        except RuntimeError:  # the window is gone (its C++ side deleted): nothing to show it in
            pass
        except Exception:  # noqa: BLE001 - logging must never raise into the code that logs
            self.handleError(record)


class LogPanel(QWidget):
    """The Log dock's contents; :meth:`detach` removes its handler (the window does on close)."""

    def __init__(self, parent: QWidget | None = None, logger: str = "hilt") -> None:
        super().__init__(parent)
        self.logger = logging.getLogger(logger)
        self.io_logger = logging.getLogger("hilt.io")
        self._saved_levels = (self.logger.level, self.io_logger.level)

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Level"))
        self.level = QComboBox()
        self.level.setObjectName("logLevel")
        for text, level in LEVELS:
            self.level.addItem(text, level)
        self.level.setCurrentIndex(1)
        self.level.currentIndexChanged.connect(self._level_changed)
        row.addWidget(self.level)
        self.traffic = QCheckBox("Instrument traffic")
        self.traffic.setObjectName("logTraffic")
        self.traffic.setToolTip("Show every command sent to an instrument and every reply (hilt.io, debug)")
        self.traffic.toggled.connect(self._traffic_toggled)
        row.addWidget(self.traffic)
        row.addStretch(1)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("logClear")
        row.addWidget(self.clear_button)
        layout.addLayout(row)

        self.view = QPlainTextEdit()
        self.view.setObjectName("logView")
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_LINES)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout.addWidget(self.view, 1)
        self.clear_button.clicked.connect(self.view.clear)

        self.handler = QtLogHandler()
        self.handler.bridge.line.connect(self._append)
        self.logger.addHandler(self.handler)
        self._level_changed()

    def _level_changed(self, *_: object) -> None:
        level = int(self.level.currentData())
        self.handler.setLevel(logging.DEBUG if self.traffic.isChecked() else level)
        self._apply_levels()

    def _traffic_toggled(self, on: bool) -> None:
        self._level_changed()

    def _apply_levels(self) -> None:
        level = int(self.level.currentData())
        # The hilt logger must let the chosen level through (its default, WARNING via the root,
        # would hide info); traffic is hilt.io at DEBUG, everything else stays at the level.
        self.logger.setLevel(level)
        self.io_logger.setLevel(logging.DEBUG if self.traffic.isChecked() else logging.NOTSET)
        if self.traffic.isChecked():
            self.handler.filters = [_TrafficOrLevel(level)]
        else:
            self.handler.filters = []

    def _append(self, line: str) -> None:
        self.view.appendPlainText(line)
        self.view.moveCursor(QTextCursor.MoveOperation.End)

    def text(self) -> str:
        return self.view.toPlainText()

    def detach(self) -> None:
        """Stop receiving messages and give the loggers back their levels."""
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self._saved_levels[0])
        self.io_logger.setLevel(self._saved_levels[1])


class _TrafficOrLevel(logging.Filter):
    """With traffic on, the handler takes DEBUG: let through hilt.io's, and others at the level."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or record.name.startswith("hilt.io")
