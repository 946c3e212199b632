from __future__ import annotations


import pytest
from PySide6.QtCore import Qt

from notewell.app.gui.folders_tab import RowState, row_state
from notewell.indexer.types import FolderStatus, Progress
from tests.app.gui.conftest import wait_ready

F = "/notes"


def rows(tab) -> list[list[str]]:
    tree = tab.tree
    return [[tree.topLevelItem(n).text(c) for c in range(4)] for n in range(tree.topLevelItemCount())]


def test_first_run_offers_the_samples_and_indexes_them(qtbot, make_desktop):
    desktop = make_desktop()
    tab = desktop.folders_tab
    assert tab.pages.currentIndex() == 0 and tab.welcome_add.isVisible()
    qtbot.mouseClick(tab.welcome_sample, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.pages.currentIndex() == 1)
    qtbot.waitUntil(lambda: rows(tab) and rows(tab)[0][1] == "5" and rows(tab)[0][3] == "Up to date", timeout=20_000)


def test_add_a_folder_shows_progress_then_counts_and_problems(qtbot, make_desktop, notes):
    desktop = make_desktop(choose_folder=lambda parent: str(notes))
    tab = desktop.folders_tab
    seen: list[str] = []
    desktop.bridge.progress_changed.connect(lambda p: seen.append(p.phase))
    wait_ready(qtbot, desktop)
    qtbot.mouseClick(tab.welcome_add, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rows(tab) and rows(tab)[0][1] == "3", timeout=20_000)
    qtbot.waitUntil(lambda: rows(tab)[0][3].startswith("Up to date"))
    assert {"scanning", "embedding", "done"} <= set(seen)
    folder, files, chunks, state = rows(tab)[0]
    assert folder == str(notes) and int(chunks) >= 3
    assert state == "Up to date (1 skipped)"
    tab.tree.topLevelItem(0).setSelected(True)
    problems = [tab.problems.topLevelItem(n).text(0) for n in range(tab.problems.topLevelItemCount())]
    assert problems == ["broken.pdf"]
    assert tab.problems.topLevelItem(0).text(1)  # the reason

    qtbot.mouseClick(tab.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.pages.currentIndex() == 0)
    assert desktop.prefs.settings.folders == []


def test_a_note_saved_while_the_app_runs_appears_in_the_folder_counts(qtbot, make_desktop, notes):
    desktop = make_desktop([notes], watch=True)
    tab = desktop.folders_tab
    wait_ready(qtbot, desktop)
    qtbot.waitUntil(lambda: rows(tab) and rows(tab)[0][1] == "3", timeout=20_000)
    (notes / "kayak.md").write_text("# Kayak\n\nPaddle the fjord at dawn.\n")
    qtbot.waitUntil(lambda: rows(tab)[0][1] == "4", timeout=10_000)
    assert [r.path for r in desktop.indexing.search("fjord", k=1)] == ["kayak.md"]


def test_pause_and_resume(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    tab = desktop.folders_tab
    wait_ready(qtbot, desktop)
    tab.pause_button.click()
    qtbot.waitUntil(lambda: tab.pause_button.text() == "Resume indexing")
    assert desktop.indexing.paused and desktop.tray.pause_action.isChecked()
    tab.pause_button.click()
    qtbot.waitUntil(lambda: desktop.indexing.state == "idle" and tab.pause_button.text() == "Pause indexing")


def status(**counts: int) -> FolderStatus:
    return FolderStatus(F, **counts)


@pytest.mark.parametrize(
    ("status", "state", "progress", "exists", "expected"),
    [
        (None, "opening", None, True, RowState("Waiting for the index…")),
        (None, "scanning", Progress("scanning", F, 0, 0), True, RowState("Scanning…")),
        (None, "scanning", Progress("reading", F, 2, 8), True, RowState("Reading 2/8", 2, 8)),
        (None, "scanning", Progress("reading", "/other", 2, 8), True, RowState("Waiting to be scanned")),
        (status(files=3, pending_chunks=9), "embedding", Progress("embedding", None, 4, 9), True,
         RowState("Embedding 4/9", 4, 9)),
        (status(files=3), "embedding", Progress("embedding", None, 4, 9), True, RowState("Up to date")),
        (status(files=3, pending_chunks=9), "paused", None, True, RowState("Paused (9 passages to embed)")),
        (status(files=3, pending_chunks=5), "error", None, True,
         RowState("5 passages waiting: indexing stopped (see the top of the window)")),
        (status(files=3, failed=2, skipped=1), "idle", None, True, RowState("Up to date (2 errors, 1 skipped)")),
        (status(files=3), "idle", None, False, RowState("Folder not found: reconnect the drive or remove it")),
        (None, "idle", None, True, RowState("Not indexed yet")),
    ],
)
def test_row_state(status, state, progress, exists, expected):
    assert row_state(status, F, state, progress, exists) == expected


def state_cell(tab, n: int) -> str:
    """What a person sees in row n's State cell: the bar's text when a bar is shown, else the item's."""
    item = tab.tree.topLevelItem(n)
    bar = tab.tree.itemWidget(item, 3)
    if bar is not None and bar.isVisible():
        return bar.text()
    return item.text(3)


def test_state_cells_stay_readable_after_a_second_folder(qtbot, make_desktop, notes, tmp_path):
    second = tmp_path / "more"
    second.mkdir()
    (second / "kayak.md").write_text("# Kayak\n\nPaddle the fjord at dawn.\n")
    chosen = iter([str(notes), str(second)])
    desktop = make_desktop(choose_folder=lambda parent: next(chosen))
    tab = desktop.folders_tab
    desktop.window.show_tab("Folders")
    wait_ready(qtbot, desktop)
    tab.welcome_add.click()
    qtbot.waitUntil(lambda: rows(tab) and rows(tab)[0][3].startswith("Up to date"))
    tab.add_button.click()
    qtbot.waitUntil(lambda: len(rows(tab)) == 2 and all(r[3].startswith("Up to date") for r in rows(tab)))
    desktop.window.resize(desktop.window.width() - 40, desktop.window.height())  # the view lays rows out again
    qtbot.wait(200)
    bars = [tab.tree.itemWidget(tab.tree.topLevelItem(n), 3) for n in range(2)]
    assert not any(bar is not None and bar.isVisible() for bar in bars)  # no empty progress bars over the text
    assert all(state_cell(tab, n).startswith("Up to date") for n in range(2))
