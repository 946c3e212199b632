"""`notewell connect [CLIENT] [--json]` (issue 17): the same cards as the app, for a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notewell.app.cli import main
from notewell.app.settings import Settings
from tests.app.client_formats import FORMATS, check

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    settings = Settings()
    settings.port = 4455
    settings.ngrok_domain = "calm-otter.ngrok-free.app"
    settings.save(tmp_path)
    return tmp_path


def token(data: Path, capsys: Capture) -> str:
    assert main(["token", "--data-dir", str(data)]) == 0
    return capsys.readouterr().out.strip()


@pytest.mark.parametrize("client", sorted(FORMATS))
def test_json_prints_only_the_config_to_paste(data, capsys, client):
    key = token(data, capsys)
    assert main(["connect", client, "--json", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert check(client, out, "http://127.0.0.1:4455/mcp", key) == []


def test_chatgpt_json_is_the_connector_form_at_the_static_domain(data, capsys):
    assert main(["connect", "chatgpt", "--json", "--data-dir", str(data)]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "name": "Notewell", "mcp_server_url": "https://calm-otter.ngrok-free.app/mcp", "authentication": "OAuth"}


def test_one_client_prints_its_steps_and_what_to_paste(data, capsys):
    key = token(data, capsys)
    assert main(["connect", "claude-code", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== Claude Code (claude-code) ==\n")
    assert "  1. Run the command below in a terminal" in out and "  3. Check with `claude mcp list`" in out
    assert (f"Command: claude mcp add --transport http --scope user notewell http://127.0.0.1:4455/mcp "
            f"--header 'Authorization: Bearer {key}'") in out
    assert '"type": "http"' in out


def test_no_client_prints_every_card_and_chatgpt_never_mentions_the_key(data, capsys):
    key = token(data, capsys)
    assert main(["connect", "--data-dir", str(data)]) == 0
    captured = capsys.readouterr()
    headings = [line for line in captured.out.splitlines() if line.startswith("== ")]
    assert headings == ["== ChatGPT (chatgpt) ==", "== Custom GPT (Action) (gpt-action) ==",
                        "== Claude Desktop (claude-desktop) ==", "== Claude Code (claude-code) ==",
                        "== Cursor (cursor) ==", "== VS Code (vscode) =="]
    chatgpt = captured.out.split("== Custom GPT")[0]
    assert "MCP URL: https://calm-otter.ngrok-free.app/mcp" in chatgpt and key not in chatgpt
    assert "keep it secret" in captured.err


def test_bad_usage_exits_2(data, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["connect", "--json", "--data-dir", str(data)])
    assert exit_info.value.code == 2
    assert "--json prints one client's config" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["connect", "windsurf", "--data-dir", str(data)])
    assert exit_info.value.code == 2
