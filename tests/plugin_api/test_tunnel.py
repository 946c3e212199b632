"""Tunnels (issue 4): the real pyngrok code path against the fake agent in fake_ngrok/."""

from __future__ import annotations

import http.server
import io
import os
import signal
import socket
import tarfile
import threading
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from notewell.indexer.types import SearchResult
from notewell.plugin_api.tunnel import (
    NoTunnel,
    PublicUrlError,
    TunnelStatus,
    UrlTunnel,
    make_tunnel,
    manifest_url,
    validate_public_url,
)
from notewell.plugin_api.tunnel_ngrok import Backoff, NgrokTunnel
from notewell.plugin_api.tunnel_policy import TrafficPolicyError, parse_egress_ranges, traffic_policy
from tests.helpers import finishes, wait_until
from tests.plugin_api.tunnel_helpers import (
    FAKE_NGROK,
    ServedApp,
    StatusRecorder,
    edge_client,
    fake_state,
    set_knobs,
)

TOKEN = "s3cret-api-token"
FAST = dict(startup_timeout=5, check_interval=0.05, backoff=Backoff(initial=0.1, factor=2, maximum=0.4))


def echo_app() -> Starlette:
    """What the upstream sees: the request as uvicorn and Starlette resolve it."""

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "url": str(request.url),
                "client": request.client.host if request.client else None,
                "headers": dict(request.headers),
                "authorised": request.headers.get("authorization") == f"Bearer {TOKEN}",
            }
        )

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


@pytest.fixture
def echo_port():
    with ServedApp(echo_app()) as served:
        yield served.port


@pytest.fixture
def ngrok_dir(tmp_path: Path) -> Path:
    path = tmp_path / "ngrok"
    path.mkdir()
    return path


@pytest.fixture
def tunnels():
    made: list[NgrokTunnel] = []

    def make(config_dir: Path, **kwargs: object) -> NgrokTunnel:
        options = {"authtoken": "good-token", "ngrok_path": str(FAKE_NGROK), **FAST, **kwargs}
        tunnel = NgrokTunnel(config_dir=config_dir, **options)  # type: ignore[arg-type]
        made.append(tunnel)
        return tunnel

    yield make
    for tunnel in made:
        tunnel.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0); reap it if it is ours
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


# -- ngrok: the happy path ---------------------------------------------------------


