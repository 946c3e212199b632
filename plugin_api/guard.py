"""The ASGI middleware every request passes: rate limit, auth, body limit, activity log.

Default deny: only the declared public paths skip the bearer check, so a route
added later (such as /mcp) is protected until someone decides otherwise.
"""

from __future__ import annotations

import time
from typing import Callable, Protocol

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .activity import ActivityEntry, ActivityLog, now_iso
from .auth import Authenticator, bearer_token
from .addresses import client_address
from .errors import ApiError, Unauthorized, error_response
from .limits import Limits, RateLimiter, declared_length_too_large, limit_body, too_large


class OAuthHooks(Protocol):
    """What the guard asks the OAuth server (`oauth.OAuthServer`), when there is one."""

    def protects(self, path: str) -> bool: ...

    def verify(self, token: str) -> bool: ...

    def challenge(self, scope: Scope) -> str: ...


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        public_paths: frozenset[str],
        authenticator: Authenticator,
        rate_limiter: RateLimiter,
        limits: Limits,
        activity: ActivityLog | None,
        public_url: Callable[[], str | None],
        oauth: OAuthHooks | None = None,
    ) -> None:
        self.app = app
        self.public_paths = public_paths
        self.authenticator = authenticator
        self.rate_limiter = rate_limiter
        self.limits = limits
        self.activity = activity
        self.public_url = public_url
        self.oauth = oauth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client = client_address(scope, self.public_url())
        state = scope.setdefault("state", {})
        state["client"] = client
        public = scope["path"] in self.public_paths
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            self.rate_limiter.check(client)
            if not public:
                self._authenticate(scope, client)
            if declared_length_too_large(scope["headers"], self.limits.max_body_bytes):
                raise too_large(self.limits.max_body_bytes)
        except ApiError as refused:
            state["outcome"] = refused.code
            await error_response(refused)(scope, receive, send_and_watch)
            self._record(scope, client, refused.status, started)
            return
        try:
            await self.app(scope, limit_body(receive, self.limits.max_body_bytes), send_and_watch)
        finally:
            if not public:
                self._record(scope, client, status, started)

    def _authenticate(self, scope: Scope, client: str) -> None:
        authorization = Headers(scope=scope).get("authorization")
        oauth = self.oauth if self.oauth is not None and self.oauth.protects(scope["path"]) else None
        if oauth is None:
            self.authenticator.check(client, authorization)
            return
        given = bearer_token(authorization)
        try:
            if given is None:
                # An OAuth client's first request carries no token by design (discovery):
                # not a guess, so it does not count toward the lockout.
                self.authenticator.raise_if_locked(client)
                raise Unauthorized(
                    "This endpoint needs `Authorization: Bearer <token>`: the API key from "
                    "`notewell token`, or an OAuth access token (see WWW-Authenticate)."
                )
            if oauth.verify(given):
                self.authenticator.raise_if_locked(client)
                return
            self.authenticator.check(client, authorization)
        except Unauthorized as refused:
            # MCP clients find the authorization server through this header (RFC 9728).
            refused.headers["WWW-Authenticate"] = oauth.challenge(scope)
            if given is not None:
                refused.message = (
                    "The token is not valid: it expired, was revoked, or was replaced. Refresh it, or "
                    "connect again; an API key comes from `notewell token`."
                )
            raise

    def _record(self, scope: Scope, client: str, status: int, started: float) -> None:
        if self.activity is None:
            return
        state = scope.get("state", {})
        self.activity.record(
            ActivityEntry(
                time=now_iso(),
                client=client,
                method=scope["method"],
                endpoint=state.get("endpoint", scope["path"]),  # "/mcp search" (mcp.py)
                status=status,
                outcome=state.get("outcome", "ok" if status < 400 else "error"),
                queries=state.get("queries", ()),
                result_count=state.get("result_count"),
                note_id=state.get("note_id"),
                truncated=state.get("truncated", False),
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
        )
