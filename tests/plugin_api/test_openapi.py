from __future__ import annotations

import httpx
import pytest
import yaml
from openapi_spec_validator import validate

from notewell.plugin_api.endpoints import OPERATIONS
from notewell.plugin_api.openapi import MAX_DOC_CHARS, doc_strings, downgrade_schema
from tests.plugin_api.conftest import Api, StartApi

PUBLIC = "https://notes.example.com"


@pytest.fixture
def specs(start_api: StartApi) -> dict[str, dict]:
    api = start_api(public_url=lambda: PUBLIC)
    via_tunnel = {"Host": "notes.example.com", "X-Forwarded-For": "203.0.113.5"}  # local ones see local URLs
    with httpx.Client(base_url=api.url, headers=via_tunnel) as client:
        yaml_spec = yaml.safe_load(client.get("/openapi.yaml").text)
        json_spec = client.get("/openapi.json").json()
    return {"3.0.1": yaml_spec, "3.1.0": json_spec}


def test_both_specs_are_valid(specs: dict[str, dict]) -> None:
    for version, spec in specs.items():
        assert spec["openapi"] == version
        validate(spec)


def test_specs_are_ready_for_a_gpt_action(specs: dict[str, dict]) -> None:
    for spec in specs.values():
        assert spec["servers"][0]["url"] == PUBLIC
        assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
        operations = [op for path in spec["paths"].values() for op in path.values()]
        assert {op["operationId"] for op in operations} == {"queryNotes", "getNote"}
        assert all(op["security"] == [{"bearerAuth": []}] for op in operations)
        for where, text in doc_strings(spec):
            assert len(text) <= MAX_DOC_CHARS, where


def test_the_spec_is_generated_from_the_routes(api: Api) -> None:
    spec = httpx.get(f"{api.url}/openapi.json").json()
    assert sorted(spec["paths"]) == sorted(op.path for op in OPERATIONS)
    routes = {getattr(r, "path", None) for r in api.server.app.routes}  # type: ignore[attr-defined]
    assert {op.path for op in OPERATIONS} <= routes
    assert spec["servers"][0]["url"] == api.url  # no public URL: the request's origin


def test_limits_in_the_spec_are_the_enforced_ones(specs: dict[str, dict]) -> None:
    query = specs["3.1.0"]["components"]["schemas"]["Query"]["properties"]
    assert query["query"]["maxLength"] == 1000 and query["top_k"]["maximum"] == 20
    request = specs["3.1.0"]["components"]["schemas"]["QueryRequest"]["properties"]
    assert request["queries"]["maxItems"] == 5


def test_nullable_is_downgraded_for_3_0(specs: dict[str, dict]) -> None:
    author_30 = specs["3.0.1"]["components"]["schemas"]["ChunkMetadata"]["properties"]["author"]
    author_31 = specs["3.1.0"]["components"]["schemas"]["ChunkMetadata"]["properties"]["author"]
    assert author_30 == {"type": "string", "nullable": True}
    assert author_31 == {"type": ["string", "null"]}
    assert downgrade_schema({"items": {"type": ["integer", "null"]}}) == {
        "items": {"type": "integer", "nullable": True}
    }


def test_with_an_inbox_the_spec_offers_saving_as_consequential(index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: POST /notes is described only when there is an inbox, and ChatGPT asks first."""
    from notewell.plugin_api.app import ApiConfig, create_app
    from notewell.plugin_api.save_consent import SaveApprovals, TrustedSavers
    from notewell.plugin_api.saving import NoteSaver
    from notewell.plugin_api.server import ApiServer
    from tests.plugin_api.conftest import TOKEN

    saver = NoteSaver(tmp_path, SaveApprovals(TrustedSavers(None), ask=lambda: False), lambda p: ("id", p.name))
    server = ApiServer(create_app(index, ApiConfig(), token=lambda: TOKEN, saver=saver), port=0)
    server.start()
    try:
        specs = {"3.0.1": yaml.safe_load(httpx.get(f"{server.url}/openapi.yaml").text),
                 "3.1.0": httpx.get(f"{server.url}/openapi.json").json()}
    finally:
        server.stop()
    for spec in specs.values():
        validate(spec)
        save = spec["paths"]["/notes"]["post"]
        assert save["x-openai-isConsequential"] is True and save["operationId"] == "saveNote"
        assert "403" in save["responses"] and save["security"] == [{"bearerAuth": []}]
        reads = [op for path in spec["paths"].values() for op in path.values() if op["operationId"] != "saveNote"]
        assert all(op["x-openai-isConsequential"] is False for op in reads)
        for where, text in doc_strings(spec):
            assert len(text) <= MAX_DOC_CHARS, where
        body = spec["components"]["schemas"]["SaveNoteRequest"]["properties"]
        assert body["title"]["maxLength"] == 1000 and body["text"]["maxLength"] == 50_000