def test_start_gives_an_https_url_that_forwards_like_a_real_edge(tunnels, ngrok_dir, echo_port):
    tunnel = tunnels(ngrok_dir)
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    assert tunnel.status.state in ("connecting", "online")
    online = seen.wait_state("online")
    url = online.public_url
    assert url and url.startswith("https://") and url == tunnel.status.public_url
    host = url.removeprefix("https://")

    with edge_client(ngrok_dir) as client:
        body = client.post(f"{url}/query?x=1", headers={"Authorization": f"Bearer {TOKEN}"}, json={}).json()
    assert body["url"] == f"{url}/query?x=1"  # uvicorn trusts the forwarded proto from loopback
    assert body["headers"]["host"] == host
    assert body["headers"]["x-forwarded-proto"] == "https"
    assert body["headers"]["x-forwarded-host"] == host
    assert body["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert body["authorised"] is True
    state = fake_state(ngrok_dir)
    assert state["endpoints"][url]["upstream"] == f"http://127.0.0.1:{echo_port}"
    assert oct((ngrok_dir / "ngrok.yml").stat().st_mode & 0o777) == "0o600"


def test_static_domain_and_region_survive_a_restart(tunnels, ngrok_dir, echo_port):
    tunnel = tunnels(ngrok_dir, domain="https://quiet-notes.ngrok-free.app/", region="eu")
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    assert seen.wait_state("online").public_url == "https://quiet-notes.ngrok-free.app"
    assert fake_state(ngrok_dir)["region"] == "eu"
    tunnel.stop()
    assert tunnel.status == TunnelStatus("off")
    mark = len(seen.seen)
    tunnel.start(echo_port)
    assert seen.wait_state("online", after=mark).public_url == "https://quiet-notes.ngrok-free.app"


def test_authtoken_stays_out_of_the_process_list(tunnels, ngrok_dir, echo_port):
    tunnel = tunnels(ngrok_dir, authtoken="good-but-secret")
    tunnel.start(echo_port)
    StatusRecorder(tunnel).wait_state("online")
    pid = fake_state(ngrok_dir)["pid"]
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert "good-but-secret" not in cmdline
    assert fake_state(ngrok_dir)["authtoken"] == "good-but-secret"  # read from the 0600 config file


def test_authtoken_saved_by_the_ngrok_cli_is_used(tunnels, ngrok_dir, echo_port, isolated_home, monkeypatch):
    monkeypatch.delenv("NGROK_AUTHTOKEN", raising=False)
    saved = isolated_home / ".config" / "ngrok" / "ngrok.yml"
    saved.parent.mkdir(parents=True)
    saved.write_text("version: '3'\nagent:\n  authtoken: good-from-ngrok-cli\n")
    tunnel = tunnels(ngrok_dir, authtoken=None)
    tunnel.start(echo_port)
    StatusRecorder(tunnel).wait_state("online")
    assert fake_state(ngrok_dir)["authtoken"] == "good-from-ngrok-cli"


def test_traffic_policy_reaches_the_agent(tunnels, ngrok_dir, echo_port):
    policy = traffic_policy(allow_cidrs=["10.0.0.0/8"], rate_limit_per_minute=30)
    tunnel = tunnels(ngrok_dir, traffic_policy=policy)
    tunnel.start(echo_port)
    url = StatusRecorder(tunnel).wait_state("online").public_url
    assert fake_state(ngrok_dir)["endpoints"][url]["traffic_policy"] == policy
    with edge_client(ngrok_dir) as client:
        assert client.get(f"{url}/healthz").status_code == 403  # 127.0.0.1 is not in 10/8


class OneNote:
    """A real `NotesReader` with one note, so the real app answers through the tunnel."""

    RESULT = SearchResult(
        id="c1", note_id="n1", path="tar.md", folder="/notes", title="Tar", heading="Extract",
        text="Use tar -xzf archive.tar.gz to extract an archive.", score=0.9,
        modified_at="2025-01-01T00:00:00+00:00", lines=(1, 3),
    )

    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters: object = None) -> list[SearchResult]:
        return [self.RESULT][:k]

    def get_note(self, note_id: str) -> None:
        return None


@pytest.mark.parametrize("app_knows_the_url", [True, False], ids=["url-from-tunnel", "url-from-headers"])
def test_real_api_through_the_tunnel_carries_the_public_url(tunnels, ngrok_dir, app_knows_the_url):
    from notewell.plugin_api.app import ApiConfig, create_app
    from notewell.plugin_api.server import ApiServer

    tunnel = tunnels(ngrok_dir)

    def public_url() -> str | None:
        status = tunnel.status
        return status.public_url if app_knows_the_url and status.state == "online" else None

    server = ApiServer(create_app(OneNote(), ApiConfig(), token=lambda: TOKEN, public_url=public_url), port=0)
    server.start()
    try:
        tunnel.start(server.port)
        url = StatusRecorder(tunnel).wait_state("online").public_url
        assert url is not None
        with edge_client(ngrok_dir) as client:
            manifest = client.get(manifest_url(url))
            spec = client.get(f"{url}/openapi.json")
            answer = client.post(
                f"{url}/query",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"queries": [{"query": "extract an archive", "top_k": 1}]},
            )
            refused = client.post(f"{url}/query", json={"queries": [{"query": "tar"}]})
    finally:
        server.stop()
    assert manifest.status_code == 200
    assert manifest.json()["api"]["url"] == f"{url}/openapi.yaml"
    assert manifest.json()["logo_url"] == f"{url}/logo.png"
    assert spec.json()["servers"][0]["url"] == url
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"][0]["results"]
    assert result["text"] == OneNote.RESULT.text and result["metadata"]["document_id"] == "n1"
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")


# -- ngrok: failures, said in words ------------------------------------------------


