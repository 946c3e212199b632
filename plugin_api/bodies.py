"""Request bodies, read whole by the guard before any endpoint sees them (issue 15).

Bodies are small (`Limits.max_body_bytes`, 64 KB), so reading them up front costs
nothing and settles three things in one place, for our endpoints and the MCP SDK's:

* a body over the limit is a 413, whether it declared its length or not;
* a client that leaves mid-body is simply gone (no endpoint runs, nothing is logged
  as an error);
* JSON nested deeper than `MAX_JSON_DEPTH` is a 400 before a parser recurses into it.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope

from .errors import BadRequest, PayloadTooLarge

MAX_JSON_DEPTH = 32  # the deepest real body (an MCP tool call with filters) is about 6
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_OPENING = frozenset(b"[{")


class Abandoned(Exception):
    """The client disconnected before sending the whole body."""


def declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than {max_bytes // 1024} KB; send fewer or shorter queries."
    )


async def read_body(receive: Receive, max_bytes: int) -> bytes:
    """The whole body; raises PayloadTooLarge past `max_bytes`, Abandoned on a disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Abandoned
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def check_json_depth(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise BadRequest if the brackets outside strings nest deeper than `max_depth`."""
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKET):
        depth += 1 if byte in _OPENING else -1
        if depth > max_depth:
            raise BadRequest(
                f"The JSON body is nested more than {max_depth} levels deep; send a flat body like "
                '{"queries": [{"query": "..."}]}.'
            )


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` once, then waits on the real one (for the disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
