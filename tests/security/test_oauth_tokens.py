"""Issue 15, OAuth tokens and registrations:

* a token issued for `resource=https://evil.example.com/other` was accepted on /mcp (RFC 8707);
* reusing an old refresh token did not revoke the grant;
* a wrong PKCE verifier did not burn the code;
* `token_endpoint_auth_methods_supported` omitted `none` though public clients are accepted;
* `notewell clients` showed "last used -" for clients that read (kept in memory only);
* every registration rewrote the whole OAuth file on the event loop (/healthz stalled
  under registration spam), and unused registrations were kept.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from notewell.plugin_api.oauth_store import OAuthStore
from tests.helpers import wait_until
from tests.security.conftest import PUBLIC, PUBLIC_HOST, Serve
from tests.security.oauth_client import REDIRECT, authorize, connect, mcp_post, pkce, register

FOREIGN = "https://evil.example.com/other"


def test_tokens_are_bound_to_this_servers_mcp(serve: Serve) -> None:
    served = serve(public_url=PUBLIC)
    with served.http() as http:
        client_id = register(http).json()["client_id"]
        refused = authorize(http, client_id, pkce()[1], resource=FOREIGN)
        assert refused.status_code == 400 and "location" not in refused.headers
        assert served.consents.pending() == []
    _, _, local = connect(served)  # resource = the local /mcp: accepted locally and through the tunnel
    _, _, unnamed = connect(served, resource=None)  # no resource: bound to this server's /mcp
    with served.http() as http:
        for token in (local["access_token"], unnamed["access_token"]):
            assert mcp_post(http, token).status_code == 200
            assert mcp_post(http, token, Host=PUBLIC_HOST, **{"X-Forwarded-For": "203.0.113.5"}).status_code == 200
        [grant, *_] = served.store.grants()
        foreign, _, _ = served.store.issue(grant, FOREIGN)  # a token for another server's resource
        answer = mcp_post(http, foreign)
        assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["www-authenticate"]


def test_a_reused_refresh_token_revokes_the_grant(serve: Serve) -> None:
    served = serve()
    client_id, _, first = connect(served)
    with served.http() as http:
        second = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                           "client_id": client_id}).json()
        assert mcp_post(http, second["access_token"]).status_code == 200
        stolen = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                           "client_id": client_id})
        assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
        assert mcp_post(http, second["access_token"]).status_code == 401  # the whole grant is gone
        again = http.post("/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"],
                                          "client_id": client_id})
        assert again.status_code == 400
    assert served.store.grants() == []


def test_a_wrong_pkce_verifier_burns_the_code(serve: Serve) -> None:
    served = serve()
    with served.http() as http:
        client_id = register(http).json()["client_id"]
        verifier, challenge = pkce()
        location = authorize(http, client_id, challenge).headers["location"]
        assert served.consents.approve(served.consents.pending()[0].id)
        back = http.get(location).headers["location"]
        code = back.split("code=")[1].split("&")[0]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id}
        wrong = http.post("/token", data={**form, "code_verifier": pkce()[0]})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        right = http.post("/token", data={**form, "code_verifier": verifier})
        assert right.status_code == 400 and right.json()["error"] == "invalid_grant"


def test_metadata_says_public_clients_are_welcome(serve: Serve) -> None:
    served = serve()
    with served.http() as http:
        metadata = http.get("/.well-known/oauth-authorization-server").json()
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    assert "none" in metadata.get("revocation_endpoint_auth_methods_supported", ["none"])


def test_last_used_is_kept_across_a_restart(serve: Serve) -> None:
    served = serve()
    _, _, issued = connect(served)
    with served.http() as http:
        assert mcp_post(http, issued["access_token"]).status_code == 200
    path = served.store.path
    assert path is not None
    assert wait_until(lambda: OAuthStore(path).grants()[0].last_used_at is not None)


class SlowDisk(OAuthStore):
    """The OAuth file on a disk that takes its time (a network home, a busy laptop)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.saving = threading.Event()
        self.release = threading.Event()

    def _save(self) -> None:
        self.saving.set()
        self.release.wait(20)
        super()._save()


def test_registrations_are_written_off_the_event_loop(serve: Serve, tmp_path: Path) -> None:
    store = SlowDisk(tmp_path / "oauth.json")
    served = serve(store=store)
    result: list[int] = []
    registering = threading.Thread(target=lambda: result.append(register(served.http()).status_code))
    registering.start()
    try:
        assert store.saving.wait(20)
        with httpx.Client(base_url=served.url, timeout=5) as http:  # while the file is being written
            assert http.get("/healthz").status_code == 200
            assert http.post("/query", json={}).status_code == 401
    finally:
        store.release.set()
        registering.join(20)
    assert result == [201]


def test_unused_registrations_expire_and_are_capped(tmp_path: Path) -> None:
    now = [time.time()]
    store = OAuthStore(tmp_path / "oauth.json", clock=lambda: now[0])
    for n in range(500):
        store.add_client(f"spam-{n}", {"client_id": f"spam-{n}", "client_name": "spam"})
    assert len(store.clients()) <= 100
    store.add_client("kept", {"client_id": "kept", "client_name": "Claude"})
    store.add_grant("kept", "Claude", "claude.ai", ("notes:read",))
    now[0] += 2 * 86400  # two days later, a new registration tidies up
    store.add_client("new", {"client_id": "new", "client_name": "new"})
    assert set(store.clients()) == {"kept", "new"}
    assert (tmp_path / "oauth.json").stat().st_size < 20_000
