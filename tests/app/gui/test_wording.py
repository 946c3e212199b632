"""One word for the pieces of a note a search returns: "passages", never "chunks"."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QStatusBar, QTabWidget, QTreeWidget, QWidget

from tests.app.gui.conftest import wait_ready


def visible_words(window: QWidget) -> list[str]:
    words: list[str] = [window.windowTitle()]
    for widget in [window, *window.findChildren(QWidget)]:
        words.append(widget.toolTip())
        if isinstance(widget, (QLabel, QAbstractButton)):
            words.append(widget.text())
        if isinstance(widget, QLineEdit):
            words.append(widget.placeholderText())
        if isinstance(widget, QStatusBar):
            words.append(widget.currentMessage())
        if isinstance(widget, QTabWidget):
            words += [widget.tabText(n) for n in range(widget.count())]
        if isinstance(widget, QTreeWidget):
            header = widget.headerItem()
            words += [header.text(c) for c in range(header.columnCount())]
            for n in range(widget.topLevelItemCount()):
                item = widget.topLevelItem(n)
                words += [item.text(c) for c in range(item.columnCount())]
                words += [item.toolTip(c) for c in range(item.columnCount())]
    return words


def test_the_app_says_passages_never_chunks(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    qtbot.waitUntil(lambda: desktop.folders_tab.tree.topLevelItem(0).text(2) not in ("", "–"))
    tab = desktop.search_tab
    tab.query.setText("undo a pushed commit")
    tab.run_search()
    qtbot.waitUntil(lambda: tab.results.topLevelItemCount() > 0)
    words = "\n".join(visible_words(desktop.window))
    assert "Passages" in words
    assert "chunk" not in words.lower()
