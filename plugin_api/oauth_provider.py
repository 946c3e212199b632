"""`NotewellProvider`: the MCP SDK's `OAuthAuthorizationServerProvider` over `OAuthStore` and
`ConsentQueue` (issues 7 and 15). The SDK's handlers call it; `oauth.OAuthServer` routes.

* registration: redirect URIs must be https or loopback http (`redirect_uris`); the name
  is kept as a plain label;
* /authorize: the scope and the `resource` (RFC 8707: this server's /mcp, or none, which
  means it) are checked, then the browser waits on a *ticket* for the user's answer.
  Tickets of the same client share one question (`ConsentQueue.open`), so a flood of
  calls asks once; each ticket still gets its own code and state back;
* codes are single-use from the moment they are presented: a wrong PKCE verifier
  burns the code too;
* refresh tokens rotate on use, and presenting a used one again revokes the whole
  grant (OAuth 2.1 §4.3.1: someone else holds a copy);
* every store call runs on a worker thread: the file is never written on the event loop.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import anyio
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from .access import READ_SCOPE, SCOPES, WRITE_SCOPE
from .consent import ConsentBusy, ConsentQueue
from .oauth_store import OAuthStore
from .printable import clean_label
from .redirect_uris import redirect_uri_problem

CONSENT_PATH = "/oauth/consent"
CODE_SECONDS = 300
MAX_TICKETS = 200
MAX_CLIENT_NAME = 100
T = TypeVar("T")


@dataclass(frozen=True)
class RequestContext:
    """What /authorize needs from the HTTP request the SDK's handler does not pass on."""

    source: str  # the client address (per-source consent cap)
    is_ours: Callable[[str], bool]  # is this `resource` this server's /mcp?
    default_resource: str  # this server's /mcp as the request reached it


CURRENT: ContextVar[RequestContext] = ContextVar("notewell_oauth_request")


@dataclass(frozen=True)
class Ticket:
    request_id: str
    client: OAuthClientInformationFull
    params: AuthorizationParams


