"""OAuth clients, grants and tokens, kept in one private JSON file in the data dir (issue 7).

A *grant* is one "Allow" the user gave one client; its access and refresh tokens
hang off it, so revoking a grant (from the list of connected clients) ends all
of them. Tokens are stored only as SHA-256 hashes: the file alone lets no one in.
The file is written atomically with mode 0600. Its methods do file I/O: call them
off the event loop (`oauth_provider` does).

Registrations nobody allowed expire after a day, and at most `MAX_UNUSED_CLIENTS`
are kept (issue 15). An exchanged refresh token is kept as "spent" until it would
have expired, so a second use can be recognised (and the grant revoked).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

TokenKind = Literal["access", "refresh", "spent"]  # spent: a refresh token already exchanged
FILE_NAME = "oauth.json"  # in the data dir
log = logging.getLogger(__name__)
ACCESS_SECONDS = 3600
REFRESH_SECONDS = 30 * 24 * 3600
MAX_UNUSED_CLIENTS = 100  # registered but never allowed: anyone who reaches the URL can add one
UNUSED_CLIENT_SECONDS = 24 * 3600
LAST_USED_EVERY = 600.0  # seconds between writes of a grant's "last used"


@dataclass(frozen=True)
class Grant:
    id: str
    client_id: str
    client_name: str
    redirect_host: str
    scopes: tuple[str, ...]
    created_at: float
    last_used_at: float | None = None


@dataclass(frozen=True)
class StoredToken:
    kind: TokenKind
    grant_id: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: int
    resource: str | None = None


@dataclass
class _State:
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, StoredToken] = field(default_factory=dict)  # sha256 → token


class OAuthStore:
    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._state = self._load()
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    def open(cls, path: Path) -> OAuthStore:
        """The store in `path`; an unreadable file is set aside (clients must be allowed again)."""
        try:
            return cls(path)
        except OAuthStoreError as exc:
            log.warning("%s Setting it aside as %s.broken.", exc, path.name)
            path.replace(path.with_name(path.name + ".broken"))
            return cls(path)

    # -- clients ---------------------------------------------------------------
    def client(self, client_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._follow_file()
            return self._state.clients.get(client_id)

    def clients(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            self._follow_file()
            return dict(self._state.clients)

    def add_client(self, client_id: str, info: dict[str, Any]) -> None:
        with self._lock:
            self._follow_file()
            now = self.clock()
            self._state.clients[client_id] = {**info, "client_id_issued_at": int(now)}
            allowed = {g.client_id for g in self._state.grants.values()}
            unused = [c for c, i in self._state.clients.items() if c not in allowed and c != client_id]
            expired = [c for c in unused
                       if now - float(self._state.clients[c].get("client_id_issued_at", 0)) > UNUSED_CLIENT_SECONDS]
            extra = max(0, len(unused) - len(expired) + 1 - MAX_UNUSED_CLIENTS)
            for old in expired + [c for c in unused if c not in expired][:extra]:
                del self._state.clients[old]
            self._save()

    # -- grants and tokens -----------------------------------------------------
    def add_grant(self, client_id: str, client_name: str, redirect_host: str, scopes: tuple[str, ...]) -> Grant:
        grant = Grant(secrets.token_urlsafe(12), client_id, client_name, redirect_host, scopes, self.clock())
        with self._lock:
            self._follow_file()
            self._state.grants[grant.id] = grant
            self._save()
        self._changed()
        return grant

    def issue(self, grant: Grant, resource: str | None) -> tuple[str, str, int]:
        """New access and refresh tokens for `grant`: (access, refresh, access lifetime)."""
        access, refresh = "nwo_" + secrets.token_urlsafe(32), "nwr_" + secrets.token_urlsafe(32)
        now = int(self.clock())
        with self._lock:
            self._follow_file()
            self._state.tokens[_hash(access)] = StoredToken(
                "access", grant.id, grant.client_id, grant.scopes, now + ACCESS_SECONDS, resource)
            self._state.tokens[_hash(refresh)] = StoredToken(
                "refresh", grant.id, grant.client_id, grant.scopes, now + REFRESH_SECONDS, resource)
            self._drop_expired(now)
            self._save()
        return access, refresh, ACCESS_SECONDS

    def token(self, value: str, kind: TokenKind) -> StoredToken | None:
        """The live token of this kind, or None (unknown, expired, revoked)."""
        with self._lock:
            self._follow_file()
            token = self._state.tokens.get(_hash(value))
            if token is None or token.kind != kind or token.grant_id not in self._state.grants:
                return None
            return token if token.expires_at > self.clock() else None

    def grant(self, grant_id: str) -> Grant | None:
        with self._lock:
            self._follow_file()
            return self._state.grants.get(grant_id)

    def spend(self, value: str) -> None:
        """A refresh token was exchanged: it works no more, but a second use is recognised."""
        with self._lock:
            self._follow_file()
            token = self._state.tokens.get(_hash(value))
            if token is not None and token.kind == "refresh":
                self._state.tokens[_hash(value)] = StoredToken(**{**asdict(token), "kind": "spent"})
                self._save()

    def spent_grant(self, value: str) -> str | None:
        """The grant of this refresh token if it was already exchanged (and the grant still exists)."""
        with self._lock:
            self._follow_file()
            token = self._state.tokens.get(_hash(value))
            if token is None or token.kind != "spent" or token.grant_id not in self._state.grants:
                return None
            return token.grant_id

    def discard_access_tokens(self, grant_id: str) -> None:
        with self._lock:
            self._follow_file()
            self._state.tokens = {
                h: t for h, t in self._state.tokens.items() if not (t.grant_id == grant_id and t.kind == "access")
            }
            self._save()

    def verify_access(self, value: str) -> bool:
        return self.access(value) is not None

    def access(self, value: str) -> tuple[StoredToken, Grant] | None:
        """For the request guard: a live access token and its grant, noting when it was last used
        (written to the file at most every `LAST_USED_EVERY` seconds per grant)."""
        token = self.token(value, "access")
        if token is None:
            return None
        with self._lock:
            self._follow_file()
            grant = self._state.grants.get(token.grant_id)
            if grant is None:
                return None
            now = self.clock()
            stale = grant.last_used_at is None or now - grant.last_used_at > LAST_USED_EVERY
            grant = self._state.grants[grant.id] = Grant(**{**asdict(grant), "last_used_at": now})
            if stale:
                self._save()
        return token, grant

    def grants(self) -> list[Grant]:
        """The connected clients, oldest first."""
        with self._lock:
            self._follow_file()
            return sorted(self._state.grants.values(), key=lambda g: g.created_at)

    def revoke(self, grant_id: str) -> bool:
        with self._lock:
            self._follow_file()
            if self._state.grants.pop(grant_id, None) is None:
                return False
            self._state.tokens = {h: t for h, t in self._state.tokens.items() if t.grant_id != grant_id}
            self._save()
        self._changed()
        return True

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` when the list of connected clients changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- the file --------------------------------------------------------------
    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _drop_expired(self, now: int) -> None:
        self._state.tokens = {h: t for h, t in self._state.tokens.items() if t.expires_at > now}

    def _follow_file(self) -> None:
        # Trigger: `notewell clients --revoke` runs in another process than the server.
        # Why: a revoked client must be refused at once. Outcome: reload when the file changed.
        if self.path is not None and self._file_stamp() != self._stamp:
            self._state = self._load()

    def _file_stamp(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns if self.path is not None else None
        except OSError:
            return None

    def _load(self) -> _State:
        self._stamp = self._file_stamp()
        if self.path is None or self._stamp is None:
            return _State()
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return _State(
                clients=dict(raw.get("clients", {})),
                grants={k: Grant(**{**g, "scopes": tuple(g["scopes"])}) for k, g in raw.get("grants", {}).items()},
                tokens={k: StoredToken(**{**t, "scopes": tuple(t["scopes"])})
                        for k, t in raw.get("tokens", {}).items()},
            )
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise OAuthStoreError(
                f"The OAuth file {self.path} cannot be read ({exc}). Delete it to start over: "
                "connected clients will have to be allowed again."
            ) from exc

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "clients": self._state.clients,
            "grants": {k: asdict(g) for k, g in self._state.grants.items()},
            "tokens": {k: asdict(t) for k, t in self._state.tokens.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".oauth-", suffix=".json")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(temp, self.path)
            self._stamp = self._file_stamp()
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


class OAuthStoreError(Exception):
    pass


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
