from __future__ import annotations

import struct
from pathlib import Path

import httpx
import pytest

from notewell.assets import asset_path
from notewell.app.secrets import FileTokenStore
from notewell.plugin_api.app import ApiConfig
from notewell.plugin_api.auth import FailureThrottle, LockoutPolicy, bearer_token
from notewell.plugin_api.errors import LockedOut
from tests.plugin_api.conftest import TOKEN, StartApi

QUERY = {"queries": [{"query": "tar"}]}


@pytest.mark.parametrize(
    "header, token",
    [
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("Basic abc", None),
        ("Bearer abc", "abc"),
        ("bearer abc ", "abc"),
        ("BEARER  abc", "abc"),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_after_repeated_failures_then_release() -> None:
    clock = Clock()
    throttle = FailureThrottle(LockoutPolicy(max_failures=3, window=60, lockout=30), clock)
    for _ in range(3):
        throttle.failed("1.2.3.4")  # the third crosses the limit: the next wrong ones wait
    with pytest.raises(LockedOut) as locked:
        throttle.failed("1.2.3.4")
    assert locked.value.retry_after == 30
    throttle.failed("5.6.7.8")  # other sources are unaffected
    clock.now += 31
    throttle.failed("1.2.3.4")


def test_failures_outside_the_window_do_not_add_up() -> None:
    clock = Clock()
    throttle = FailureThrottle(LockoutPolicy(max_failures=3, window=60, lockout=30), clock)
    for _ in range(10):
        throttle.failed("c")
        clock.now += 40


def test_source_memory_is_bounded() -> None:
    throttle = FailureThrottle(LockoutPolicy(max_failures=1, max_clients=50))
    for n in range(500):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert throttle.tracked() <= 100


def test_auth_matrix_over_http(start_api: StartApi, tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "api-token")
    first = store.get()
    api = start_api(
        ApiConfig(lockout=LockoutPolicy(max_failures=4, lockout=120)), token=store.get
    )
    with httpx.Client(base_url=api.url) as client:
        none = client.post("/query", json=QUERY)
        assert none.status_code == 401
        assert none.headers["www-authenticate"].startswith("Bearer")
        assert none.json()["error"]["code"] == "unauthorized"

        wrong = client.post("/query", json=QUERY, headers={"Authorization": "Bearer nw_wrong"})
        assert wrong.status_code == 401 and "nw_wrong" not in wrong.text

        right = client.post("/query", json=QUERY, headers={"Authorization": f"Bearer {first}"})
        assert right.status_code == 200

        second = store.rotate()  # as `notewell token --rotate` does, from anywhere
        stale = client.get("/notes/0123456789abcdef0123", headers={"Authorization": f"Bearer {first}"})
        assert stale.status_code == 401 and "rotated" in stale.json()["error"]["message"]
        fresh = client.post("/query", json=QUERY, headers={"Authorization": f"Bearer {second}"})
        assert fresh.status_code == 200

        for attempt in range(2):  # with `stale` and `wrong`, the 4th failure reaches the limit
            guess = client.post("/query", json=QUERY, headers={"Authorization": "Bearer guess"})
            assert guess.status_code == 401, attempt
        locked = client.post("/query", json=QUERY, headers={"Authorization": "Bearer guess"})
        assert locked.status_code == 429
        assert 0 < int(locked.headers["retry-after"]) <= 120
        assert locked.json()["error"]["code"] == "locked_out"
        still = client.post("/query", json=QUERY, headers={"Authorization": f"Bearer {second}"})
        assert still.status_code == 200  # the right key is never refused for others' failures
        assert client.get("/healthz").status_code == 200  # public routes stay up

    for response in (none, wrong, stale, locked):
        assert first not in response.text and second not in response.text
    assert ("/query", 200, "ok") in [(e.endpoint, e.status, e.outcome) for e in api.activity.reads()]
    assert {(r.source, r.reason) for r in api.activity.refused()} == {
        ("127.0.0.1", "unauthorized"), ("127.0.0.1", "locked_out")}  # counted, not listed


def test_public_routes_reveal_nothing_about_the_notes(start_api: StartApi) -> None:
    api = start_api()
    with httpx.Client(base_url=api.url) as client:
        for path in ("/.well-known/ai-plugin.json", "/openapi.yaml", "/openapi.json", "/legal", "/healthz"):
            response = client.get(path)
            assert response.status_code == 200
            for secret in ("tar.md", "Sourdough", "zebra", "notes", TOKEN):
                if secret == "notes":  # the word is in descriptions; a folder path is not
                    assert "/tree" not in response.text
                    continue
                assert secret not in response.text, (path, secret)
        logo = client.get("/logo.png")
        assert logo.headers["content-type"] == "image/png"
        assert logo.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", logo.content[16:24]) == (512, 512)  # the size plugin stores ask for
        assert logo.content == asset_path("logo.png").read_bytes()
        # Everything that is not declared public needs the token, even unknown paths.
        for path in ("/notes/0123456789abcdef0123", "/does-not-exist", "/mcp", "/query"):
            assert client.get(path).status_code == 401
