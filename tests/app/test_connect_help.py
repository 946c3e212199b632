"""What to paste into each assistant: every config in its client's own format (issue 17)."""

from __future__ import annotations

import json

import pytest

from notewell.app.connect_help import CLIENTS, Addresses, guide, guides
from tests.app.client_formats import FORMATS, check, check_claude_command

LOCAL = "http://127.0.0.1:3333"
PUBLIC = "https://notes.example.test"
TOKEN = "nw_secret-key_123"


def test_the_format_checks_refuse_what_clients_refuse():
    url = f"{LOCAL}/mcp"
    untyped = {"mcpServers": {"notewell": {"url": url, "headers": {"Authorization": f"Bearer {TOKEN}"}}}}
    assert "missing ['type']" in check("claude-code", json.dumps(untyped), url, TOKEN)  # Claude Code 2.1's refusal
    assert check("cursor", json.dumps(untyped), url, TOKEN) == []
    assert check("vscode", json.dumps(untyped), url, TOKEN)[0].startswith("top level is ['mcpServers']")
    assert check("vscode", "{not json", url, TOKEN)[0].startswith("not JSON")


@pytest.mark.parametrize("client", sorted(FORMATS))
def test_each_mcp_config_is_in_its_clients_format(client):
    card = guide(client, Addresses(LOCAL, PUBLIC), TOKEN)
    assert check(client, card.config, f"{LOCAL}/mcp", TOKEN) == []
    json_pastes = [p for p in card.pastes if p.kind == "json"]
    assert json_pastes and all(check(client, p.text, f"{LOCAL}/mcp", TOKEN) == [] for p in json_pastes)


def test_claude_code_gets_a_command_and_the_project_file():
    card = guide("claude-code", Addresses(LOCAL), TOKEN)
    command = next(p.text for p in card.pastes if p.kind == "command")
    assert check_claude_command(command, f"{LOCAL}/mcp", TOKEN) == []
    assert [p.label for p in card.pastes] == ["Command", ".mcp.json"]


def test_chatgpt_uses_the_public_url_with_oauth_and_never_asks_for_a_code_in_the_app():
    app = guide("chatgpt", Addresses(LOCAL, PUBLIC), TOKEN, "app")
    assert [p.text for p in app.pastes] == [f"{PUBLIC}/mcp"]
    assert json.loads(app.config) == {"name": "Notewell", "mcp_server_url": f"{PUBLIC}/mcp",
                                      "authentication": "OAuth"}
    assert TOKEN not in app.config  # ChatGPT connectors send no static key
    text = " ".join(app.steps)
    assert "code" not in text and "`" not in text and "choose Allow" in text
    headless = guide("chatgpt", Addresses(LOCAL, PUBLIC), TOKEN, "cli")
    assert "one-time code that `notewell serve` prints" in " ".join(headless.steps)


def test_cloud_assistants_say_to_share_first_until_there_is_a_public_url():
    card = guide("gpt-action", Addresses(LOCAL, None), TOKEN)
    assert card.needs_public and card.steps[0].startswith("Share your notes: choose Start sharing")
    assert card.pastes[0].text == "https://<your public URL>/openapi.json"
    shared = guide("gpt-action", Addresses(LOCAL, PUBLIC), TOKEN)
    assert shared.pastes[0].text == f"{PUBLIC}/openapi.json"
    assert json.loads(shared.config)["authentication"] == {"type": "API Key", "auth_type": "Bearer",
                                                            "api_key": TOKEN}


def test_every_assistant_has_a_card_with_numbered_steps_in_order():
    cards = guides(Addresses(LOCAL, PUBLIC), TOKEN)
    assert [c.key for c in cards] == list(CLIENTS)
    assert [c.name for c in cards] == ["ChatGPT", "Custom GPT (Action)", "Claude Desktop", "Claude Code",
                                       "Cursor", "VS Code"]
    for card in cards:
        assert len(card.steps) >= 3 and all(step.endswith((".", ")")) for step in card.steps), card.key
        assert card.pastes and all(p.text for p in card.pastes)
    with pytest.raises(KeyError, match="choose one of chatgpt"):
        guide("windsurf", Addresses(LOCAL), TOKEN)
