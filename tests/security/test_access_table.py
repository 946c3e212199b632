"""Issue 15: one place says who may call what (`plugin_api/access.py`).

The rules were spread over auth.py, guard.py, app.py, oauth.py, host_check.py and
clients.py. Here every route the server has is looked up in the table, and every
row is checked over HTTP with no credential, a wrong one, the API key and an
OAuth access token.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from notewell.plugin_api.access import ACCESS, KEY, KEY_OR_OAUTH, LOCAL_SIGNED, PUBLIC, AccessTable, Rule
from notewell.plugin_api.app import ApiConfig
from tests.security.conftest import TOKEN, Serve
from tests.security.oauth_client import MCP_ACCEPT, connect

SAMPLE = {"note_id": "0123456789abcdef0123", "token": "0123456789abcdef0123.forged"}


def route_paths(app: object) -> set[str]:
    return {route.path for route in app.routes}  # type: ignore[attr-defined]


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)


def call(http, rule: Rule, credential: str | None):  # type: ignore[no-untyped-def]
    method = sorted(rule.methods)[0] if rule.methods else ("POST" if rule.who != PUBLIC else "GET")
    headers = {"Accept": MCP_ACCEPT} | ({"Authorization": f"Bearer {credential}"} if credential else {})
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"} if rule.path == "/mcp" else {}
    if method == "GET":
        return http.get(concrete(rule.path), headers=headers)
    return http.request(method, concrete(rule.path), headers=headers, json=body)


def test_every_route_has_a_row_and_every_row_is_enforced(serve: Serve) -> None:
    served = serve()
    app = served.server.app
    assert route_paths(app) == {rule.path for rule in ACCESS.rules}
    _, _, issued = connect(served)
    oauth_token = issued["access_token"]
    with served.http() as http:
        for rule in ACCESS.rules:
            anonymous, wrong = call(http, rule, None), call(http, rule, "nw_wrong")
            keyed, oauth = call(http, rule, TOKEN), call(http, rule, oauth_token)
            if rule.who == PUBLIC:
                assert anonymous.status_code != 401 and wrong.status_code != 401, rule
                continue
            if rule.who == LOCAL_SIGNED:  # no key or token opens it: only a link the app signed
                assert {r.status_code for r in (anonymous, wrong, keyed, oauth)} == {404}, rule
                continue
            assert anonymous.status_code == 401 and wrong.status_code == 401, rule
            if rule.scope == "notes:write":  # POST /notes: this server has no inbox (issue 18)
                assert keyed.status_code == 403 and "inbox" in keyed.json()["error"]["message"], rule
                assert oauth.status_code == 403, rule  # a notes:read token
                assert 'error="insufficient_scope"' in oauth.headers["www-authenticate"]
                continue
            assert keyed.status_code not in (401, 403), (rule, keyed.status_code)
            if rule.who == KEY:
                assert oauth.status_code == 401, rule  # OAuth tokens open only the rows that say so
            else:
                assert rule.who == KEY_OR_OAUTH and rule.scope == "notes:read"
                assert oauth.status_code not in (401, 403), (rule, oauth.status_code)
        for unknown in ("/admin", "/notes", "/.env", "/mcp/extra"):
            assert http.get(unknown).status_code == 401, unknown  # default deny


def test_a_read_only_oauth_grant_cannot_save(serve: Serve) -> None:
    """`POST /notes` is one row with scope notes:write (issue 18): a notes:read token is refused
    before the endpoint runs, and told which scope it lacks."""
    served = serve()
    _, _, issued = connect(served)  # a notes:read token
    with served.http() as http:
        refused = http.post("/notes", json={"title": "x", "text": "y"},
                            headers={"Authorization": f"Bearer {issued['access_token']}"})
        assert refused.status_code == 403
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert 'scope="notes:write"' in refused.headers["www-authenticate"]
        assert http.post("/notes", json={}).status_code == 401
