from __future__ import annotations

import json

import httpx
import pytest

from notewell.plugin_api.app import ApiConfig
from notewell.plugin_api.errors import RateLimited
from notewell.plugin_api.limits import Limits, RateLimiter, cut_to_fit, json_chars, share_budget
from tests.plugin_api.conftest import NOTES, TOKEN, Api, StartApi, raw_request

MAX = Limits().max_response_chars


@pytest.mark.parametrize(
    "sizes, budget, caps",
    [
        ([10, 20], 100, [10, 20]),
        ([10, 100], 60, [10, 50]),
        ([100, 100, 100], 90, [30, 30, 30]),
        ([5, 1000, 40], 105, [5, 60, 40]),
        ([50, 50], 0, [0, 0]),
        ([], 10, []),
    ],
)
def test_share_budget(sizes: list[int], budget: int, caps: list[int]) -> None:
    assert share_budget(sizes, budget) == caps


@pytest.mark.parametrize(
    "text, budget",
    [("plain text", 5), ('quotes " and \\ slashes', 6), ("\x00\x01\x02 controls", 7), ("中文字符", 2), ("x", 0)],
)
def test_cut_to_fit_measures_the_json_form(text: str, budget: int) -> None:
    cut = cut_to_fit(text, budget)
    assert text.startswith(cut)
    assert json_chars(cut) - 2 <= budget
    assert len(cut) >= 1 or budget < json_chars(text[:1]) - 2


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(Limits(rate_per_minute=60, rate_burst=2), clock=lambda: now[0])
    limiter.check("a")
    limiter.check("a")
    with pytest.raises(RateLimited) as refused:
        limiter.check("a")
    assert refused.value.retry_after == 1
    limiter.check("b")
    now[0] += 1.0
    limiter.check("a")


def post(api: Api, body: object) -> httpx.Response:
    with api.client() as client:
        return client.post("/query", json=body)


@pytest.mark.parametrize(
    "body, needle",
    [
        ({"queries": [{"query": "tar"}] * 6}, "queries"),
        ({"queries": [{"query": "t" * 1001}]}, "query"),
        ({"queries": [{"query": "tar", "top_k": 21}]}, "top_k"),
        # only space, by any reckoning (\x1d is space to Python, not to JSON Schema's \S)
        ({"queries": [{"query": " \u3000\x1d\ufeff"}]}, "query"),
    ],
)
def test_query_limits(api: Api, body: object, needle: str) -> None:
    response = post(api, body)
    assert response.status_code == 422
    assert needle in response.json()["error"]["message"]


def test_limits_at_the_edge_are_accepted(api: Api) -> None:
    body = {"queries": [{"query": "t" * 999 + "x", "top_k": 20}] + [{"query": "tar"}] * 4}
    assert post(api, body).status_code == 200


def test_body_over_64kb_is_refused_by_content_length(api: Api) -> None:
    body = json.dumps({"queries": [{"query": "tar"}], "pad": "x" * 70_000}).encode()
    status, headers, payload = raw_request(
        api.url,
        "POST /query HTTP/1.1",
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
         "Content-Length": str(len(body))},
        body,
    )
    assert status == 413 and json.loads(payload)["error"]["code"] == "payload_too_large"


def test_body_over_64kb_is_refused_while_streaming(api: Api) -> None:
    def chunks():  # no Content-Length: chunked transfer encoding
        yield b'{"queries": [{"query": "tar"}], "pad": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    with api.client() as client:
        response = client.post("/query", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "64 KB" in response.json()["error"]["message"]


def test_lying_content_length_does_not_bypass_the_limit(api: Api) -> None:
    body = b'{"queries": [{"query": "tar"}], "pad": "' + b"x" * 70_000 + b'"}'
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:30000], body[30000:])) + b"0\r\n\r\n"
    status, _, payload = raw_request(
        api.url,
        "POST /query HTTP/1.1",
        {"Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"},
        chunked,
    )
    assert status == 413


