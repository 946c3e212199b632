"""Who may call what: the one table of routes and the credential each needs (issue 15).

    PUBLIC        anyone: the manifest, the spec, health, OAuth's own endpoints
    KEY           the API key from `notewell token`
    KEY_OR_OAUTH  the API key, or an OAuth access token that carries the row's scope
    LOCAL_SIGNED  the person at this computer, straight to the loopback address (never
                  through the tunnel), with a link the app signed (open_links: a
                  citation's page); no key, since a browser clicking a link has none

Each row also says which web pages may call the route from a browser (`cors`) and
whether the route checks Host and Origin against DNS rebinding (`checks_host`, the
MCP spec asks it of /mcp). `guard.RequestGuard` enforces the table and
`cors.AccessCors` answers browsers from it; nothing else decides access. A path
that is not in the table needs the key (default deny), and a trailing slash does
not make a different route: `/mcp/` is `/mcp`.

`POST /notes` (save a note into the inbox, issue 18) takes the key, or an OAuth token
with `notes:write`: a read-only grant gets 403 insufficient_scope. On /mcp, a
`tools/call` of `save_note` needs `notes:write` too (`tool_scopes`): the same 403,
naming the scope, so an MCP client can ask the user for it (step-up authorization).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Literal

Who = Literal["public", "key", "key_or_oauth", "local_signed"]
Cors = Literal["none", "any", "assistants"]
PUBLIC: Who = "public"
KEY: Who = "key"
KEY_OR_OAUTH: Who = "key_or_oauth"
LOCAL_SIGNED: Who = "local_signed"
READ_SCOPE = "notes:read"
WRITE_SCOPE = "notes:write"
SCOPES = (READ_SCOPE, WRITE_SCOPE)


@dataclass(frozen=True)
class Rule:
    path: str  # as the route declares it, "{name}" for a path parameter
    who: Who
    scope: str | None = None  # the OAuth scope a KEY_OR_OAUTH row asks for
    methods: frozenset[str] | None = None  # None: every method of the path
    cors: Cors = "assistants"  # any origin / the assistants' origins (see host_check) / none
    checks_host: bool = False
    tool_scopes: tuple[tuple[str, str], ...] = ()  # (MCP tool, the scope it needs beyond `scope`)

    def __post_init__(self) -> None:
        if (self.who == KEY_OR_OAUTH) != (self.scope is not None):
            raise ValueError(f"{self.path}: an OAuth scope goes with KEY_OR_OAUTH rows, and only there")


DEFAULT = Rule("*", KEY, cors="assistants")


class AccessTable:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._compiled = [(_pattern(rule.path), rule) for rule in self.rules]

    def rule_for(self, method: str, path: str) -> tuple[Rule, str]:
        """The row for this request, and the path to route it to (a trailing slash dropped)."""
        canonical = path.rstrip("/") or "/"
        for pattern, rule in self._compiled:
            if pattern.fullmatch(canonical) and (rule.methods is None or method in rule.methods
                                                 or method == "OPTIONS"):
                return rule, canonical
        return DEFAULT, path


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)))


ACCESS = AccessTable([
    Rule("/.well-known/ai-plugin.json", PUBLIC),
    Rule("/openapi.yaml", PUBLIC),
    Rule("/openapi.json", PUBLIC),
    Rule("/logo.png", PUBLIC),
    Rule("/legal", PUBLIC, cors="none"),
    Rule("/healthz", PUBLIC),
    Rule("/query", KEY),
    Rule("/notes/{note_id}", KEY),
    Rule("/notes", KEY_OR_OAUTH, scope=WRITE_SCOPE, methods=frozenset({"POST"})),
    Rule("/open/{token}", LOCAL_SIGNED, methods=frozenset({"GET", "HEAD"}), cors="none"),
    Rule("/mcp", KEY_OR_OAUTH, scope=READ_SCOPE, checks_host=True, tool_scopes=(("save_note", WRITE_SCOPE),)),
    # OAuth 2.1 for MCP clients (oauth.py); browser-based clients discover, register and
    # exchange codes from their own page, so these answer any origin (no cookies are used).
    Rule("/.well-known/oauth-authorization-server", PUBLIC, cors="any"),
    Rule("/.well-known/oauth-protected-resource", PUBLIC, cors="any"),
    Rule("/.well-known/oauth-protected-resource/mcp", PUBLIC, cors="any"),
    Rule("/register", PUBLIC, cors="any"),
    Rule("/token", PUBLIC, cors="any"),
    Rule("/revoke", PUBLIC, cors="any"),
    Rule("/authorize", PUBLIC, cors="none"),  # a page the browser is sent to, never fetched
    Rule("/oauth/consent", PUBLIC, cors="none"),
])
