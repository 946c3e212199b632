"""Issue 15, from real OAuth clients (MCP Inspector, mcp-remote, the MCP SDK):

* with a public URL set, a local OAuth client failed ("Protected resource https://…
  does not match expected http://127.0.0.1…/mcp");
* CORS refused `Mcp-Protocol-Version` and preflights to /register and /token, so
  browser-based MCP clients could not connect;
* the 401 for a bad token lacked `error="invalid_token"`.
"""

from __future__ import annotations

from tests.security.conftest import PUBLIC, PUBLIC_HOST, Serve
from tests.security.oauth_client import REDIRECT, TOOLS_LIST, mcp_post, sdk_oauth_dance

BROWSER_CLIENT = "http://localhost:6274"  # MCP Inspector's page, talking to the server directly


def test_a_local_oauth_client_works_while_a_public_url_is_set(serve: Serve) -> None:
    served = serve(public_url=PUBLIC)
    with served.http() as http:
        challenge = mcp_post(http, None).headers["www-authenticate"]
        assert f'resource_metadata="{served.url}/.well-known/oauth-protected-resource/mcp"' in challenge
        resource = http.get("/.well-known/oauth-protected-resource/mcp").json()
        assert resource["resource"] == served.url + "/mcp"
        assert resource["authorization_servers"] == [served.url]
        via_tunnel = http.get("/.well-known/oauth-protected-resource/mcp",
                              headers={"Host": PUBLIC_HOST, "X-Forwarded-For": "203.0.113.5"}).json()
        assert via_tunnel["resource"] == PUBLIC + "/mcp"  # visitors through the tunnel see the public URL
    assert sdk_oauth_dance(served.url, served.consents, served.url + "/mcp")[0] == ["fetch", "search"]


def test_the_401_for_a_bad_token_says_invalid_token(serve: Serve) -> None:
    served = serve()
    with served.http() as http:
        missing = mcp_post(http, None)
        assert missing.status_code == 401 and "error=" not in missing.headers["www-authenticate"]
        for forged in ("nwo_forged", "nw_not-the-key"):
            bad = mcp_post(http, forged)
            challenge = bad.headers["www-authenticate"]
            assert bad.status_code == 401 and challenge.startswith("Bearer ")
            assert 'error="invalid_token"' in challenge and "resource_metadata=" in challenge
        keyed_route = http.post("/query", json={}, headers={"Authorization": "Bearer nw_wrong"})
        assert 'error="invalid_token"' in keyed_route.headers["www-authenticate"]


def test_a_browser_mcp_client_can_discover_register_get_a_token_and_call(serve: Serve) -> None:
    served = serve()
    origin = {"Origin": BROWSER_CLIENT}
    with served.http(**origin) as browser:
        for path, method, headers in [
            ("/.well-known/oauth-protected-resource/mcp", "GET", "mcp-protocol-version"),
            ("/.well-known/oauth-authorization-server", "GET", "mcp-protocol-version"),
            ("/register", "POST", "content-type, mcp-protocol-version"),
            ("/token", "POST", "content-type, mcp-protocol-version"),
            ("/mcp", "POST", "authorization, content-type, mcp-protocol-version"),
        ]:
            preflight = browser.options(path, headers={"Access-Control-Request-Method": method,
                                                       "Access-Control-Request-Headers": headers})
            assert preflight.status_code in (200, 204), (path, preflight.status_code, preflight.text)
            assert preflight.headers["access-control-allow-origin"] in (BROWSER_CLIENT, "*"), path
            allowed = preflight.headers["access-control-allow-headers"].lower()
            assert all(h.strip() in allowed for h in headers.split(",")), (path, allowed)

        refused = browser.post("/mcp", json=TOOLS_LIST, headers={"Mcp-Protocol-Version": "2025-06-18"})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == BROWSER_CLIENT
        assert "www-authenticate" in refused.headers["access-control-expose-headers"].lower()

        registered = browser.post("/register", json={
            "client_name": "Inspector", "redirect_uris": ["http://localhost:6274/oauth/callback"],
            "token_endpoint_auth_method": "none"})
        assert registered.status_code == 201
        assert registered.headers["access-control-allow-origin"] in (BROWSER_CLIENT, "*")
        token = browser.post("/token", data={"grant_type": "authorization_code", "code": "x",
                                             "client_id": registered.json()["client_id"], "code_verifier": "v" * 43,
                                             "redirect_uri": REDIRECT})
        assert token.status_code == 400 and token.headers["access-control-allow-origin"] in (BROWSER_CLIENT, "*")


def test_pages_and_the_api_key_routes_are_not_opened_to_every_origin(serve: Serve) -> None:
    served = serve()
    with served.http(Origin="https://evil.example") as page:
        for path, method in (("/mcp", "POST"), ("/query", "POST"), ("/authorize", "GET")):
            preflight = page.options(path, headers={"Access-Control-Request-Method": method,
                                                    "Access-Control-Request-Headers": "authorization"})
            assert "access-control-allow-origin" not in preflight.headers, path
