from __future__ import annotations

import stat
from pathlib import Path

import pytest

from notewell.app.secrets import EnvToken, FileTokenStore, TokenError, open_token_store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_on_first_use_private_and_strong(tmp_path: Path) -> None:
    store = open_token_store(tmp_path)
    token = store.get()
    path = tmp_path / "api-token"
    assert mode(path) == 0o600
    assert token.startswith("nw_") and len(token) == 3 + 43  # 32 random bytes, base64url
    assert store.get() == token == open_token_store(tmp_path).get()
    assert str(path) in store.location


def test_rotation_is_seen_by_other_stores(tmp_path: Path) -> None:
    server_side = FileTokenStore(tmp_path / "api-token")
    old = server_side.get()
    new = FileTokenStore(tmp_path / "api-token").rotate()  # `notewell token --rotate` elsewhere
    assert new != old
    assert server_side.get() == new
    assert mode(tmp_path / "api-token") == 0o600


def test_loosened_permissions_are_tightened(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "api-token")
    store.rotate()
    (tmp_path / "api-token").chmod(0o644)
    FileTokenStore(tmp_path / "api-token").get()
    assert mode(tmp_path / "api-token") == 0o600


def test_a_damaged_token_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "api-token").write_text("short\n")
    with pytest.raises(TokenError, match="notewell token --rotate"):
        FileTokenStore(tmp_path / "api-token").get()


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value = "x" * 40
    monkeypatch.setenv("NOTEWELL_TOKEN", value)
    store = open_token_store(tmp_path)
    assert isinstance(store, EnvToken) and store.get() == value
    assert not (tmp_path / "api-token").exists()
    with pytest.raises(TokenError, match="NOTEWELL_TOKEN"):
        store.rotate()
    monkeypatch.setenv("NOTEWELL_TOKEN", "too-short")
    with pytest.raises(TokenError, match="at least 32"):
        open_token_store(tmp_path)


def test_unusable_keyring_falls_back_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setenv("NOTEWELL_TOKEN_STORE", "keyring")
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    store = open_token_store(tmp_path)
    token = store.get()
    assert (tmp_path / "api-token").read_text().strip() == token
    assert "keyring was not used" in store.location
