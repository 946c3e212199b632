from __future__ import annotations

import json

import httpx
from PySide6.QtGui import QGuiApplication

from tests.app.gui.conftest import wait_ready

PUBLIC = "https://example.test"


def clipboard() -> str:
    return QGuiApplication.clipboard().text()


def test_copy_buttons_put_the_right_text_on_the_clipboard(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    tab = desktop.connect_tab
    wait_ready(qtbot, desktop)
    local = desktop.sharing.server_state.url
    qtbot.waitUntil(lambda: tab.manifest_url.text() == f"{local}/.well-known/ai-plugin.json")
    tab.copy_manifest.click()
    assert clipboard() == f"{local}/.well-known/ai-plugin.json"
    tab.copy_schema.click()
    assert clipboard() == f"{local}/openapi.json"
    token = desktop.tokens.get()
    tab.copy_key.click()
    assert clipboard() == token
    QGuiApplication.clipboard().clear()
    tab.copy_action_key.click()
    assert clipboard() == token
    assert tab.mcp_url.text() == f"{local}/mcp"
    tab.copy_mcp.click()
    assert clipboard() == f"{local}/mcp"
    tab.copy_mcp_json.click()
    assert json.loads(clipboard())["mcpServers"]["notewell"] == {
        "url": f"{local}/mcp", "headers": {"Authorization": f"Bearer {token}"}}
    tab.copy_claude_json.click()
    claude = json.loads(clipboard())["mcpServers"]["notewell"]
    assert claude["args"] == ["-y", "mcp-remote", f"{local}/mcp", "--header", "Authorization:${NOTEWELL_AUTH}"]
    assert claude["env"] == {"NOTEWELL_AUTH": f"Bearer {token}"}
    tools = httpx.post(f"{local}/mcp", headers={"Authorization": f"Bearer {token}",
                                                "Accept": "application/json, text/event-stream"},
                       json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert tools.status_code == 200  # the desktop app serves /mcp
    assert {tool["name"] for tool in tools.json()["result"]["tools"]} == {"search", "fetch"}


def test_sharing_through_a_public_url_changes_every_link(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    desktop.prefs.settings.public_url = PUBLIC  # make_tunnel("url", public_url=...): no network
    tab = desktop.connect_tab
    wait_ready(qtbot, desktop)
    qtbot.waitUntil(tab.share_button.isEnabled)
    tab.share_button.click()
    qtbot.waitUntil(lambda: tab.tunnel_label.text() == f"Sharing at {PUBLIC}")
    assert tab.share_button.text() == "Stop sharing"
    tab.copy_manifest.click()
    assert clipboard() == f"{PUBLIC}/.well-known/ai-plugin.json"
    tab.copy_schema.click()
    assert clipboard() == f"{PUBLIC}/openapi.json"
    tab.copy_mcp.click()
    assert clipboard() == f"{PUBLIC}/mcp"
    via_tunnel = {"Host": "example.test", "X-Forwarded-For": "203.0.113.5"}  # local requests see local URLs
    manifest = httpx.get(desktop.sharing.server_state.url + "/.well-known/ai-plugin.json", headers=via_tunnel).json()
    assert manifest["api"]["url"] == f"{PUBLIC}/openapi.yaml"

    tab.share_button.click()
    qtbot.waitUntil(lambda: tab.share_button.text() == "Start sharing")
    assert tab.tunnel_label.text().startswith("Not shared")


def test_show_hide_and_rotate_the_key(qtbot, make_desktop):
    desktop = make_desktop(confirm=lambda parent, question: True)
    tab = desktop.connect_tab
    old = desktop.tokens.get()
    assert old not in tab.key_field.text()
    tab.show_key.click()
    assert tab.key_field.text() == old and tab.show_key.text() == "Hide"
    tab.rotate_key.click()
    new = desktop.tokens.get()
    assert new != old and tab.key_field.text() == new
    tab.copy_key.click()
    assert clipboard() == new
    tab.show_key.click()
    assert new not in tab.key_field.text()


def test_refusing_the_rotation_keeps_the_key(qtbot, make_desktop):
    desktop = make_desktop(start=False, confirm=lambda parent, question: False)
    old = desktop.tokens.get()
    desktop.connect_tab.rotate_key.click()
    assert desktop.tokens.get() == old


def test_mcp_snippet_carries_the_key():
    from notewell.app.gui.connect_tab import mcp_snippet

    snippet = json.loads(mcp_snippet("https://x.test/mcp", "nw_abc"))
    assert snippet["mcpServers"]["notewell"] == {
        "url": "https://x.test/mcp", "headers": {"Authorization": "Bearer nw_abc"}}
