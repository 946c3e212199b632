"""/openapi.json imports cleanly as a custom GPT Action (issue 7)."""

from __future__ import annotations

import re

import httpx
from openapi_spec_validator import validate

from notewell.plugin_api.openapi import doc_strings
from tests.plugin_api.conftest import StartApi

PUBLIC = "https://notes.example.com"
VIA_TUNNEL = {"Host": "notes.example.com", "X-Forwarded-For": "203.0.113.5"}  # local requests see local URLs
ACTION_DOC_CHARS = 300  # what the GPT editor accepts per summary/description
MAX_OPERATIONS = 30


def test_the_json_spec_is_an_importable_action(start_api: StartApi) -> None:
    api = start_api(public_url=lambda: PUBLIC)
    spec = httpx.get(api.url + "/openapi.json", headers=VIA_TUNNEL).json()
    validate(spec)
    assert spec["openapi"].startswith("3.1") and spec["servers"] == [{"url": PUBLIC}]
    operations = [
        (method, op) for path in spec["paths"].values() for method, op in path.items()
    ]
    assert 0 < len(operations) <= MAX_OPERATIONS
    for method, op in operations:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", op["operationId"])
        # Reads never make ChatGPT stop and ask "Allow?" (POST /query included).
        assert op["x-openai-isConsequential"] is False, op["operationId"]
        assert op["security"] == [{"bearerAuth": []}]  # Authentication: API Key, Bearer
    assert spec["components"]["securitySchemes"] == {"bearerAuth": {"type": "http", "scheme": "bearer"}}
    assert spec["info"]["description"] and len(spec["info"]["description"]) <= ACTION_DOC_CHARS
    for where, text in doc_strings(spec):
        assert len(text) <= ACTION_DOC_CHARS, where
    assert "/mcp" not in spec["paths"]  # MCP clients discover tools over MCP, not here
