"""CORS from the access table: which web pages may call which route (issue 15).

A browser-based MCP client (MCP Inspector in direct mode, a web agent) discovers the
server, registers, exchanges a code and calls /mcp from its own page. So:

  cors="any"         OAuth metadata, /register, /token, /revoke, the manifest and spec:
                     any origin (they use no cookies and hold nothing of the user's);
  cors="assistants"  /mcp and the API: the origins `HostCheck.origin_allowed` accepts
                     (loopback on any port, the public URL, ChatGPT's);
  cors="none"        pages a browser is sent to (/authorize, the consent page).

Preflights are answered here, before the guard (browsers send no credentials on
them). Only the credential-free `*` is ever sent for "any"; no route allows cookies.
"""

from __future__ import annotations

from typing import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access import AccessTable, Rule

OriginCheck = Callable[[str, Scope], bool]
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = frozenset({
    "authorization", "content-type", "accept", "mcp-protocol-version", "mcp-session-id", "last-event-id",
    "openai-conversation-id", "openai-ephemeral-user-id",
})
EXPOSED_HEADERS = "WWW-Authenticate, Retry-After, Mcp-Session-Id, Mcp-Protocol-Version"
MAX_AGE = "600"


class AccessCors:
    def __init__(self, app: ASGIApp, *, table: AccessTable, assistant_origin: OriginCheck) -> None:
        self.app = app
        self.table = table
        self.assistant_origin = assistant_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        rule, _ = self.table.rule_for(scope["method"], scope["path"])
        allow = self._allow_origin(rule, origin, scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(allow, headers)(scope, receive, send)
            return
        if allow is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers["Access-Control-Allow-Origin"] = allow
                response_headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
                if allow != "*":
                    response_headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _allow_origin(self, rule: Rule, origin: str, scope: Scope) -> str | None:
        if rule.cors == "any":
            return "*"
        if rule.cors == "assistants" and self.assistant_origin(origin, scope):
            return origin
        return None

    @staticmethod
    def _preflight(allow: str | None, headers: Headers) -> PlainTextResponse:
        if allow is None:
            return PlainTextResponse("This origin may not call this route from a browser.", status_code=403)
        asked = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
        refused = [h for h in asked if h not in ALLOWED_HEADERS]
        if refused:
            return PlainTextResponse(f"Header(s) not allowed: {', '.join(refused)[:200]}.", status_code=403)
        response = PlainTextResponse("OK", headers={
            "Access-Control-Allow-Origin": allow,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Max-Age": MAX_AGE,
        })
        if asked:
            response.headers["Access-Control-Allow-Headers"] = ", ".join(asked)
        if allow != "*":
            response.headers.add_vary_header("Origin")
        return response