def test_agent_killed_mid_session_goes_to_error_then_reconnects(tunnels, ngrok_dir, echo_port):
    tunnel = tunnels(ngrok_dir, domain="quiet-notes.ngrok-free.app")
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    url = seen.wait_state("online").public_url
    first_pid = fake_state(ngrok_dir)["pid"]
    mark = len(seen.seen)

    os.kill(first_pid, signal.SIGKILL)

    error = seen.wait_state("error", after=mark)
    assert "stopped unexpectedly" in error.message and "Reconnecting" in error.message
    assert seen.wait_state("online", after=mark).public_url == url
    assert fake_state(ngrok_dir)["pid"] != first_pid
    with edge_client(ngrok_dir) as client:
        assert client.get(f"{url}/after-crash").json()["url"] == f"{url}/after-crash"


def test_dropped_session_shows_connecting_then_online(tunnels, ngrok_dir, echo_port):
    tunnel = tunnels(ngrok_dir)
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    url = seen.wait_state("online").public_url
    mark = len(seen.seen)
    os.kill(fake_state(ngrok_dir)["pid"], signal.SIGUSR1)
    assert "reconnecting" in seen.wait_state("connecting", after=mark).message
    assert seen.wait_state("online", after=mark).public_url == url


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("bad-token", "ngrok rejected the authtoken. Copy your authtoken from dashboard.ngrok.com"),
        (None, "ngrok needs an authtoken."),
    ],
)
def test_authtoken_problems_are_one_clear_sentence(tunnels, ngrok_dir, echo_port, monkeypatch, token, expected):
    monkeypatch.delenv("NGROK_AUTHTOKEN", raising=False)
    tunnel = tunnels(ngrok_dir, authtoken=token)
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    error = seen.wait_state("error")
    assert error.message.startswith(expected)
    assert "Traceback" not in error.message and "ERR_NGROK" not in error.message
    time.sleep(0.5)  # no retry loop for a token that cannot work
    assert [s.state for s in seen.seen] == ["connecting", "error"]
    assert tunnel.status == error


def test_domain_not_reserved_names_the_ngrok_error(tunnels, ngrok_dir, echo_port):
    set_knobs(ngrok_dir, reserved_domains=["mine.ngrok-free.app"])
    tunnel = tunnels(ngrok_dir, domain="someone-elses.ngrok-free.app")
    error = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    message = error.wait_state("error").message
    assert "someone-elses.ngrok-free.app' is not reserved for your account" in message
    assert "ERR_NGROK_320" in message and "https://ngrok.com/docs/errors/err_ngrok_320" in message


def test_another_agent_session_is_explained_and_retried(tunnels, ngrok_dir, echo_port):
    set_knobs(ngrok_dir, mode="session_limit")
    tunnel = tunnels(ngrok_dir)
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    error = seen.wait_state("error")
    assert error.message.startswith("Another ngrok agent is already online with your account")
    assert "Retrying in 0.1 s." in error.message
    seen.wait_for(lambda s: s.message == "Reconnecting to ngrok…")
    set_knobs(ngrok_dir, mode="ok")  # the other agent went away
    seen.wait_state("online")


def test_retries_end_in_a_stopped_state_that_says_what_to_do(tunnels, ngrok_dir, echo_port):
    set_knobs(ngrok_dir, mode="session_limit")  # fails at once, every time
    tunnel = tunnels(ngrok_dir, give_up_after=1.0)
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    retrying = seen.wait_for(lambda s: s.state == "error" and s.retrying)
    assert retrying.active and "Retrying in" in retrying.message
    final = seen.wait_for(lambda s: s.state == "error" and not s.retrying, timeout=15)
    assert not final.active
    assert final.message == (
        "Another ngrok agent is already online with your account (the free plan allows one). Stop it "
        "(see dashboard.ngrok.com/agents). Notewell tried for 1 second and stopped. Check your internet "
        "connection and the ngrok settings (Settings → Sharing, or serve's --ngrok-* options), then start "
        "sharing again.")
    pid = fake_state(ngrok_dir)["pid"]
    count = len(seen.seen)
    time.sleep(0.6)  # longer than the backoff: nothing tries again
    assert len(seen.seen) == count and not alive(pid)


def test_stop_while_retrying_ends_the_retries(tunnels, ngrok_dir, echo_port):
    set_knobs(ngrok_dir, mode="session_limit")
    tunnel = tunnels(ngrok_dir, backoff=Backoff(initial=0.2, factor=1, maximum=0.2))
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    seen.wait_for(lambda s: s.retrying)
    assert finishes(tunnel.stop)
    assert tunnel.status == TunnelStatus("off")
    count = len(seen.seen)
    set_knobs(ngrok_dir, mode="ok")  # a retry now would go online
    time.sleep(0.8)
    assert len(seen.seen) == count and tunnel.status == TunnelStatus("off")


