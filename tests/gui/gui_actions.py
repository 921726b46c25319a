"""What a user does with the mouse and keyboard, shared by the app's tests."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import Qt


def type_into(qtbot: Any, widget: Any, text: str) -> None:
    """Replace a line edit's or spin box's text as a user would: select all, type, Tab away."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Tab)


def click(qtbot: Any, widget: Any) -> None:
    """A left click on an enabled button (a disabled one is a test error, not a silent no-op)."""
    assert widget.isEnabled(), widget.text()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def open_tab(qtbot: Any, window: Any, title: str) -> Any:
    """Click the main window's tab called ``title``; its widget."""
    bar = window.tabs.tabBar()
    index = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == title)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert window.tabs.currentIndex() == index
    return window.tabs.currentWidget()


def choose(qtbot: Any, combo: Any, text: str) -> None:
    """Pick a combo box entry by typing its first letters (the box's keyboard search)."""
    combo.setFocus()
    qtbot.keyClicks(combo, text)


def points(curve: Any) -> int:
    """Every point a plot curve holds (getData() gives only those in view)."""
    return 0 if curve.xData is None else len(curve.xData)


def blocked_in_pause(panel: Any) -> bool:
    """The panel's job thread waits inside LoopControl.checkpoint (the loop's pause point)."""
    frame = sys._current_frames().get(panel.job._thread.ident)
    while frame is not None:
        if frame.f_code.co_name == "checkpoint" and frame.f_code.co_filename.endswith("core.py"):
            return True
        frame = frame.f_back
    return False


def open_channel(qtbot: Any, panel: Any, key: str) -> None:
    """Click a channel's row in the Station dock and open it with the right arrow key."""
    item = panel.item(key)
    panel.tree.scrollToItem(item)
    rect = panel.tree.visualItemRect(item)
    qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.tree.currentItem() is item
    qtbot.keyClick(panel.tree, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: item.isExpanded())
