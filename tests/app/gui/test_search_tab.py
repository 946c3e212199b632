from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.gui.conftest import wait_ready


def test_a_query_shows_what_an_assistant_gets_and_opens_the_note(qtbot, make_desktop, notes):
    opened: list[Path] = []
    desktop = make_desktop([notes], open_note=opened.append)
    tab = desktop.search_tab
    wait_ready(qtbot, desktop)
    qtbot.keyClicks(tab.query, "undo a pushed commit")
    qtbot.keyClick(tab.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: tab.results.topLevelItemCount() > 0, timeout=10_000)
    assert tab.results.topLevelItemCount() <= 3  # an assistant's default top_k
    first = tab.results.topLevelItem(0)
    score, title, heading, path = (first.text(c) for c in range(4))
    assert (title, heading, path) == ("Git", "Git > Undo", "git.md")
    assert float(score) > 0
    assert "git revert" in tab.detail.toPlainText()
    assert '"note_id"' in tab.detail.toPlainText()
    qtbot.mouseClick(tab.open_button, Qt.MouseButton.LeftButton)
    assert opened == [notes / "git.md"]


def test_search_before_the_index_is_open_says_so(qtbot, make_desktop):
    desktop = make_desktop(start=False)
    tab = desktop.search_tab
    tab.query.setText("anything")
    tab.search_button.click()
    qtbot.waitUntil(lambda: "still opening" in tab.status.text())
    assert tab.search_button.isEnabled()
