"""`notewell clients`: list OAuth-connected assistants and revoke one, also under a running server."""

from __future__ import annotations

from pathlib import Path

import pytest

from notewell.app.cli import main
from notewell.plugin_api.oauth_store import FILE_NAME, OAuthStore


def test_list_and_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server_store = OAuthStore(tmp_path / FILE_NAME)  # what a running `notewell serve` holds
    grant = server_store.add_grant("client-1", "ChatGPT", "chatgpt.com", ("notes:read",))
    access, _, _ = server_store.issue(grant, None)
    assert server_store.verify_access(access)

    assert main(["clients", "--data-dir", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert grant.id in listed and "ChatGPT (chatgpt.com)" in listed

    assert main(["clients", "--revoke", grant.id, "--data-dir", str(tmp_path)]) == 0
    assert "Revoked" in capsys.readouterr().out
    assert not server_store.verify_access(access)  # the other process's store follows the file
    assert server_store.grants() == []

    with pytest.raises(SystemExit) as exited:
        main(["clients", "--revoke", grant.id, "--data-dir", str(tmp_path)])
    assert exited.value.code == 2
    assert "notewell clients" in capsys.readouterr().err


def test_an_unreadable_file_is_set_aside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / FILE_NAME).write_text("{not json")
    assert main(["clients", "--data-dir", str(tmp_path)]) == 0
    assert (tmp_path / (FILE_NAME + ".broken")).exists()
