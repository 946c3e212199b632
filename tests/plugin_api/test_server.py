from __future__ import annotations

import socket

import httpx
import pytest

from notewell.plugin_api.server import ApiServer, PortInUse, ServerError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


def hello(text: str) -> Starlette:
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse(text))])


def test_start_stop_restart() -> None:
    server = ApiServer(hello("one"), port=0)
    server.start()
    try:
        assert server.running
        assert httpx.get(server.url).text == "one"
        port = server.port
        server.restart(app=hello("two"))
        assert server.port == port
        assert httpx.get(server.url).text == "two"
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/")


def test_port_in_use_says_which_port_and_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse) as error:
            ApiServer(hello("x"), port=port).start()
    message = str(error.value)
    assert str(port) in message and "--port" in message


def test_unusable_address_is_a_clear_error() -> None:
    with pytest.raises(ServerError, match="Cannot listen on 203.0.113.1"):
        ApiServer(hello("x"), host="203.0.113.1", port=0).start()
