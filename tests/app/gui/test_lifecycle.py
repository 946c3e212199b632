"""Quit means quit, closing the window says what happens, and the folder rows tell the
truth while a person changes folders mid-index (#14)."""

from __future__ import annotations

import time

import httpx
import pytest
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from notewell.indexer.embedding import HashEmbedder
from tests.app.gui.conftest import wait_ready
from tests.app.gui.test_consent import start_authorizing
from tests.helpers import finishes, write_notes


def _run_until_quit(trigger, within_ms: int = 20_000) -> int:  # type: ignore[no-untyped-def]
    """Run the app's event loop as `run_gui` does, call `trigger` inside it; its exit code
    (99 if nothing ended it)."""
    QTimer.singleShot(0, trigger)
    # A guard that outlived this loop would end some later test's wait (and leave Qt's
    # quitNow set, so every later qtbot wait returns without delivering events).
    guard = QTimer(singleShot=True, interval=within_ms)
    guard.timeout.connect(lambda: QCoreApplication.exit(99))
    guard.start()
    try:
        return QApplication.instance().exec()
    finally:
        guard.stop()


@pytest.mark.parametrize(("quit_from", "window"), [("tray", "open"), ("tray", "in the tray"), ("window menu", "open")])
def test_quit_ends_the_app_whatever_is_open(qtbot, make_desktop, notes, quit_from, window):
    desktop = make_desktop([notes], tray_available=True)
    wait_ready(qtbot, desktop)
    url = desktop.sharing.server_state.url
    start_authorizing(url)  # a consent question is open, as after an assistant asked
    qtbot.waitUntil(lambda: len(desktop.consent_prompt.open) == 1)
    if window == "in the tray":
        desktop.window.close()  # hidden, with its one-time note
    desktop.tray.notify("Sharing dropped", "Notewell is reconnecting…", warning=True)
    quit_action = desktop.tray.quit_action if quit_from == "tray" else desktop.window.quit_action
    asked: list[int] = []

    def a_modal_question_then_quit() -> None:
        QTimer.singleShot(200, quit_action.trigger)  # fires inside the modal question's own loop
        asked.append(QMessageBox.question(desktop.window, "Rotate the key?", "Sure?"))

    assert _run_until_quit(a_modal_question_then_quit) == 0
    assert asked  # the modal question's loop ended too
    assert not any(w.isVisible() for w in QApplication.topLevelWidgets())
    assert finishes(desktop.shutdown, 5)  # what run_gui does next
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2)


def test_closing_the_window_says_once_that_notewell_keeps_running(qtbot, make_desktop):
    desktop = make_desktop(start=False, tray_available=True)
    tray = desktop.tray
    desktop.window.close()
    assert not desktop.window.isVisible()
    said = tray.last_message[0] if tray.last_message else tray.notice.windowTitle()  # type: ignore[union-attr]
    assert said == "Notewell keeps running" and desktop.prefs.settings.told_about_tray
    tray.last_message = tray.notice = None
    desktop.window.show()
    desktop.window.close()
    assert tray.last_message is None and tray.notice is None  # once is enough


class Slow(HashEmbedder):
    def embed_documents(self, texts):  # type: ignore[no-untyped-def]
        time.sleep(0.02)
        return super().embed_documents(texts)


def test_folder_rows_match_the_catalog_after_folders_change_mid_index(qtbot, make_desktop, tmp_path):
    first = write_notes(tmp_path / "first", {f"f{n:03}.md": f"# F {n}\n\nfirst folder note {n}\n" for n in range(150)})
    second = write_notes(tmp_path / "second", {f"s{n:02}.md": f"# S {n}\n\nsecond folder note {n}\n" for n in range(40)})
    desktop = make_desktop([first], embedder=Slow())
    qtbot.waitUntil(lambda: desktop.indexing.state == "embedding", timeout=30_000)
    desktop.prefs.add_folder(second)  # as the Add button does
    qtbot.waitUntil(lambda: desktop.folders_tab.tree.topLevelItemCount() == 2)
    desktop.prefs.remove_folder(str(first.resolve()))
    wait_ready(qtbot, desktop, timeout=60_000)
    tree = desktop.folders_tab.tree
    catalog = desktop.indexing.index.catalog
    qtbot.waitUntil(lambda: tree.topLevelItemCount() == 1 and tree.topLevelItem(0).text(1) == "40")
    rows = [(tree.topLevelItem(n).text(0), int(tree.topLevelItem(n).text(1)), int(tree.topLevelItem(n).text(2)))
            for n in range(tree.topLevelItemCount())]
    assert rows == [(folder, files, chunks) for folder, files, chunks, *_ in catalog.folder_counts()]
    # The rows follow the worker by queued signals: the last may land after "idle".
    qtbot.waitUntil(lambda: tree.topLevelItem(0).text(3) == "Up to date")
