from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication

from notewell.app.gui.app import ASSETS
from notewell.app.gui.bridge import Bridge
from notewell.app.gui.tray import Tray, TrayActions, tray_state
from notewell.app.sharing import ServerState
from notewell.plugin_api.tunnel import TunnelStatus
from tests.app.gui.conftest import wait_ready


def test_tray_menu_drives_the_app(qtbot, make_desktop, notes):
    desktop = make_desktop([notes], tray_available=True)
    desktop.prefs.settings.public_url = "https://example.test"
    tray, window = desktop.tray, desktop.window
    wait_ready(qtbot, desktop)
    qtbot.waitUntil(lambda: tray.share_action.isEnabled())

    window.close()  # with a tray, closing hides the window; the app keeps running
    assert not window.isVisible()
    tray.open_action.trigger()
    assert window.isVisible()

    tray.share_action.trigger()
    qtbot.waitUntil(lambda: tray.share_action.text() == "Stop sharing")
    assert tray.state == "sharing" and tray.status_action.text() == "Sharing your notes"
    tray.copy_mcp_action.trigger()  # what most assistants take now (#17)
    assert QGuiApplication.clipboard().text() == "https://example.test/mcp"
    tray.copy_key_action.trigger()
    assert QGuiApplication.clipboard().text() == desktop.tokens.get()
    tray.share_action.trigger()
    qtbot.waitUntil(lambda: tray.share_action.text() == "Start sharing")

    tray.pause_action.trigger()
    qtbot.waitUntil(lambda: tray.status_action.text() == "Indexing paused")
    assert desktop.folders_tab.pause_button.isChecked()
    tray.pause_action.trigger()
    qtbot.waitUntil(lambda: desktop.indexing.state == "idle" and not tray.pause_action.isChecked())


def test_without_a_tray_the_window_closes_like_any_window(qtbot, make_desktop):
    desktop = make_desktop(start=False, tray_available=False)
    assert desktop.tray.icon is None
    assert not desktop.tray.notify("title", "message")
    desktop.window.close()
    assert not desktop.window.isVisible()
    assert desktop.tray.menu.actions()  # the menu still exists, for the window's sake


def test_quit_and_open_call_their_actions(qtbot):
    calls: list[str] = []
    actions = TrayActions(*(lambda name=name: calls.append(name) for name in
                            ("open", "start", "stop", "manifest", "key")),
                          set_paused=lambda paused: calls.append(f"paused={paused}"),
                          quit=lambda: calls.append("quit"))
    tray = Tray(Bridge(), actions, ASSETS, available=False)
    tray.open_action.trigger()
    tray.quit_action.trigger()
    tray.pause_action.trigger()
    assert calls == ["open", "quit", "paused=True"]


def test_icons_exist_for_every_state():
    for state in ("idle", "indexing", "sharing", "error"):
        assert (ASSETS / f"tray-{state}.png").is_file()
    assert Path(ASSETS / "logo.png").is_file()


def test_tray_state():
    running, off = ServerState("running", "http://x"), TunnelStatus("off")
    assert tray_state("scanning", running, off) == "indexing"
    assert tray_state("idle", running, TunnelStatus("online", "https://x")) == "sharing"
    assert tray_state("idle", running, TunnelStatus("error", message="no")) == "error"
    assert tray_state("idle", ServerState("error", message="port"), off) == "error"
    assert tray_state("idle", running, off) == "idle"
