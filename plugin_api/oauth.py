"""OAuth 2.1 for /mcp, for clients that cannot send a static key (ChatGPT connectors; issues 7, 15).

Built from the MCP SDK's authorization-server pieces (`mcp.server.auth`): its
handlers do metadata, dynamic client registration, /authorize, /token (PKCE
S256, redirect-URI and expiry checks) and /revoke; `oauth_provider.NotewellProvider`
is the provider behind them. What Notewell adds:

* consent: /authorize sends the browser to /oauth/consent, which waits until the
  user allows the client in the desktop app, or types the one-time code
  `notewell serve` printed (`consent.ConsentQueue`);
* /authorize never redirects anywhere but to that page: an error before the user
  has seen where the client returns to is a page of its own, not a redirect to a
  URI that only the client's registration vouches for (issue 15);
* scopes `notes:read`, and `notes:write` to save new notes into the inbox (issue 18; the
  consent question names it); access tokens live an hour, refresh
  tokens 30 days and rotate on use; `OAuthStore` keeps them (hashed) in the data dir;
* tokens are bound to this server's /mcp (RFC 8707) and checked against it on use;
* the issuer follows the base URL the request reached (`addresses.base_url`): the
  tunnel's https address for visitors, the local address for local clients.

    oauth = OAuthServer(OAuthStore(data_dir / "oauth.json"), ConsentQueue(), public_url)
    create_app(..., oauth=oauth)    # public routes + /mcp accepts its access tokens
"""

from __future__ import annotations

import html
import json
from typing import Callable
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.routes import (
    build_metadata,
    build_resource_metadata_url,
    cors_middleware,
    create_auth_routes,
    create_protected_resource_routes,
)
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from pydantic import AnyHttpUrl, ConfigDict, TypeAdapter
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import Message, Receive, Scope, Send

from .access import READ_SCOPE, SCOPES
from .addresses import LOOPBACK_NAMES, base_url
from .auth import Caller
from .bodies import replay
from .consent import ConsentQueue, asks_for
from .errors import NotFound, error_response
from .oauth_provider import CONSENT_PATH, CURRENT, NotewellProvider, RequestContext
from .oauth_store import OAuthStore
from .printable import printable
from .tunnel import MCP_PATH

SCOPE = READ_SCOPE
AUTH_PATHS = (
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-protected-resource" + MCP_PATH,
    "/.well-known/oauth-protected-resource",
    "/authorize",
    "/token",
    "/register",
    "/revoke",
)
CLIENT_AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic"]
PublicUrl = Callable[[], "str | None"]
_URL = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))