def test_rate_limit_gives_429_with_retry_after(start_api: StartApi) -> None:
    api = start_api(ApiConfig(limits=Limits(rate_per_minute=60, rate_burst=5)))
    with api.client() as client:
        statuses = [client.get("/healthz").status_code for _ in range(7)]
        assert statuses[:5] == [200] * 5 and statuses[-1] == 429
        # The key has its own bucket: a flood from the same address does not use it up.
        queries = [client.post("/query", json={"queries": [{"query": "tar"}]}) for _ in range(7)]
        assert [q.status_code for q in queries[:5]] == [200] * 5
        refused = queries[-1]
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limited"
    assert any(r.reason == "rate_limited" for r in api.activity.refused())


def test_ordinary_use_never_hits_the_rate_limit(api: Api) -> None:
    with api.client() as client:  # a busy conversation: 40 calls in a burst
        assert {client.post("/query", json={"queries": [{"query": "tar"}]}).status_code for _ in range(40)} == {200}


def test_huge_results_are_trimmed_under_100k_chars(api: Api) -> None:
    body = {"queries": [{"query": f"zebra {q}", "top_k": 20} for q in ("a", "b", "c", "d", "qqqq")]}
    with api.client() as client:
        response = client.post("/query", json=body)
    assert response.status_code == 200
    assert len(response.text) <= MAX
    data = response.json()
    assert data["truncated"] is True
    passages = [p for group in data["results"] for p in group["results"]]
    assert len(passages) == 100
    assert any(p["truncated"] for p in passages)
    assert all(p["text"] for p in passages)  # everyone keeps a share


def note_id_of(client: httpx.Client, path: str) -> str:
    body = {"queries": [{"query": "zebra", "filter": {"source_id": path}}]}
    return client.post("/query", json=body).json()["results"][0]["results"][0]["note_id"]


def test_a_huge_note_is_paged_under_100k_chars(api: Api) -> None:
    with api.client() as client:
        note_id = note_id_of(client, "huge/line.txt")
        pages, offset = [], 0
        while True:
            response = client.get(f"/notes/{note_id}", params={"offset": offset})
            assert response.status_code == 200 and len(response.text) <= MAX
            page = response.json()
            pages.append(page["text"])
            if not page["truncated"]:
                break
            offset = page["next_offset"]
    assert len(pages) == 3
    assert "".join(pages) == NOTES["huge/line.txt"]
    assert page["total_chars"] == len(NOTES["huge/line.txt"])


def test_note_pages_end_at_a_line_break_when_they_can(api: Api) -> None:
    with api.client() as client:
        note_id = note_id_of(client, "huge/one.md")
        first = client.get(f"/notes/{note_id}").json()
        assert first["truncated"] and first["text"].endswith("\n")
        rest = client.get(f"/notes/{note_id}", params={"offset": first["next_offset"]}).json()
        assert first["text"] + rest["text"] == NOTES["huge/one.md"][: len(first["text"]) + len(rest["text"])]
        past = client.get(f"/notes/{note_id}", params={"offset": 10**9}).json()
        assert past["text"] == "" and past["truncated"] is False


def test_a_client_saves_at_most_its_daily_share_and_hears_when_it_resets() -> None:
    """Review of #18, finding 3: saves that do not ask cannot fill the disk."""
    from notewell.plugin_api.errors import TooManyRequests
    from notewell.plugin_api.limits import SaveQuota

    now = [1_000_000.0]
    quota = SaveQuota(Limits(max_saves_per_day=3, max_saved_bytes_per_day=1000), clock=lambda: now[0])
    for _ in range(3):
        quota.charge("flood", 10)
    with pytest.raises(TooManyRequests) as refused:
        quota.charge("flood", 10)
    assert "3 notes" in str(refused.value) and "UTC" in str(refused.value)
    assert refused.value.retry_after == 86_400
    quota.charge("other", 10)  # per client
    with pytest.raises(TooManyRequests) as too_big:
        quota.charge("other", 995)
    assert "KB" in str(too_big.value) or "bytes" in str(too_big.value)
    now[0] += 86_400
    quota.charge("flood", 10)  # a day later: a new day's share
