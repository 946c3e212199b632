"""The ASGI middleware every request passes: the access table enforced, then limits and the record.

For each request, in order:
  1. its row in `access.ACCESS` (a trailing slash dropped: `/mcp/` is routed as `/mcp`);
  2. Host/Origin, for rows that check them (`host_check`);
  3. the credential the row asks for (`auth`): a correct one always gets in; a wrong
     one counts against its source (`auth.FailureThrottle`); none is just a 401;
  4. the rate limit: per caller once identified (the key, an OAuth grant), so
     traffic from the same address or through the tunnel never uses it up;
     per source for everything else;
  5. the body, read whole (`bodies`: size limit, JSON depth, a client that left),
     then the endpoint. What a caller read goes to the activity record; a refused
     or abandoned request is only counted there, per source.
"""

from __future__ import annotations

import json
import time
from typing import Callable, Protocol

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access import KEY, KEY_OR_OAUTH, LOCAL_SIGNED, PUBLIC, AccessTable, Rule
from .activity import ActivityEntry, ActivityLog, now_iso
from .addresses import client_address, is_direct_local
from .auth import Caller, FailureThrottle, OAuthTokens, TokenProvider, bearer_token, challenge, key_caller
from .errors import ApiError, Forbidden, Unauthorized, error_response
from .host_check import HostCheck
from .printable import printable
from .bodies import Abandoned, check_json_depth, declared_length, read_body, replay, too_large
from .limits import Limits, RateLimiter


