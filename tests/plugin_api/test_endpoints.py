from __future__ import annotations

import json
import urllib.parse

import pytest

from tests.plugin_api.conftest import NOTES, SENTINEL, TOKEN, Api, raw_request


def query(api: Api, *queries: dict[str, object]) -> dict:
    with api.client() as client:
        response = client.post("/query", json={"queries": list(queries)})
    assert response.status_code == 200, response.text
    return response.json()


def test_query_answers_in_the_retrieval_plugin_shape(api: Api) -> None:
    # keyword mode: this test is about the shape; ranking under HashEmbedder is not the point
    body = query(api, {"query": "tar -xzf archive.tar.gz extract", "top_k": 2, "mode": "keyword"})
    assert body["truncated"] is False
    [group] = body["results"]
    assert group["query"] == "tar -xzf archive.tar.gz extract"
    assert 1 <= len(group["results"]) <= 2
    best = group["results"][0]
    assert best["path"] == "tar.md"
    assert best["title"] == "Tar" and best["heading"] == "Tar > Extract"
    assert "tar -xzf" in best["text"]
    assert best["lines"][0] <= best["lines"][1]
    meta = best["metadata"]
    assert meta["source"] == "file"
    assert meta["source_id"] == "tar.md"
    assert meta["document_id"] == best["note_id"]
    assert meta["url"].startswith(f"{api.url}/open/{best['note_id']}.")  # opens on this computer
    assert meta["created_at"] == best["modified_at"]
    scores = [r["score"] for r in group["results"]]
    assert scores == sorted(scores, reverse=True)


def test_several_queries_and_filters(api: Api) -> None:
    body = query(
        api,
        {"query": "squash commits", "top_k": 3, "filter": {"source_id": "sub/"}},
        {"query": "flour", "filter": {"tags": ["baking"]}, "mode": "keyword"},
        {"query": "tar", "filter": {"start_date": "2000-01-01", "end_date": "2999-12-31T00:00:00Z"}},
    )
    first, second, third = body["results"]
    assert {r["path"] for r in first["results"]} == {"sub/git.md"}
    assert [r["path"] for r in second["results"]] == ["bread.md"]
    assert third["results"]
    note_id = third["results"][0]["note_id"]
    only = query(api, {"query": "zebra tar", "filter": {"document_id": note_id}})
    assert {r["note_id"] for r in only["results"][0]["results"]} == {note_id}


def test_get_note_returns_the_whole_note(api: Api) -> None:
    hit = query(api, {"query": "sourdough starter", "mode": "keyword"})["results"][0]["results"][0]
    with api.client() as client:
        note = client.get(f"/notes/{hit['note_id']}").json()
    assert note["id"] == hit["note_id"]
    assert note["path"] == "bread.md"
    assert "Feed the starter" in note["text"]
    assert note["truncated"] is False and "next_offset" not in note
    assert note["total_chars"] == len(note["text"])


def test_chinese_note_round_trips(api: Api) -> None:
    hit = query(api, {"query": "周六去爬山", "mode": "keyword"})["results"][0]["results"][0]
    assert hit["path"] == "zh/笔记.md"
    with api.client() as client:
        assert "周日在家读书" in client.get(f"/notes/{hit['note_id']}").json()["text"]


