"""Sharing you can steer (issue 17): the ngrok agent path from Settings, Stop while retrying,
one retry loop at a time, and retries that end in a clear stopped state. The real tunnel
code drives the fake ngrok agent from tests/plugin_api."""

from __future__ import annotations

from pathlib import Path

import pytest

from notewell.plugin_api import tunnel_ngrok
from tests.app.gui.conftest import wait_ready
from tests.plugin_api.tunnel_helpers import FAKE_NGROK, fake_state, set_knobs


def set_up_sharing(desktop, mode: str) -> Path:
    """What a person does in Settings → Sharing: the authtoken and the agent's path, then Save."""
    set_knobs(desktop.prefs.data_dir / "ngrok", mode=mode)  # the fake reads its config's folder
    tab = desktop.settings_tab
    tab.authtoken_field.setText("good-token")
    tab.editors["ngrok_path"].widget.setText(str(FAKE_NGROK))
    tab.save()
    return desktop.prefs.data_dir / "ngrok"


def test_the_agent_path_from_settings_is_the_agent_that_runs(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    state_dir = set_up_sharing(desktop, "ok")
    assert desktop.prefs.settings.ngrok_path == str(FAKE_NGROK)
    connect = desktop.connect_tab
    qtbot.waitUntil(connect.share_button.isEnabled)  # the tab heard that the server runs
    connect.share_button.click()
    qtbot.waitUntil(lambda: connect.tunnel_label.text().startswith("Sharing at https://"), timeout=30_000)
    assert fake_state(state_dir)["authtoken"] == "good-token"  # the fake agent at that path answered
    assert connect.cards["chatgpt"].fields[0].text().endswith(".ngrok-free.app/mcp")
    connect.share_button.click()
    qtbot.waitUntil(lambda: connect.share_button.text() == "Start sharing", timeout=10_000)


def test_the_browse_button_fills_in_the_agent_path(qtbot, make_desktop, tmp_path):
    agent = tmp_path / "bin" / "ngrok"
    desktop = make_desktop(start=False)
    desktop.settings_tab._choose_file = lambda parent, title: str(agent)
    desktop.settings_tab.browse_ngrok.click()
    assert desktop.settings_tab.editors["ngrok_path"].widget.text() == str(agent)


def test_stop_while_retrying_and_start_starts_no_second_loop(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    set_up_sharing(desktop, "session_limit")  # ngrok refuses: Notewell retries
    connect, tray = desktop.connect_tab, desktop.tray
    qtbot.waitUntil(connect.share_button.isEnabled)
    connect.share_button.click()
    qtbot.waitUntil(lambda: connect.tunnel_label.text().startswith("Not connected yet: Another ngrok agent"),
                    timeout=30_000)
    assert connect.share_button.text() == "Stop sharing" and tray.share_action.text() == "Stop sharing"
    tunnel = desktop.sharing._tunnel
    desktop.sharing.start_sharing().result(timeout=10)  # "Start sharing" again, e.g. from a second window
    assert desktop.sharing._tunnel is tunnel  # the same attempt goes on
    connect.share_button.click()
    qtbot.waitUntil(lambda: connect.tunnel_label.text().startswith("Not shared"), timeout=10_000)
    assert connect.share_button.text() == "Start sharing"
    set_knobs(desktop.prefs.data_dir / "ngrok", mode="ok")  # a retry now would go online
    qtbot.wait(1500)  # longer than the first retry's 1 s wait
    assert connect.tunnel_label.text().startswith("Not shared")


def test_retries_end_in_sharing_stopped_with_what_to_do(qtbot, make_desktop, notes, monkeypatch):
    monkeypatch.setattr(tunnel_ngrok, "GIVE_UP_AFTER", 1.5)
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    set_up_sharing(desktop, "session_limit")
    connect = desktop.connect_tab
    qtbot.waitUntil(connect.share_button.isEnabled)
    connect.share_button.click()
    qtbot.waitUntil(lambda: connect.tunnel_label.text().startswith("Sharing stopped: "), timeout=30_000)
    text = connect.tunnel_label.text()
    assert "Notewell tried for 1.5 seconds and stopped." in text
    assert text.endswith("then start sharing again.") and "keeps trying" not in text
    assert connect.share_button.text() == "Start sharing"
    qtbot.waitUntil(lambda: desktop.tray.status_action.text() == "Sharing stopped: see Connect")
    set_knobs(desktop.prefs.data_dir / "ngrok", mode="ok")
    connect.share_button.click()  # the person fixed it: Start sharing works again
    qtbot.waitUntil(lambda: connect.tunnel_label.text().startswith("Sharing at https://"), timeout=30_000)
    connect.share_button.click()
    qtbot.waitUntil(lambda: connect.share_button.text() == "Start sharing", timeout=10_000)


@pytest.fixture(autouse=True)
def _no_ngrok_on_path(monkeypatch):
    monkeypatch.delenv("NGROK_AUTHTOKEN", raising=False)