def called_tools(body: bytes) -> set[str]:
    """The tool names a JSON-RPC body calls (`tools/call`), one message or a batch."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return set()
    messages = data if isinstance(data, list) else [data]
    return {str(m["params"].get("name")) for m in messages if isinstance(m, dict)
            and m.get("method") == "tools/call" and isinstance(m.get("params"), dict)}


class OAuthHooks(OAuthTokens, Protocol):
    """What the guard asks the OAuth server (`oauth.OAuthServer`), when there is one."""

    def resource_metadata_url(self, scope: Scope) -> str: ...


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        table: AccessTable,
        key: TokenProvider,
        throttle: FailureThrottle,
        rate_limiter: RateLimiter,
        limits: Limits,
        host_check: HostCheck,
        activity: ActivityLog | None,
        public_url: Callable[[], str | None],
        oauth: OAuthHooks | None = None,
    ) -> None:
        self.app = app
        self.table = table
        self.key = key
        self.throttle = throttle
        self.rate_limiter = rate_limiter
        self.limits = limits
        self.host_check = host_check
        self.activity = activity
        self.public_url = public_url
        self.oauth = oauth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rule, path = self.table.rule_for(scope["method"], scope["path"])
        scope["path"] = path
        source = client_address(scope, self.public_url())
        state = scope.setdefault("state", {})
        state["client"] = source
        caller: Caller | None = None
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if rule.checks_host:
                self.host_check.check(scope)
            if rule.who == LOCAL_SIGNED and not is_direct_local(scope):
                raise Forbidden("This link opens only on the computer that runs Notewell, "
                                "not through sharing or another computer.")
            if rule.who in (PUBLIC, LOCAL_SIGNED):  # a LOCAL_SIGNED endpoint checks its signature
                self.rate_limiter.check(source)
            else:
                caller = await self._identify(scope, rule, source)
                self.rate_limiter.check(caller.id)
            receive, body = await self._read_body(scope, receive)
            if caller is not None and rule.tool_scopes:
                self._check_tool_scope(scope, rule, caller, body)
        except Abandoned:
            state["outcome"] = "abandoned"
            self._record(scope, caller, source, 499, started)
            return
        except ApiError as refused:
            state["outcome"] = refused.code
            await error_response(refused)(scope, receive, send_and_watch)
            self._record(scope, caller, source, refused.status, started)
            return
        state["caller"] = caller
        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            if caller is not None:
                self._record(scope, caller, source, status, started)

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[Receive, bytes]:
        max_bytes = self.limits.max_body_bytes
        length = declared_length(scope)
        if length is not None and length > max_bytes:
            raise too_large(max_bytes)
        if length == 0 or (length is None and not Headers(scope=scope).get("transfer-encoding")):
            return receive, b""
        body = await read_body(receive, max_bytes)
        if body.lstrip()[:1] in (b"{", b"["):  # what a JSON parser would take, whatever the type says
            check_json_depth(body)
        return replay(body, receive), body

    def _check_tool_scope(self, scope: Scope, rule: Rule, caller: Caller, body: bytes) -> None:
        """An MCP tool that needs more than the row's scope (`save_note`: notes:write) answers an
        OAuth token without it 403 insufficient_scope, naming the scope, so the client can ask
        the user for it (MCP's step-up authorization; issue 18)."""
        if caller.scopes is None:
            return
        called = called_tools(body)
        needed = {rule_scope for tool, rule_scope in rule.tool_scopes if tool in called}
        missing = sorted(needed - caller.scopes)
        if missing:
            scope.setdefault("state", {})["endpoint"] = f"{scope['path']} {' '.join(sorted(called))}"
            wanted = " ".join(sorted({*caller.scopes, *missing}))
            metadata = self.oauth.resource_metadata_url(scope) if self.oauth is not None else None
            raise Forbidden(
                f"This tool needs the OAuth scope {missing[0]!r}, which this client was not given. "
                "Connect it again and allow saving, or use the API key.",
                challenge("insufficient_scope", f"This needs {missing[0]}", scope=wanted,
                          resource_metadata=metadata),
            )

    async def _identify(self, scope: Scope, rule: Rule, source: str) -> Caller:
        """The caller the credential names, if this row accepts it; raises 401/403/429 otherwise."""
        oauth = self.oauth if rule.who == KEY_OR_OAUTH else None
        metadata = oauth.resource_metadata_url(scope) if oauth is not None else None
        given = bearer_token(Headers(scope=scope).get("authorization"))
        if given is None:
            raise Unauthorized(
                "This endpoint needs `Authorization: Bearer <key>`: the API key from `notewell token`"
                + (", or an OAuth access token (see WWW-Authenticate)." if oauth else "."),
                challenge(resource_metadata=metadata),
            )
        caller = key_caller(given, self.key())
        if caller is None and self.oauth is not None:
            caller = await anyio.to_thread.run_sync(self.oauth.caller, given, scope)
            if caller is not None and oauth is None:
                raise Unauthorized(
                    "This endpoint takes the API key from `notewell token`, not an OAuth token.",
                    challenge("invalid_token", "This endpoint takes the API key"),
                )
        if caller is None:
            self.throttle.failed(source)
            raise Unauthorized(
                "The key or token is not valid: it may have been rotated, revoked or have expired. "
                "Refresh it or connect again; the current API key is shown by `notewell token`.",
                challenge("invalid_token", "The key or token is not valid", resource_metadata=metadata),
            )
        if rule.scope is not None and caller.scopes is not None and rule.scope not in caller.scopes:
            raise Forbidden(
                f"This needs the OAuth scope {rule.scope!r}, which this client was not given. "
                "Connect it again and allow that access, or use the API key.",
                challenge("insufficient_scope", f"This needs {rule.scope}", scope=rule.scope,
                          resource_metadata=metadata),
            )
        assert rule.who in (KEY, KEY_OR_OAUTH)
        return caller

    def _record(self, scope: Scope, caller: Caller | None, source: str, status: int, started: float) -> None:
        if self.activity is None:
            return
        state = scope.get("state", {})
        endpoint = printable(state.get("endpoint", scope["path"]), 200)  # "/mcp search" (mcp.py)
        outcome = state.get("outcome", "ok" if status < 400 else "error")
        if caller is None:
            self.activity.refuse(source, outcome, status=status, method=scope["method"], endpoint=endpoint)
            return
        self.activity.record(
            ActivityEntry(
                time=now_iso(),
                client=caller.name,
                source=source,
                method=scope["method"],
                endpoint=endpoint,
                status=status,
                outcome=outcome,
                queries=state.get("queries", ()),
                titles=state.get("titles", ()),
                result_count=state.get("result_count"),
                note_id=state.get("note_id"),
                truncated=state.get("truncated", False),
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                saved_path=state.get("saved_path"),
            )
        )