def test_no_network_with_agent_present_is_a_clear_error_not_a_hang(tunnels, ngrok_dir, echo_port):
    set_knobs(ngrok_dir, mode="offline")
    tunnel = tunnels(ngrok_dir, startup_timeout=1)
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    error = seen.wait_state("error", timeout=30)
    assert error.message.startswith("ngrok could not connect: failed to dial ngrok server")
    assert "Check your internet connection" in error.message


def test_stop_during_a_stuck_start_is_prompt_and_kills_the_agent(tunnels, ngrok_dir, echo_port):
    set_knobs(ngrok_dir, mode="offline")
    tunnel = tunnels(ngrok_dir, startup_timeout=60)
    tunnel.start(echo_port)
    assert wait_until((ngrok_dir / "fake_ngrok_state.json").exists, 30)
    pid = fake_state(ngrok_dir)["pid"]
    time.sleep(0.3)  # pyngrok is now blocked reading the agent's retry lines
    assert tunnel.status.state == "connecting"
    assert finishes(tunnel.stop)
    assert not alive(pid)
    assert tunnel.status == TunnelStatus("off")


def test_stop_kills_the_agent_and_publishes_off(tunnels, ngrok_dir, echo_port):
    tunnel = tunnels(ngrok_dir)
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    seen.wait_state("online")
    pid = fake_state(ngrok_dir)["pid"]
    assert finishes(tunnel.stop)
    assert not alive(pid)
    assert tunnel.status == TunnelStatus("off")
    time.sleep(0.3)  # nothing reconnects after a stop
    assert seen.seen[-1] == TunnelStatus("off")


def test_missing_ngrok_path_is_explained(tunnels, ngrok_dir, echo_port, tmp_path):
    tunnel = tunnels(ngrok_dir, ngrok_path=str(tmp_path / "nowhere" / "ngrok"))
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    message = seen.wait_state("error").message
    assert message.startswith(f"There is no ngrok agent at {tmp_path / 'nowhere' / 'ngrok'}.")
    assert "--ngrok-path" in message


# -- the agent download ---------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_missing_agent_without_network_fails_fast_with_advice(tunnels, ngrok_dir, echo_port, tmp_path):
    tunnel = tunnels(
        ngrok_dir,
        ngrok_path=None,
        agent_home=tmp_path / "agent",
        search_path=False,
        download_url=f"http://127.0.0.1:{closed_port()}/ngrok-v3-stable-linux-amd64.tgz",
    )
    seen = StatusRecorder(tunnel)
    tunnel.start(echo_port)
    error = seen.wait_state("error", timeout=30)
    assert error.message.startswith(
        "Could not download the ngrok agent (no internet?). Install ngrok yourself and set its path "
        "with --ngrok-path / Settings → Sharing."
    )
    assert not (tmp_path / "agent" / "ngrok").exists()
    assert list((tmp_path / "agent").iterdir()) == []  # no half-written archive left behind


def test_agent_download_shows_progress_then_connects(tunnels, ngrok_dir, echo_port, tmp_path):
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as bundle:
        bundle.add(FAKE_NGROK, arcname="ngrok")
    payload = archive.getvalue()

    class Cdn(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    cdn = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cdn)
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    try:
        tunnel = tunnels(
            ngrok_dir,
            ngrok_path=None,
            agent_home=tmp_path / "agent",
            search_path=False,
            download_url=f"http://127.0.0.1:{cdn.server_address[1]}/ngrok.tgz",
        )
        seen = StatusRecorder(tunnel)
        tunnel.start(echo_port)
        seen.wait_state("online")
    finally:
        cdn.shutdown()
    messages = [s.message for s in seen.seen if s.state == "connecting"]
    assert "Downloading the ngrok agent… 100%" in messages
    assert os.access(tmp_path / "agent" / "ngrok", os.X_OK)


# -- the other providers and the pure parts ---------------------------------------------


