"""Issue 15: "The lockout works against the user".

Replayed: 10 wrong tokens locked the real key out of that address for 300 s;
requests through the tunnel without X-Forwarded-For shared one lockout; locally,
10 tokenless requests locked every MCP client on 127.0.0.1 out. Now a correct
key or token always gets in, and only the failing requests are throttled, per source.
"""

from __future__ import annotations

from notewell.plugin_api.app import ApiConfig
from notewell.plugin_api.auth import LockoutPolicy
from tests.security.conftest import PUBLIC, PUBLIC_HOST, TOKEN, Serve
from tests.security.oauth_client import connect, mcp_post, sdk_search

QUERY = {"queries": [{"query": "sourdough"}]}
NOTE = "/notes/0123456789abcdef0123"


def test_wrong_tokens_never_lock_the_right_key_out_of_the_same_address(serve: Serve) -> None:
    served = serve()
    with served.http(Authorization="Bearer nw_guess") as attacker, served.keyed() as owner:
        answers = [attacker.post("/query", json=QUERY) for _ in range(15)]
        assert {a.status_code for a in answers[:10]} == {401}
        throttled = answers[-1]
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0  # failures slow down
        assert owner.post("/query", json=QUERY).status_code == 200  # the owner, same address, same moment
        assert mcp_post(owner, TOKEN).status_code == 200


def test_tunnel_visitors_without_forwarded_for_do_not_lock_out_the_assistant(serve: Serve) -> None:
    served = serve(ApiConfig(lockout=LockoutPolicy(max_failures=3)), public_url=PUBLIC)
    via_tunnel = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}  # no X-Forwarded-For
    with served.http(**via_tunnel, Authorization="Bearer nw_guess") as attacker:
        for _ in range(6):
            attacker.get(NOTE)
    with served.http(**via_tunnel, Authorization=f"Bearer {TOKEN}") as assistant:
        assert assistant.get(NOTE).status_code == 404  # in: the note just does not exist
        assert assistant.post("/query", json=QUERY).status_code == 200


def test_tokenless_requests_never_lock_out_mcp_clients(serve: Serve) -> None:
    served = serve()
    with served.http() as anyone:
        for path in ("/query", "/mcp", NOTE, "/does-not-exist") * 5:
            answer = anyone.post(path, json={})
            assert answer.status_code == 401, (path, answer.status_code)  # no key is not a guess
    _, _, issued = connect(served)
    assert sdk_search(served.url + "/mcp", issued["access_token"])["results"]
    assert sdk_search(served.url + "/mcp", TOKEN)["results"]


def test_failures_stay_with_their_own_source(serve: Serve) -> None:
    served = serve(ApiConfig(lockout=LockoutPolicy(max_failures=2)), public_url=PUBLIC)
    attacker = {"Host": PUBLIC_HOST, "X-Forwarded-For": "203.0.113.66", "Authorization": "Bearer nw_guess"}
    other = {"Host": PUBLIC_HOST, "X-Forwarded-For": "198.51.100.2", "Authorization": "Bearer nw_typo"}
    with served.http() as http:
        for _ in range(4):
            http.get(NOTE, headers=attacker)
        assert http.get(NOTE, headers=attacker).status_code == 429
        assert http.get(NOTE, headers=other).status_code == 401  # another visitor's first mistake