class OAuthServer:
    """The OAuth routes for `create_app` and the hooks the request guard calls."""

    def __init__(self, store: OAuthStore, consents: ConsentQueue, public_url: PublicUrl, *,
                 code_entry: bool = True) -> None:
        """`code_entry`: the browser page takes the one-time code `notewell serve` prints; the
        desktop app asks in its own window instead and prints no code (issue 17)."""
        self.code_entry = code_entry
        self.store = store
        self.consents = consents
        self.provider = NotewellProvider(store, consents)
        self._public_url = public_url
        self._routers: dict[str, Router] = {}

    def routes(self) -> list[Route]:
        return [Route(path, endpoint=self) for path in AUTH_PATHS] + [
            Route(CONSENT_PATH, self._consent, methods=["GET", "POST"])
        ]

    # -- the guard's hooks (guard.OAuthHooks); called off the event loop --------------
    def caller(self, token: str, scope: Scope) -> Caller | None:
        """Who this access token speaks for; None if it is unknown, expired, revoked, or
        was issued for another resource than this server's /mcp (RFC 8707)."""
        found = self.store.access(token)
        if found is None:
            return None
        stored, grant = found
        if stored.resource is not None and not self.is_ours(stored.resource, scope):
            return None
        return Caller("oauth", grant.id, grant.client_name, frozenset(stored.scopes), stored.resource)

    def resource_metadata_url(self, scope: Scope) -> str:
        """Where an MCP client starts OAuth (RFC 9728), for the base URL this request reached."""
        return str(build_resource_metadata_url(AnyHttpUrl(self._base(scope) + MCP_PATH)))

    def is_ours(self, resource: str, scope: Scope) -> bool:
        """Is `resource` this server's /mcp: at the public URL, the URL this request used, or
        a loopback address on this server's port?"""
        parts = urlsplit(resource.strip())
        if parts.path.rstrip("/") != MCP_PATH or parts.query or parts.fragment:
            return False
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        public = self._public_url()
        if origin in {_origin(self._base(scope)), _origin(public) if public else None}:
            return True
        host, server = (parts.hostname or "").lower(), scope.get("server") or ("", None)
        try:
            port = parts.port
        except ValueError:
            return False
        return parts.scheme == "http" and port == server[1] and (
            host in LOOPBACK_NAMES or host == "::1" or host.startswith("127."))

    # -- routes -----------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The SDK's handlers, built for the issuer this request reached (tunnel or local)."""
        base = self._base(scope)
        router = self._routers.get(base)
        if router is None:
            try:
                router = self._router(base)
            except ValueError:
                await error_response(NotFound(
                    "OAuth needs an https:// address: share Notewell through its tunnel (or set your "
                    "own public URL) and connect with that address."
                ))(scope, receive, send)
                return
            self._routers = {**dict(list(self._routers.items())[-7:]), base: router}
        CURRENT.set(RequestContext(
            source=scope.get("state", {}).get("client", ""),
            is_ours=lambda resource: self.is_ours(resource, scope),
            default_resource=base + MCP_PATH,
        ))
        if scope["path"] == "/revoke":
            receive = await _with_client_secret_field(receive)
        if scope["path"] == "/authorize":
            send = _only_to_the_consent_page(scope, receive, send)
        await router(scope, receive, send)

    def _router(self, base: str) -> Router:
        issuer = _URL.validate_python(base)  # "https://host", no trailing slash (RFC 8414 compares exactly)
        # A client registered without a scope may still ask for notes:write at /authorize, where the
        # user sees it named; /authorize without a scope grants notes:read only (oauth_provider).
        registration = ClientRegistrationOptions(enabled=True, valid_scopes=list(SCOPES), default_scopes=list(SCOPES))
        revocation = RevocationOptions(enabled=True)
        routes = create_auth_routes(
            self.provider,  # type: ignore[arg-type]
            issuer_url=issuer,
            client_registration_options=registration,
            revocation_options=revocation,
        )
        # Public clients (no secret) are what MCP clients are: say so (the SDK's list omits "none").
        metadata = build_metadata(issuer, None, registration, revocation)
        metadata.token_endpoint_auth_methods_supported = CLIENT_AUTH_METHODS
        metadata.revocation_endpoint_auth_methods_supported = CLIENT_AUTH_METHODS
        routes[0] = Route(AUTH_PATHS[0], endpoint=cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"]),
                          methods=["GET", "OPTIONS"])
        resource = create_protected_resource_routes(
            _URL.validate_python(base + MCP_PATH), [issuer], scopes_supported=list(SCOPES), resource_name="Notewell notes")
        root = Route(AUTH_PATHS[2], endpoint=resource[0].endpoint, methods=["GET", "OPTIONS"])
        return Router(routes=[*routes, *resource, root])

    async def _consent(self, request: Request) -> Response:
        ticket = (request.query_params.get("request") or "")[:64]
        if "poll" in request.query_params:  # the page's script: reload once the user decided
            consent = self.consents.get(self.provider.request_of(ticket) or "")
            return Response(status_code=204 if consent and consent.decision == "pending" else 205)
        wrong_code = False
        if request.method == "POST" and self.code_entry:  # the app shows no code: nothing to type
            form = await request.form()
            ticket = str(form.get("request") or "")[:64]
            typed = str(form.get("code") or "")[:32]
            wrong_code = not self.consents.enter_code(self.provider.request_of(ticket) or "", typed)
        target = await self.provider.finish_consent(ticket)
        if target is not None:
            return RedirectResponse(target, status_code=302)
        consent = self.consents.get(self.provider.request_of(ticket) or "")
        if consent is None:
            return HTMLResponse(_page("This request is unknown or finished. Start connecting again from "
                                      "your assistant.", ticket, form=False), status_code=404)
        note = "<p><strong>That code is not right.</strong></p>" if wrong_code else ""
        how = ("type the one-time code that <code>notewell serve</code> printed in its terminal"
               if self.code_entry else
               "choose Allow in the Notewell app on your computer, where the same question is open now. "
               "This page moves on by itself")
        return HTMLResponse(_page(
            f"An app calling itself <strong>{html.escape(consent.client_name)}</strong> (returning to "
            f"{html.escape(consent.redirect_host)}) wants to {asks_for(consent.scopes)}. To allow it, {how}.{note}",
            ticket, form=True, code=self.code_entry),
            headers={"X-Frame-Options": "DENY", "Cache-Control": "no-store"})

    def _base(self, scope: Scope) -> str:
        return base_url(scope, self._public_url())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _only_to_the_consent_page(scope: Scope, receive: Receive, send: Send) -> Send:
    """/authorize's `send`, with any redirect but to the consent page turned into an error page.

    Trigger: the SDK redirects errors (a bad scope, say) to the client's redirect URI as
    soon as it matches the registration. Why: anyone can register any URI, so that would
    make this server an open redirector to the attacker's page. Outcome: a 400 page
    saying what was wrong; the browser goes back to the client only after the user saw
    the question (allowed or denied it).
    """
    replaced = False

    async def guarded(message: Message) -> None:
        nonlocal replaced
        if replaced:
            return
        if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
            location = Headers(raw=message.get("headers", [])).get("location", "")
            if not location.startswith(CONSENT_PATH + "?"):
                replaced = True
                query = parse_qs(urlsplit(location).query)
                why = printable(" ".join(query.get("error_description", query.get("error", ["unknown"]))), 300)
                await HTMLResponse(_page(
                    f"This request to connect cannot go on: {html.escape(why)}. Start connecting again from your "
                    "assistant; if it keeps failing, the assistant's settings for Notewell need a look.",
                    "", form=False), status_code=400, headers={"Cache-Control": "no-store"})(scope, receive, send)
                return
        await send(message)

    return guarded


