from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from notewell.indexer.relevance import GOOD_MATCH
from tests.app.gui.conftest import wait_ready
from tests.helpers import write_notes


def search(qtbot, tab, text: str) -> None:
    tab.query.setText(text)
    qtbot.keyClick(tab.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: tab.search_button.isEnabled() and tab.status.text() != "Searching…")


def test_a_query_shows_what_an_assistant_gets_and_opens_the_note(qtbot, make_desktop, notes):
    opened: list[Path] = []
    desktop = make_desktop([notes], open_note=lambda path: opened.append(path) or True)
    tab = desktop.search_tab
    wait_ready(qtbot, desktop)
    search(qtbot, tab, "undo a pushed commit")
    assert 0 < tab.results.topLevelItemCount() <= 3  # an assistant's default top_k
    first = tab.results.topLevelItem(0)
    score, title, heading, path = (first.text(c) for c in range(4))
    assert (title, heading, path) == ("Git", "Git > Undo", "git.md")
    assert float(score) >= GOOD_MATCH
    assert "git revert" in tab.detail.toPlainText()
    assert '"note_id"' in tab.detail.toPlainText()

    qtbot.mouseClick(tab.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.note_view is not None and tab.note_view.isVisible())
    view = tab.note_view
    assert "Use git revert to undo a pushed commit safely." in view.text.toPlainText()
    (mark,) = view.text.extraSelections()
    assert "git revert" in mark.cursor.selectedText()
    view.open_button.click()
    view.folder_button.click()
    assert opened == [notes / "git.md", notes]
    assert view.message.text() == ""


def test_open_note_says_what_to_do_when_no_program_opens_the_file(qtbot, make_desktop, notes):
    desktop = make_desktop([notes], open_note=lambda path: False)  # like xdg-open with no launcher
    tab = desktop.search_tab
    wait_ready(qtbot, desktop)
    search(qtbot, tab, "undo a pushed commit")
    tab.open_button.click()
    qtbot.waitUntil(lambda: tab.note_view is not None and tab.note_view.isVisible())
    view = tab.note_view
    assert "git revert" in view.text.toPlainText()  # the note is readable in the app all the same
    view.open_button.click()
    assert "No program on this computer opens .md files" in view.message.text()
    view.folder_button.click()
    assert str(notes / "git.md") in view.message.text()
    assert QGuiApplication.clipboard().text() == str(notes / "git.md")
    tab.folder_button.click()
    assert "No file manager answered" in tab.status.text()


def test_a_nonsense_query_says_no_good_match_and_greys_the_rest(qtbot, make_desktop, tmp_path, real_embedder):
    notes = write_notes(tmp_path / "notes", {
        "git.md": "# Git\n\n## Undo a commit that is already pushed\n\nUse git revert to undo a pushed commit safely.\n",
        "bread.md": "# Sourdough\n\nFeed the starter, then mix flour and water.\n",
    })
    desktop = make_desktop([notes], embedder=real_embedder)
    tab = desktop.search_tab
    desktop.window.resize(1280, 800)
    desktop.window.show_tab("Search")
    wait_ready(qtbot, desktop)
    search(qtbot, tab, "xyzzyqq plugh")
    assert tab.status.text().startswith("No good match")
    first = tab.results.topLevelItem(0)
    assert float(first.text(0)) < GOOD_MATCH
    assert first.foreground(1).color() != tab.palette().text().color()

    search(qtbot, tab, "how do I take back a commit I already pushed")
    assert not tab.status.text().startswith("No good match")
    first = tab.results.topLevelItem(0)
    assert first.text(3) == "git.md" and float(first.text(0)) >= GOOD_MATCH
    heading = first.text(2)
    assert heading == "Git > Undo a commit that is already pushed"
    needed = tab.results.fontMetrics().horizontalAdvance(heading)
    assert tab.results.header().sectionSize(2) > needed  # the heading is not cut


def test_search_before_the_index_is_open_says_so(qtbot, make_desktop):
    desktop = make_desktop(start=False)
    tab = desktop.search_tab
    tab.query.setText("anything")
    tab.search_button.click()
    qtbot.waitUntil(lambda: "still opening" in tab.status.text())
    assert tab.search_button.isEnabled()
