from __future__ import annotations

from pathlib import Path

import pytest

from notewell.app.cli import main


def test_print_then_rotate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--data-dir", str(tmp_path)]) == 0
    first = capsys.readouterr()
    token = first.out.strip()
    assert token.startswith("nw_") and "api-token" in first.err
    assert main(["token", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == token
    assert main(["token", "--rotate", "--data-dir", str(tmp_path)]) == 0
    rotated = capsys.readouterr()
    assert rotated.out.strip() != token and "running server uses it at once" in rotated.err
    assert (tmp_path / "api-token").read_text().strip() == rotated.out.strip()


def test_rotating_an_environment_token_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NOTEWELL_TOKEN", "e" * 40)
    assert main(["token", "--rotate", "--data-dir", str(tmp_path)]) == 1
    assert "change that variable" in capsys.readouterr().err
