"""Help > Plugins: every driver, simulator, calibration routine and physical system that
installed packages declare (entry points), the package each comes from, and, for one that did
not load, why (its import error in one line). The same as ``hilt plugins``."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hilt.registry import check_plugins, refresh

COLUMNS = ("What", "Name", "Package", "Status")


class PluginsDialog(QDialog):
    """A table of :func:`hilt.registry.check_plugins`; Refresh reads the installed packages
    again (after a ``pip install`` in another terminal)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("hilt: plug-ins")
        self.setObjectName("pluginsDialog")
        self.resize(900, 500)
        self.summary = QLabel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.refresh_button = buttons.addButton("Refresh", QDialogButtonBox.ButtonRole.ActionRole)
        self.refresh_button.clicked.connect(self.reload)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.reload()

    def reload(self) -> None:
        refresh()
        found = check_plugins()
        # The broken ones first: they are why someone opens this.
        found.sort(key=lambda p: (p.ok, p.group, p.name))
        self.table.setRowCount(len(found))
        for row, p in enumerate(found):
            cells = (p.kind, p.name, p.package, "loaded" if p.ok else f"did not load: {p.error}")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{p.group}: {p.name} = {p.target}")
                if not p.ok:
                    item.setForeground(QColor("#b00020"))
                self.table.setItem(row, col, item)
        broken = sum(not p.ok for p in found)
        self.summary.setText(f"{len(found)} plug-ins from installed packages; "
                             + (f"{broken} did not load." if broken else "all loaded."))
        self.plugins = found
