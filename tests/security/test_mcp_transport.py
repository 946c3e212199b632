"""Issue 15: `/mcp/` refused valid OAuth tokens and redirected key holders to http://;
`GET /mcp` held a stream open forever."""

from __future__ import annotations

import httpx

from tests.security.conftest import PUBLIC, PUBLIC_HOST, TOKEN, Serve
from tests.security.oauth_client import connect, mcp_post, sdk_search


def test_mcp_with_a_trailing_slash_is_mcp(serve: Serve) -> None:
    served = serve(public_url=PUBLIC)
    _, _, issued = connect(served)
    with served.http() as http:
        for credential in (TOKEN, issued["access_token"]):
            answer = mcp_post(http, credential, "/mcp/")
            assert answer.status_code == 200, answer.text
            assert answer.json()["result"]["tools"]
        via_tunnel = mcp_post(http, TOKEN, "/mcp/", Host=PUBLIC_HOST, **{"X-Forwarded-For": "203.0.113.5",
                                                                      "X-Forwarded-Proto": "https"})
        assert via_tunnel.status_code == 200 and "location" not in via_tunnel.headers
    assert sdk_search(served.url + "/mcp/", issued["access_token"])["results"]


def test_get_mcp_answers_405_at_once(serve: Serve) -> None:
    served = serve()
    with httpx.Client(base_url=served.url, timeout=5) as http:
        for path in ("/mcp", "/mcp/"):
            answer = http.get(path, headers={"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"})
            assert answer.status_code == 405
            assert answer.headers["allow"] == "POST"
            assert answer.json()["error"]["code"] == "method_not_allowed"
