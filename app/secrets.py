"""The API token: created on first use, stored privately, rotatable.

Where it lives, in order:
  1. `NOTEWELL_TOKEN` (headless deployments, tests): used as is, never stored;
  2. the OS keyring, when asked for (`NOTEWELL_TOKEN_STORE=keyring`) and usable;
  3. otherwise `api-token` in the data dir, mode 0600, written atomically.
A keyring that fails (no backend, locked) falls back to the file, with a note in
`location`. The file store re-reads the file when it changes, so a running server
picks up `notewell token --rotate` from another process.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import Protocol

from .settings import write_private_file

TOKEN_FILE = "api-token"
TOKEN_PREFIX = "nw_"
MIN_TOKEN_CHARS = 32
KEYRING_SERVICE = "notewell"
KEYRING_USER = "api-token"


class TokenError(Exception):
    pass


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


class TokenStore(Protocol):
    def get(self) -> str: ...

    def rotate(self) -> str: ...

    @property
    def location(self) -> str: ...


class EnvToken:
    def __init__(self, value: str) -> None:
        if len(value.strip()) < MIN_TOKEN_CHARS or any(c.isspace() for c in value.strip()):
            raise TokenError(
                f"NOTEWELL_TOKEN must be at least {MIN_TOKEN_CHARS} characters without spaces; "
                "unset it to let Notewell create a strong token."
            )
        self._value = value.strip()

    def get(self) -> str:
        return self._value

    def rotate(self) -> str:
        raise TokenError(
            "The token comes from NOTEWELL_TOKEN; change that variable to rotate it."
        )

    @property
    def location(self) -> str:
        return "the NOTEWELL_TOKEN environment variable"


class FileTokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int], str] | None = None

    def get(self) -> str:
        with self._lock:
            stamp = self._stamp()
            if stamp is not None and self._cached and self._cached[0] == stamp:
                return self._cached[1]
            if stamp is None:
                self._write(new_token())
                stamp = self._stamp()
            token = self._read()
            self._cached = (stamp, token) if stamp else None
            return token

    def rotate(self) -> str:
        with self._lock:
            token = new_token()
            self._write(token)
            self._cached = None
            return token

    @property
    def location(self) -> str:
        return f"{self.path} (readable only by you)"

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> str:
        try:
            token = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TokenError(f"Cannot read the API token in {self.path}: {exc.strerror}.") from exc
        if len(token) < MIN_TOKEN_CHARS:
            raise TokenError(
                f"The API token in {self.path} is too short; run `notewell token --rotate`."
            )
        if self.path.stat().st_mode & 0o077:
            os.chmod(self.path, 0o600)  # someone loosened it; the token must stay private
        return token

    def _write(self, token: str) -> None:
        try:
            write_private_file(self.path, token + "\n")
        except OSError as exc:
            raise TokenError(
                f"Cannot save the API token in {self.path}: {exc.strerror}. "
                "Check that the data directory is writable, or use --data-dir."
            ) from exc


class KeyringTokenStore:
    """The OS keyring; construction fails (TokenError) when no usable backend exists."""

    def __init__(self) -> None:
        try:
            import keyring
            from keyring.backends import fail

            if isinstance(keyring.get_keyring(), fail.Keyring):
                raise TokenError("no keyring backend")
            self._keyring = keyring
            # Cached: a keyring call per request would be slow; a rotation from another
            # process therefore reaches a running server at its next start.
            self._token = keyring.get_password(KEYRING_SERVICE, KEYRING_USER) or self.rotate()
        except TokenError:
            raise
        except Exception as exc:  # any backend failure: locked, no D-Bus, denied
            raise TokenError(f"the keyring is not usable ({exc})") from exc

    def get(self) -> str:
        return self._token

    def rotate(self) -> str:
        token = new_token()
        self._keyring.set_password(KEYRING_SERVICE, KEYRING_USER, token)
        self._token = token
        return token

    @property
    def location(self) -> str:
        return f"the system keyring (service {KEYRING_SERVICE!r}, user {KEYRING_USER!r})"


class _FallbackStore(FileTokenStore):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(path)
        self._reason = reason

    @property
    def location(self) -> str:
        return f"{super().location}; the keyring was not used: {self._reason}"


def open_token_store(data_dir: Path) -> TokenStore:
    env = os.environ.get("NOTEWELL_TOKEN")
    if env:
        return EnvToken(env)
    path = data_dir / TOKEN_FILE
    if os.environ.get("NOTEWELL_TOKEN_STORE", "file").lower() == "keyring":
        try:
            return KeyringTokenStore()
        except TokenError as exc:
            return _FallbackStore(path, str(exc))
    return FileTokenStore(path)


NGROK_AUTHTOKEN = "ngrok-authtoken"


class UserSecret:
    """A secret the user types in (the ngrok authtoken): the keyring when asked for and
    usable (`NOTEWELL_TOKEN_STORE=keyring`), else a 0600 file in the data dir."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self.name = name
        self.path = data_dir / name
        self._keyring = None
        if os.environ.get("NOTEWELL_TOKEN_STORE", "file").lower() == "keyring":
            try:
                import keyring
                from keyring.backends import fail

                if not isinstance(keyring.get_keyring(), fail.Keyring):
                    self._keyring = keyring
            except Exception:  # no usable backend: the file below is the fallback
                self._keyring = None

    def get(self) -> str:
        if self._keyring is not None:
            try:
                return self._keyring.get_password(KEYRING_SERVICE, self.name) or ""
            except Exception:
                pass
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise TokenError(f"Cannot read {self.path}: {exc.strerror}.") from exc

    def set(self, value: str) -> None:
        """Store `value`; an empty value forgets the secret."""
        value = value.strip()
        if self._keyring is not None:
            try:
                if value:
                    self._keyring.set_password(KEYRING_SERVICE, self.name, value)
                else:
                    self._keyring.delete_password(KEYRING_SERVICE, self.name)
                self.path.unlink(missing_ok=True)
                return
            except Exception:
                pass  # keyring refused (locked, no D-Bus): keep it in the private file
        if value:
            write_private_file(self.path, value + "\n")
        else:
            self.path.unlink(missing_ok=True)
