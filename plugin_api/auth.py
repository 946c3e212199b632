"""Credentials: the API key and OAuth access tokens, and throttling of wrong ones.

    caller = key_caller(bearer_token(header), key())   # the key's Caller, or None
    throttle.failed(source)        # a wrong credential from this source (429 once over the limit)

Rule (issue 15): a correct key or token is never refused because of anyone's
failures, its own source's included. Only requests with a *wrong* credential are
throttled (429 with Retry-After), per source; a request without any credential is
not a guess (OAuth clients start that way) and is not counted. The key is 256
random bits, so the throttle is against noise, not against guessing.

The key is read through a callable on every request, so `notewell token --rotate`
takes effect in a running server. Comparison is constant-time; no credential is
ever echoed, logged or put in an error message.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Literal, Protocol

from .errors import LockedOut

TokenProvider = Callable[[], str]
Clock = Callable[[], float]
KEY_NAME = "API key"


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 10  # wrong credentials from one source within `window` ...
    window: float = 600.0
    lockout: float = 300.0  # ... answer its wrong credentials with 429 for this many seconds
    max_clients: int = 10_000  # bounded memory under a flood of addresses


@dataclass(frozen=True)
class Caller:
    """Who a request's credential says it is."""

    kind: Literal["key", "oauth"]
    id: str  # "key", or the OAuth grant: keys the rate limit
    name: str  # for the activity record: "API key", or the client's name
    scopes: frozenset[str] | None  # None: everything (the key)
    resource: str | None = None  # the OAuth token's audience (RFC 8707)


class OAuthTokens(Protocol):
    """What the guard asks the OAuth server (`oauth.OAuthServer`) about a token."""

    def caller(self, token: str) -> Caller | None: ...


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def key_caller(given: str, key: str) -> Caller | None:
    return Caller("key", "key", KEY_NAME, None) if token_matches(given, key) else None


class FailureThrottle:
    """Counts wrong credentials per source; past the limit, that source's wrong ones get 429."""

    def __init__(self, policy: LockoutPolicy = LockoutPolicy(), clock: Clock = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._until: OrderedDict[str, float] = OrderedDict()

    def failed(self, source: str) -> None:
        """Count one wrong credential; raise LockedOut if `source` was already over the limit."""
        now, policy = self._clock(), self._policy
        with self._lock:
            until = self._until.get(source, 0.0)
            if until <= now:
                recent = [t for t in self._failures.pop(source, []) if now - t < policy.window]
                recent.append(now)
                if len(recent) >= policy.max_failures:  # the next wrong ones wait
                    self._until[source] = now + policy.lockout
                    self._until.move_to_end(source)
                    recent = []
                self._failures[source] = recent
            while len(self._failures) > policy.max_clients:
                self._failures.popitem(last=False)
            while len(self._until) > policy.max_clients:
                self._until.popitem(last=False)
        if until > now:
            raise LockedOut(
                "Too many requests with a wrong key or token from this address; wait the seconds in "
                "Retry-After. The current key is shown by `notewell token`.",
                retry_after=int(until - now + 0.999),
            )

    def tracked(self) -> int:
        with self._lock:
            return len(self._failures) + len(self._until)


def challenge(error: str | None = None, description: str | None = None, *, scope: str | None = None,
              resource_metadata: str | None = None) -> str:
    """A `WWW-Authenticate: Bearer …` value (RFC 6750 §3, RFC 9728 §5.1); every value is ours."""
    parts = ['realm="notewell"']
    for name, value in (("error", error), ("error_description", description), ("scope", scope),
                        ("resource_metadata", resource_metadata)):
        if value:
            parts.append(f'{name}="{value}"')
    return "Bearer " + ", ".join(parts)