async def _io(call: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(call, *args)


class NotewellProvider:
    def __init__(self, store: OAuthStore, consents: ConsentQueue) -> None:
        self.store = store
        self.consents = consents
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()
        self._grant_of: dict[str, str] = {}  # consent request → the grant its "Allow" made
        self._codes: dict[str, AuthorizationCode] = {}

    # -- registration ---------------------------------------------------------------------
    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        info = await _io(self.store.client, client_id)
        return OAuthClientInformationFull.model_validate(info) if info else None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        for uri in client_info.redirect_uris or []:
            problem = redirect_uri_problem(str(uri))
            if problem is not None:
                raise RegistrationError("invalid_redirect_uri", problem)
        client_info.client_name = clean_label(client_info.client_name or "", MAX_CLIENT_NAME) or None
        await _io(self.store.add_client, client_info.client_id, client_info.model_dump(mode="json", exclude_none=True))

    # -- authorization --------------------------------------------------------------------
    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        context = CURRENT.get()
        scopes = tuple(params.scopes or [READ_SCOPE])
        if set(scopes) - set(SCOPES):
            raise AuthorizeError("invalid_scope", f"Notewell grants only {READ_SCOPE!r} (read) and {WRITE_SCOPE!r} "
                                 "(save new notes into the inbox) to OAuth clients.")
        if READ_SCOPE not in scopes:  # saving without reading would be a client nobody can use
            scopes = (READ_SCOPE, *scopes)
        if params.resource is not None and not context.is_ours(params.resource):
            raise AuthorizeError("invalid_request", "The resource is not this server's /mcp (invalid_target): "
                                 "connect with the MCP URL Notewell shows.")
        resource = params.resource or context.default_resource  # bound to this server, named or not
        try:
            request = self.consents.open(client.client_id or "", client.client_name or client.client_id or "",
                                         str(params.redirect_uri), scopes, context.source)
        except ConsentBusy as busy:
            raise AuthorizeError("temporarily_unavailable", str(busy)) from None
        ticket = secrets.token_urlsafe(16)
        self._tickets[ticket] = Ticket(request.id, client, params.model_copy(update={"resource": resource}))
        self._forget_old_tickets()
        return f"{CONSENT_PATH}?request={ticket}"

    def request_of(self, ticket: str) -> str | None:
        found = self._tickets.get(ticket)
        return found.request_id if found else None

    async def finish_consent(self, ticket: str) -> str | None:
        """Where to send this browser once the user decided (None while undecided or unknown)."""
        found = self._tickets.get(ticket)
        request = self.consents.get(found.request_id) if found else None
        if found is None or request is None or request.decision == "pending":
            return None
        del self._tickets[ticket]
        if not any(t.request_id == found.request_id for t in self._tickets.values()):
            self.consents.finish(found.request_id)  # every browser that waited has its answer
        params = found.params
        redirect = str(params.redirect_uri)
        if request.decision != "approved":
            why = "The user did not allow access." if request.decision == "denied" else "Nobody answered in time."
            return construct_redirect_uri(redirect, error="access_denied", error_description=why, state=params.state)
        assert found.client.client_id is not None
        grant_id = self._grant_of.get(request.id)
        if grant_id is None:
            grant = await _io(self.store.add_grant, found.client.client_id, request.client_name,
                              request.redirect_host, request.scopes)
            grant_id = self._grant_of[request.id] = grant.id
        code = AuthorizationCode(
            code=secrets.token_urlsafe(32), scopes=list(request.scopes), expires_at=time.time() + CODE_SECONDS,
            client_id=found.client.client_id, code_challenge=params.code_challenge, redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource, subject=grant_id,
        )
        self._codes = {k: c for k, c in self._codes.items() if c.expires_at > time.time()}
        self._codes[code.code] = code
        return construct_redirect_uri(redirect, code=code.code, state=params.state)

    def _forget_old_tickets(self) -> None:
        for ticket, found in list(self._tickets.items()):
            if self.consents.get(found.request_id) is None:
                del self._tickets[ticket]
        while len(self._tickets) > MAX_TICKETS:
            self._tickets.popitem(last=False)
        self._grant_of = {r: g for r, g in self._grant_of.items() if self.consents.get(r) is not None}

    # -- tokens ---------------------------------------------------------------------------
    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        code = self._codes.pop(authorization_code, None)  # used up when presented, whatever follows
        return code if code is not None and code.client_id == client.client_id else None

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        return await _io(self._tokens, authorization_code.subject or "", authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        token = await _io(self.store.token, refresh_token, "refresh")
        if token is None:
            reused = await _io(self.store.spent_grant, refresh_token)
            if reused is not None:  # a rotated-out refresh token: a copy is in someone else's hands
                await _io(self.store.revoke, reused)
            return None
        if token.client_id != client.client_id:
            return None
        return RefreshToken(token=refresh_token, client_id=token.client_id, scopes=list(token.scopes),
                            expires_at=token.expires_at, resource=token.resource, subject=token.grant_id)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        return await _io(self._rotate, refresh_token)

    def _rotate(self, refresh_token: RefreshToken) -> OAuthToken:
        self.store.spend(refresh_token.token)  # each refresh token works once
        self.store.discard_access_tokens(refresh_token.subject or "")
        return self._tokens(refresh_token.subject or "", refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        stored = await _io(self.store.token, token, "access")
        if stored is None:
            return None
        return AccessToken(token=token, client_id=stored.client_id, scopes=list(stored.scopes),
                           expires_at=stored.expires_at, resource=stored.resource, subject=stored.grant_id)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        await _io(self.store.revoke, token.subject or "")  # the whole grant: access and refresh tokens

    async def exchange_identity_assertion(self, client: Any, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "Notewell supports authorization_code and refresh_token.")

    def _tokens(self, grant_id: str, resource: str | None) -> OAuthToken:
        grant = self.store.grant(grant_id)
        if grant is None:
            raise TokenError("invalid_grant", "This authorization was revoked; connect again.")
        access, refresh, lifetime = self.store.issue(grant, resource)
        return OAuthToken(access_token=access, token_type="Bearer", expires_in=lifetime,
                          scope=" ".join(grant.scopes), refresh_token=refresh)