@pytest.mark.parametrize(
    "payload, status, needle",
    [
        (b"not json", 400, "must be JSON"),
        (b"{}", 422, "queries"),
        (json.dumps({"queries": []}).encode(), 422, "queries"),
        (json.dumps({"queries": [{"query": "x", "top_k": 0}]}).encode(), 422, "top_k"),
        (json.dumps({"queries": [{"query": "   "}]}).encode(), 422, "query"),
        (json.dumps({"queries": [{"query": "x", "filter": {"start_date": "soon"}}]}).encode(), 422, "date"),
        (json.dumps({"queries": [{"query": "x", "filter": {"path": "/etc"}}]}).encode(), 422, "path"),
        (json.dumps({"queries": [{"query": "x", "mode": "magic"}]}).encode(), 422, "mode"),
        (json.dumps({"queries": "tar"}).encode(), 422, "queries"),
    ],
)
def test_bad_queries_get_clear_json_errors(api: Api, payload: bytes, status: int, needle: str) -> None:
    with api.client() as client:
        response = client.post("/query", content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert needle in error["message"] and error["code"]
    assert "Traceback" not in response.text


def test_unknown_note_and_route_and_method(api: Api) -> None:
    with api.client() as client:
        missing = client.get("/notes/0123456789abcdef0123")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        assert client.get("/nothing-here").status_code == 404
        wrong = client.delete("/query")
        assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
        bad_offset = client.get("/notes/0123456789abcdef0123", params={"offset": "-1"})
        assert bad_offset.status_code == 422


TRAVERSALS = [
    "/notes/..%2F..%2F..%2Fetc%2Fpasswd",
    "/notes/%2e%2e%2f%2e%2e%2foutside%2fsecret.md",
    "/notes/..%5C..%5Coutside%5Csecret.md",
    "/notes/%252e%252e%252fsecret.md",
    "/notes/../outside/secret.md",
    "/notes/..",
    "/notes/link.md",
    "/notes/linkdir%2Fsecret.md",
    "/notes/secret",
    "/notes/%00",
    "/notes/" + "a" * 129,
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_notes_cannot_name_a_file(api: Api, notes_tree, path: str) -> None:
    status, _, body = raw_request(api.url, f"GET {path} HTTP/1.1", {"Authorization": f"Bearer {TOKEN}"})
    assert status in (400, 404, 422), (path, status)
    assert SENTINEL.encode() not in body and b"root:" not in body
    assert json.loads(body)["error"]["code"]


def test_absolute_paths_are_not_note_ids(api: Api, notes_tree) -> None:
    secret = notes_tree / "outside" / "secret.md"
    for candidate in (str(secret), str(notes_tree / "notes" / "tar.md")):
        path = "/notes/" + urllib.parse.quote(candidate, safe="")
        status, _, body = raw_request(api.url, f"GET {path} HTTP/1.1", {"Authorization": f"Bearer {TOKEN}"})
        assert status in (404, 422) and SENTINEL.encode() not in body


def test_symlinks_out_of_the_folder_are_never_served(api: Api) -> None:
    body = query(api, {"query": SENTINEL, "top_k": 20}, {"query": "secret zebra tar", "top_k": 20})
    text = json.dumps([group["results"] for group in body["results"]])
    assert SENTINEL not in text
    paths = {r["path"] for group in body["results"] for r in group["results"]}
    assert paths <= set(NOTES)
    with api.client() as client:
        for note_id in {r["note_id"] for group in body["results"] for r in group["results"]}:
            assert SENTINEL not in client.get(f"/notes/{note_id}").text


def test_cors_only_for_chatgpt(api: Api) -> None:
    with api.client() as client:
        for origin in ("https://chat.openai.com", "https://chatgpt.com"):
            allowed = client.options(
                "/query",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "authorization,content-type"},
            )
            assert allowed.status_code == 200
            assert allowed.headers["access-control-allow-origin"] == origin
        evil = client.options(
            "/query", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert evil.status_code == 403
        assert "access-control-allow-origin" not in evil.headers
        simple = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


class BrokenIndex:
    """The index failing as a real one can (database gone): a typed indexer error."""

    def search(self, *args: object, **kwargs: object) -> list:
        from notewell.indexer.errors import StoreError

        raise StoreError("catalog.sqlite3 is locked by /home/someone/secret-path")

    get_note = search


def test_index_failures_are_503_without_details(start_api) -> None:
    api = start_api(notes=BrokenIndex())
    with api.client() as client:
        for response in (
            client.post("/query", json={"queries": [{"query": "tar"}]}),
            client.get("/notes/0123456789abcdef0123"),
        ):
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "unavailable"
            assert "secret-path" not in response.text and "Traceback" not in response.text


def test_query_scores_are_the_searchs_own(api: Api, index) -> None:
    """The API passes on the same absolute scores the app shows; a nonsense query scores nothing."""
    body = query(api, {"query": "extract a tar archive", "top_k": 3}, {"query": "xyzzyqq plugh", "top_k": 3,
                                                                          "mode": "keyword"})
    real, nonsense = body["results"]
    expected = [(r.id, round(r.score, 6)) for r in index.search("extract a tar archive", k=3)]
    assert [(r["id"], r["score"]) for r in real["results"]] == expected
    assert all(0.0 <= r["score"] <= 1.0 for r in real["results"])
    assert [r["score"] for r in nonsense["results"]] in ([], [0.0] * len(nonsense["results"]))
