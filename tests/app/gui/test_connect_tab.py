from __future__ import annotations

import json

import httpx
from PySide6.QtGui import QGuiApplication

from notewell.app.gui.copy_button import COPIED
from tests.app.client_formats import FORMATS, check
from tests.app.gui.conftest import wait_ready

PUBLIC = "https://example.test"


def clipboard() -> str:
    return QGuiApplication.clipboard().text()


def test_each_assistant_has_a_card_whose_copy_buttons_confirm_and_copy_its_config(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    tab = desktop.connect_tab
    wait_ready(qtbot, desktop)
    desktop.window.show_tab("Connect")
    local = desktop.sharing.server_state.url
    token = desktop.tokens.get()
    assert [tab.picker.item(n).text() for n in range(tab.picker.count())] == [
        "ChatGPT", "Custom GPT (Action)", "Claude Desktop", "Claude Code", "Cursor", "VS Code"]
    for client in sorted(FORMATS):
        tab.show_client(client)
        card = tab.cards[client]
        assert tab.pages.currentWidget() is card and card.isVisible()
        qtbot.waitUntil(lambda card=card: local in card.fields[-1].toPlainText())
        assert token not in card.fields[-1].toPlainText()  # the key stays off the screen
        button = card.copy_buttons[-1]
        QGuiApplication.clipboard().clear()
        button.click()
        assert check(client, clipboard(), f"{local}/mcp", token) == []
        assert button.text() == COPIED  # the click visibly did something
        qtbot.waitUntil(lambda button=button: button.text() == "Copy", timeout=4000)
    tab.show_client("claude-code")
    tab.cards["claude-code"].copy_buttons[0].click()
    assert clipboard().startswith(f"claude mcp add --transport http --scope user notewell {local}/mcp --header")
    tools = httpx.post(f"{local}/mcp", headers={"Authorization": f"Bearer {token}",
                                                "Accept": "application/json, text/event-stream"},
                       json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert tools.status_code == 200  # the desktop app serves /mcp at the URL the cards give
    assert {tool["name"] for tool in tools.json()["result"]["tools"]} == {"search", "fetch"}


def test_chatgpt_cards_use_the_public_url_once_shared_and_never_ask_for_a_code(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    desktop.prefs.settings.public_url = PUBLIC  # make_tunnel("url", public_url=...): no network
    tab = desktop.connect_tab
    wait_ready(qtbot, desktop)
    chatgpt = tab.cards["chatgpt"]
    assert "Start sharing" in chatgpt.steps.text() and "code" not in chatgpt.steps.text()
    assert not chatgpt.copy_buttons[0].isEnabled()  # no placeholder address on the clipboard
    qtbot.waitUntil(tab.share_button.isEnabled)
    tab.share_button.click()
    qtbot.waitUntil(lambda: tab.tunnel_label.text() == f"Sharing at {PUBLIC}")
    assert tab.share_button.text() == "Stop sharing"
    chatgpt.copy_buttons[0].click()
    assert clipboard() == f"{PUBLIC}/mcp" and chatgpt.copy_buttons[0].text() == COPIED
    action = tab.cards["gpt-action"]
    action.copy_buttons[0].click()
    assert clipboard() == f"{PUBLIC}/openapi.json"
    action.copy_buttons[1].click()
    assert clipboard() == desktop.tokens.get()
    assert desktop.tokens.get() not in action.fields[1].text()
    # assistants on this computer keep the local address: it works without the tunnel
    tab.cards["cursor"].copy_buttons[0].click()
    assert json.loads(clipboard())["mcpServers"]["notewell"]["url"] == desktop.sharing.server_state.url + "/mcp"
    via_tunnel = {"Host": "example.test", "X-Forwarded-For": "203.0.113.5"}  # local requests see local URLs
    manifest = httpx.get(desktop.sharing.server_state.url + "/.well-known/ai-plugin.json", headers=via_tunnel).json()
    assert manifest["api"]["url"] == f"{PUBLIC}/openapi.yaml"

    tab.share_button.click()
    qtbot.waitUntil(lambda: tab.share_button.text() == "Start sharing")
    assert tab.tunnel_label.text().startswith("Not shared")


def test_first_time_sharing_points_to_the_authtoken_and_the_static_domain(qtbot, make_desktop):
    desktop = make_desktop(start=False)
    tab = desktop.connect_tab
    desktop.window.show_tab("Connect")
    assert tab.setup_box.isVisible()
    text = tab.setup_label.text()
    assert text.index("your-authtoken") < text.index("dashboard.ngrok.com/domains")
    tab.settings_button.click()
    assert desktop.window.tabs.currentWidget() is desktop.settings_tab
    desktop.settings_tab.authtoken_field.setText("2abc_token")
    desktop.settings_tab.save()
    assert not tab.setup_box.isVisible()


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
    assert clipboard() == new and tab.copy_key.text() == COPIED
    tab.cards["vscode"].copy_buttons[0].click()
    assert f"Bearer {new}" in clipboard()  # the cards follow the rotation
    tab.show_key.click()
    assert new not in tab.key_field.text()


def test_refusing_the_rotation_keeps_the_key(qtbot, make_desktop):
    desktop = make_desktop(start=False, confirm=lambda parent, question: False)
    old = desktop.tokens.get()
    desktop.connect_tab.rotate_key.click()
    assert desktop.tokens.get() == old
