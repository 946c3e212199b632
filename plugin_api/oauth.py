"""OAuth 2.1 for /mcp, for clients that cannot send a static key (ChatGPT connectors; issue 7).

Built from the MCP SDK's authorization-server pieces (`mcp.server.auth`): its
handlers do metadata, dynamic client registration, /authorize, /token (PKCE
S256, redirect-URI and expiry checks) and /revoke; `NotewellProvider` is the
`OAuthAuthorizationServerProvider` behind them. What Notewell adds:

* consent: /authorize sends the browser to /oauth/consent, which waits until the
  user allows the client in the desktop app, or types the one-time code
  `notewell serve` printed (`consent.ConsentQueue`);
* one read-only scope, `notes:read`; access tokens live an hour, refresh tokens
  30 days and rotate on use; `OAuthStore` keeps them (hashed) in the data dir;
* the issuer follows the public URL: metadata is built per base URL, so the
  tunnel's https address is what clients see.

    oauth = OAuthServer(OAuthStore(data_dir / "oauth.json"), ConsentQueue(), public_url)
    create_app(..., oauth=oauth)    # public routes + /mcp accepts its access tokens
"""

from __future__ import annotations

import html
import json
import secrets
import time
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.routes import (
    build_resource_metadata_url,
    create_auth_routes,
    create_protected_resource_routes,
)
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl, ConfigDict, TypeAdapter
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from .addresses import base_url
from .auth import Caller
from .bodies import replay
from .consent import ConsentQueue
from .errors import NotFound, error_response
from .oauth_store import OAuthStore
from .tunnel import MCP_PATH

SCOPE = "notes:read"
CODE_SECONDS = 300
CONSENT_PATH = "/oauth/consent"
AUTH_PATHS = (
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-protected-resource" + MCP_PATH,
    "/.well-known/oauth-protected-resource",
    "/authorize",
    "/token",
    "/register",
    "/revoke",
)
PublicUrl = Callable[[], "str | None"]
_URL = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))


