"""Bearer-token checks (the manifest's `user_http` auth) and lockout after failures.

The token is read through a callable on every request, so `notewell token --rotate`
takes effect in a running server. Comparison is constant-time; the token is never
echoed, logged or put in an error message.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from .errors import LockedOut, Unauthorized

TokenProvider = Callable[[], str]
Clock = Callable[[], float]


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 10  # wrong tokens from one client within `window` ...
    window: float = 600.0
    lockout: float = 300.0  # ... lock it out (429) for this many seconds
    max_clients: int = 10_000  # bounded memory under a flood of addresses


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Authenticator:
    """Checks `Authorization: Bearer …` and locks out clients that keep guessing."""

    def __init__(
        self,
        token: TokenProvider,
        policy: LockoutPolicy = LockoutPolicy(),
        clock: Clock = time.monotonic,
    ) -> None:
        self._token = token
        self._policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._locked_until: dict[str, float] = {}

    def check(self, client: str, authorization: str | None) -> None:
        """Return if the request may proceed; raise 429 or 401 otherwise."""
        self.raise_if_locked(client)
        given = bearer_token(authorization)
        if given is not None and token_matches(given, self._token()):
            with self._lock:
                self._failures.pop(client, None)
            return
        self._record_failure(client)
        if given is None:
            raise Unauthorized(
                "This endpoint needs `Authorization: Bearer <token>`. "
                "Run `notewell token` on the computer that serves the notes to see the token."
            )
        raise Unauthorized(
            "The bearer token is not valid (it may have been rotated). "
            "Run `notewell token` to see the current one and update the assistant's settings."
        )

    def raise_if_locked(self, client: str) -> None:
        with self._lock:
            until = self._locked_until.get(client)
            if until is None:
                return
            remaining = until - self._clock()
            if remaining <= 0:
                del self._locked_until[client]
                return
        raise LockedOut(
            "Too many requests with a wrong token from this client; "
            "wait and retry with the current token from `notewell token`.",
            retry_after=int(remaining + 0.999),
        )

    def _record_failure(self, client: str) -> None:
        now = self._clock()
        policy = self._policy
        with self._lock:
            recent = [t for t in self._failures.pop(client, []) if now - t < policy.window]
            recent.append(now)
            if len(recent) >= policy.max_failures:
                self._locked_until[client] = now + policy.lockout
                recent = []
            self._failures[client] = recent
            while len(self._failures) > policy.max_clients:
                self._failures.popitem(last=False)
            if len(self._locked_until) > policy.max_clients:
                live = sorted((u, c) for c, u in self._locked_until.items() if u > now)
                self._locked_until = {c: u for u, c in live[-policy.max_clients :]}