def test_own_url_goes_online_at_once_and_off_on_stop():
    tunnel = make_tunnel("url", public_url="https://notes.example.com/")
    seen = StatusRecorder(tunnel)
    tunnel.start(3333)
    assert tunnel.status == TunnelStatus("online", "https://notes.example.com")
    tunnel.stop()
    assert [s.state for s in seen.seen] == ["online", "off"]


def test_none_stays_off():
    tunnel = make_tunnel("none")
    tunnel.start(3333)
    assert tunnel.status == TunnelStatus("off")
    assert isinstance(tunnel, NoTunnel)


def test_make_tunnel_ngrok_reads_the_authtoken_from_the_environment(monkeypatch):
    monkeypatch.setenv("NGROK_AUTHTOKEN", "from-env")
    tunnel = make_tunnel("ngrok", ngrok_path=str(FAKE_NGROK))
    assert isinstance(tunnel, NgrokTunnel) and tunnel._authtoken == "from-env"
    assert make_tunnel("ngrok", authtoken="from-settings")._authtoken == "from-settings"  # type: ignore[attr-defined]


def test_own_url_is_required_for_kind_url():
    with pytest.raises(PublicUrlError, match="Enter your public HTTPS URL"):
        make_tunnel("url")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://notes.example.com", "https://notes.example.com"),
        (" https://notes.example.com/ ", "https://notes.example.com"),
        ("https://proxy.example.com/notewell/", "https://proxy.example.com/notewell"),
        ("https://box.tail1234.ts.net:8443", "https://box.tail1234.ts.net:8443"),
        ("http://localhost:3333", "http://localhost:3333"),
        ("http://127.0.0.1:3333/", "http://127.0.0.1:3333"),
    ],
)
def test_valid_public_urls(given, expected):
    assert validate_public_url(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("http://notes.example.com", "ChatGPT only connects over HTTPS"),
        ("notes.example.com", "is not a web address"),
        ("ftp://notes.example.com", "is not a web address"),
        ("https://", "is not a web address"),
        ("https://notes.example.com/?a=1", "Leave the query and fragment off"),
    ],
)
def test_invalid_public_urls(given, message):
    with pytest.raises(PublicUrlError, match=message):
        validate_public_url(given)


@pytest.mark.parametrize(
    ("public", "expected"),
    [
        ("https://a.ngrok-free.app", "https://a.ngrok-free.app/.well-known/ai-plugin.json"),
        ("https://a.ngrok-free.app/", "https://a.ngrok-free.app/.well-known/ai-plugin.json"),
        ("https://proxy.example.com/nw", "https://proxy.example.com/nw/.well-known/ai-plugin.json"),
    ],
)
def test_manifest_url(public, expected):
    assert manifest_url(public) == expected


def test_unsubscribe_stops_callbacks_and_a_failing_subscriber_is_contained():
    tunnel = UrlTunnel("https://notes.example.com")
    calls: list[TunnelStatus] = []
    unsubscribe = tunnel.subscribe(calls.append)
    tunnel.subscribe(lambda status: 1 / 0)
    tunnel.start(1)
    unsubscribe()
    unsubscribe()
    tunnel.stop()
    assert calls == [TunnelStatus("online", "https://notes.example.com")]
    assert tunnel.status == TunnelStatus("off")


def test_traffic_policy_builder():
    assert traffic_policy() is None
    policy = traffic_policy(allow_cidrs=["23.102.140.112/28", "2001:db8::/32"], rate_limit_per_minute=60)
    actions = policy["on_http_request"][0]["actions"]  # type: ignore[index]
    assert actions[0] == {
        "type": "restrict-ips",
        "config": {"enforce": True, "allow": ["23.102.140.112/28", "2001:db8::/32"]},
    }
    assert actions[1]["type"] == "rate-limit" and actions[1]["config"]["capacity"] == 60
    with pytest.raises(TrafficPolicyError, match="is not an IP range"):
        traffic_policy(allow_cidrs=["openai"])


def test_parse_egress_ranges():
    text = '{"creationTime": "2025-01-01", "prefixes": [{"ipv4Prefix": "23.102.140.112/28"}, {"ipv4Prefix": "13.66.11.96/28"}]}'
    assert parse_egress_ranges(text) == ["23.102.140.112/28", "13.66.11.96/28"]
    with pytest.raises(TrafficPolicyError, match="no 'prefixes' list"):
        parse_egress_ranges("{}")