class NotewellProvider:
    """The SDK's `OAuthAuthorizationServerProvider`, over `OAuthStore` and `ConsentQueue`."""

    def __init__(self, store: OAuthStore, consents: ConsentQueue) -> None:
        self.store = store
        self.consents = consents
        self._waiting: dict[str, tuple[OAuthClientInformationFull, AuthorizationParams]] = {}
        self._codes: dict[str, AuthorizationCode] = {}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        info = self.store.client(client_id)
        return OAuthClientInformationFull.model_validate(info) if info else None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self.store.add_client(client_info.client_id, client_info.model_dump(mode="json", exclude_none=True))

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        scopes = tuple(params.scopes or [SCOPE])
        if set(scopes) - {SCOPE}:
            raise AuthorizeError("invalid_scope", f"Notewell grants only {SCOPE!r} (read-only).")
        request = self.consents.open(
            client.client_name or client.client_id or "", urlsplit(str(params.redirect_uri)).netloc, scopes)
        self._waiting = {k: v for k, v in self._waiting.items() if self.consents.get(k) is not None}
        self._waiting[request.id] = (client, params)
        return f"{CONSENT_PATH}?request={request.id}"

    def finish_consent(self, request_id: str) -> str | None:
        """Where to send the browser once the user decided (None while undecided)."""
        request = self.consents.get(request_id)
        waiting = self._waiting.get(request_id)
        if request is None or waiting is None or request.decision == "pending":
            return None
        client, params = self._waiting.pop(request_id)
        self.consents.finish(request_id)
        redirect = str(params.redirect_uri)
        if request.decision != "approved":
            why = "The user did not allow access." if request.decision == "denied" else "Nobody answered in time."
            return construct_redirect_uri(redirect, error="access_denied", error_description=why,
                                          state=params.state)
        assert client.client_id is not None
        grant = self.store.add_grant(client.client_id, request.client_name, request.redirect_host,
                                     request.scopes)
        code = AuthorizationCode(
            code=secrets.token_urlsafe(32), scopes=list(request.scopes), expires_at=time.time() + CODE_SECONDS,
            client_id=client.client_id, code_challenge=params.code_challenge, redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource, subject=grant.id,
        )
        self._codes = {k: c for k, c in self._codes.items() if c.expires_at > time.time()}
        self._codes[code.code] = code
        return construct_redirect_uri(redirect, code=code.code, state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        code = self._codes.get(authorization_code)
        return code if code is not None and code.client_id == client.client_id else None

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self._codes.pop(authorization_code.code, None)  # single use
        grant = self.store.grant(authorization_code.subject or "")
        if grant is None:
            raise TokenError("invalid_grant", "This authorization was revoked; connect again.")
        return self._tokens(grant.id, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        token = self.store.token(refresh_token, "refresh")
        if token is None or token.client_id != client.client_id:
            return None
        return RefreshToken(token=refresh_token, client_id=token.client_id, scopes=list(token.scopes),
                            expires_at=token.expires_at, resource=token.resource, subject=token.grant_id)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        self.store.discard(refresh_token.token)  # rotation: each refresh token works once
        self.store.discard_access_tokens(refresh_token.subject or "")
        return self._tokens(refresh_token.subject or "", refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        stored = self.store.token(token, "access")
        if stored is None:
            return None
        return AccessToken(token=token, client_id=stored.client_id, scopes=list(stored.scopes),
                           expires_at=stored.expires_at, resource=stored.resource, subject=stored.grant_id)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.store.revoke(token.subject or "")  # the whole grant: access and refresh tokens

    async def exchange_identity_assertion(self, client: Any, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "Notewell supports authorization_code and refresh_token.")

    def _tokens(self, grant_id: str, resource: str | None) -> OAuthToken:
        grant = self.store.grant(grant_id)
        if grant is None:
            raise TokenError("invalid_grant", "This authorization was revoked; connect again.")
        access, refresh, lifetime = self.store.issue(grant, resource)
        return OAuthToken(access_token=access, token_type="Bearer", expires_in=lifetime,
                          scope=" ".join(grant.scopes), refresh_token=refresh)


class OAuthServer:
    """The OAuth routes for `create_app` and the hooks the request guard calls."""

    def __init__(self, store: OAuthStore, consents: ConsentQueue, public_url: PublicUrl) -> None:
        self.store = store
        self.consents = consents
        self.provider = NotewellProvider(store, consents)
        self._public_url = public_url
        self._routers: dict[str, Router] = {}

    def routes(self) -> list[Route]:
        return [Route(path, endpoint=self) for path in AUTH_PATHS] + [
            Route(CONSENT_PATH, self._consent, methods=["GET", "POST"])
        ]

    # -- the guard's hooks (guard.OAuthHooks) ----------------------------------------
    def caller(self, token: str, scope: Scope) -> Caller | None:
        """Who this access token speaks for; None if it is unknown, expired or revoked."""
        found = self.store.access(token)
        if found is None:
            return None
        stored, grant = found
        return Caller("oauth", grant.id, grant.client_name, frozenset(stored.scopes), stored.resource)

    def resource_metadata_url(self, scope: Scope) -> str:
        """Where an MCP client starts OAuth (RFC 9728), for the base URL this request reached."""
        return str(build_resource_metadata_url(AnyHttpUrl(self._base(scope) + MCP_PATH)))

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
        if scope["path"] == "/revoke":
            receive = await _with_client_secret_field(receive)
        await router(scope, receive, send)

    def _router(self, base: str) -> Router:
        issuer = _URL.validate_python(base)  # "https://host", no trailing slash (RFC 8414 compares exactly)
        routes = create_auth_routes(
            self.provider,  # type: ignore[arg-type]
            issuer_url=issuer,
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=[SCOPE], default_scopes=[SCOPE]),
            revocation_options=RevocationOptions(enabled=True),
        )
        resource = create_protected_resource_routes(
            _URL.validate_python(base + MCP_PATH), [issuer], scopes_supported=[SCOPE], resource_name="Notewell notes")
        root = Route(AUTH_PATHS[2], endpoint=resource[0].endpoint, methods=["GET", "OPTIONS"])
        return Router(routes=[*routes, *resource, root])

    async def _consent(self, request: Request) -> Response:
        request_id = (request.query_params.get("request") or "")[:64]
        if "poll" in request.query_params:  # the page's script: reload once the user decided
            consent = self.consents.get(request_id)
            return Response(status_code=204 if consent and consent.decision == "pending" else 205)
        wrong_code = False
        if request.method == "POST":
            form = await request.form()
            request_id = str(form.get("request") or "")[:64]
            wrong_code = not self.consents.enter_code(request_id, str(form.get("code") or "")[:32])
        target = self.provider.finish_consent(request_id)
        if target is not None:
            return RedirectResponse(target, status_code=302)
        consent = self.consents.get(request_id)
        if consent is None:
            return HTMLResponse(_page("This request is unknown or finished. Start connecting again from "
                                      "your assistant.", request_id, form=False), status_code=404)
        note = "<p><strong>That code is not right.</strong></p>" if wrong_code else ""
        return HTMLResponse(_page(
            f"<strong>{html.escape(consent.client_name)}</strong> (returning to "
            f"{html.escape(consent.redirect_host)}) wants to read your notes. Allow it in the Notewell "
            f"app, or type the code that <code>notewell serve</code> printed.{note}", request_id, form=True),
            headers={"X-Frame-Options": "DENY", "Cache-Control": "no-store"})

    def _base(self, scope: Scope) -> str:
        return base_url(scope, self._public_url())


async def _with_client_secret_field(receive: Receive) -> Receive:
    """RFC 7009 lets a public client revoke with its client_id alone; mcp 2.3.0's
    RevocationRequest requires a client_secret field, so an empty one is added."""
    message = await receive()  # the guard has read the whole body (bodies.replay)
    body = message.get("body", b"") if message["type"] == "http.request" else b""
    fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
    if fields and "client_secret" not in dict(fields):
        body = urlencode([*fields, ("client_secret", "")]).encode("latin-1")
    return replay(body, receive)


def _page(message: str, request_id: str, *, form: bool) -> str:
    poll = json.dumps(f"{CONSENT_PATH}?poll=1&request={request_id}").replace("<", "\\u003c")
    refresh = (f"<script>setInterval(() => fetch({poll}).then(r => {{ if (r.status !== 204) "
               "location.reload(); }), 2000);</script>")
    code_form = (
        f'<form method="post" action="{CONSENT_PATH}"><input type="hidden" name="request" '
        f'value="{html.escape(request_id)}"><label>Code <input name="code" autocomplete="off" '
        'autofocus></label> <button>Allow</button></form>'
    ) if form else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Notewell: allow access?</title>'
        f'{refresh if form else ""}</head><body style="font-family: sans-serif; max-width: 36em; '
        f'margin: 3em auto; line-height: 1.5"><h1>Notewell</h1><p>{message}</p>{code_form}</body></html>'
    )