async def _with_client_secret_field(receive: Receive) -> Receive:
    """RFC 7009 lets a public client revoke with its client_id alone; mcp 2.3.0's
    RevocationRequest requires a client_secret field, so an empty one is added."""
    message = await receive()  # the guard has read the whole body (bodies.replay)
    body = message.get("body", b"") if message["type"] == "http.request" else b""
    fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
    if fields and "client_secret" not in dict(fields):
        body = urlencode([*fields, ("client_secret", "")]).encode("latin-1")
    return replay(body, receive)


def _page(message: str, request_id: str, *, form: bool, code: bool = True) -> str:
    poll = json.dumps(f"{CONSENT_PATH}?poll=1&request={request_id}").replace("<", "\\u003c")
    refresh = (f"<script>setInterval(() => fetch({poll}).then(r => {{ if (r.status !== 204) "
               "location.reload(); }), 2000);</script>")
    code_form = (
        f'<form method="post" action="{CONSENT_PATH}"><input type="hidden" name="request" '
        f'value="{html.escape(request_id)}"><label>Code <input name="code" autocomplete="off" '
        'autofocus></label> <button>Allow</button></form>'
    ) if form and code else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Notewell: allow access?</title>'
        f'{refresh if form else ""}</head><body style="font-family: sans-serif; max-width: 36em; '
        f'margin: 3em auto; line-height: 1.5"><h1>Notewell</h1><p>{message}</p>{code_form}</body></html>'
    )
