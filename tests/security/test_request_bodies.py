"""Issue 15: 500-deep JSON gave a 500; a body the client abandoned was logged as an
error with a traceback."""

from __future__ import annotations

import logging
import socket

import pytest

from tests.helpers import wait_until
from tests.security.conftest import TOKEN, Serve
from tests.security.oauth_client import MCP_ACCEPT


def nested(depth: int) -> str:
    return '{"queries": ' + "[" * depth + "]" * depth + "}"


def test_deeply_nested_json_is_a_400_everywhere(serve: Serve) -> None:
    served = serve()
    body = nested(500)
    with served.keyed() as http:
        for path, headers in (("/query", {}), ("/mcp", {"Accept": MCP_ACCEPT}), ("/register", {})):
            answer = http.post(path, content=body, headers={"Content-Type": "application/json", **headers})
            assert answer.status_code == 400, (path, answer.status_code, answer.text[:200])
        query = http.post("/query", content=body, headers={"Content-Type": "application/json"}).json()
        assert query["error"]["code"] == "bad_request" and "nested" in query["error"]["message"]
        fine = http.post("/query", json={"queries": [{"query": "sourdough", "filter": {"tags": ["a"]}}]})
        assert fine.status_code == 200  # ordinary bodies are still read


def test_an_abandoned_body_is_not_an_error(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    served = serve()
    host, port = served.host.split(":")
    caplog.set_level(logging.INFO)
    for path in ("/query", "/mcp", "/register"):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {served.host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                          f"Accept: {MCP_ACCEPT}\r\nContent-Type: application/json\r\n"
                          "Content-Length: 5000\r\n\r\n" + '{"queries": [').encode())
    with served.keyed() as http:  # the server is fine, and has finished with the three
        assert http.get("/healthz").status_code == 200
    assert wait_until(lambda: len(served.server._server.server_state.tasks) == 0)  # type: ignore[union-attr]
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]
