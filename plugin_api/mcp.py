"""/mcp: an MCP streamable-HTTP server (official `mcp` SDK) with `search` and `fetch` (issue 7).

    endpoint = McpEndpoint(notes, limits, public_url)
    create_app(..., extra_routes=[endpoint.route()], lifespan=endpoint.lifespan)

The tools return exactly the shapes OpenAI documents for ChatGPT connectors and
deep research: one text content holding JSON, `{"results": [{"id", "title",
"url"}]}` for `search` and `{"id", "title", "text", "url", "metadata"}` for
`fetch`. An `id` is a note_id, so `fetch` returns the whole note (cut to the
response limit; `offset` reads on). Both are read-only.

Stateless JSON mode: every POST is answered on its own, so a restarted server or
a tunnel that drops idle streams never strands a client's session. The route
sits behind `guard.RequestGuard` (access table, Host/Origin, rate limit, body
limit, activity log);
tools put what they read into `request.state` for the log.
"""

# No `from __future__ import annotations`: the SDK evaluates the tools' annotations, which use locals.

import json
import logging
import re
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, AsyncIterator, Callable, Iterator, Literal

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from notewell.indexer.errors import IndexerError
from notewell.indexer.types import NoteContent, SearchFilters, SearchResult

from .access import WRITE_SCOPE
from .auth import Caller
from .endpoints import note_payload, saved_title, titles_of
from .errors import ApiError
from .limits import Limits, cut_to_fit, json_chars
from .notes import NotesReader
from .open_links import NoteUrl, OpenLinks, process_links
from .saving import NoteSaver
from .openapi import parse_date
from .schemas import MAX_OFFSET, NOTE_ID_PATTERN
from .tunnel import MCP_PATH

PublicUrl = Callable[[], "str | None"]
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
# A save adds a new file and changes none: not read-only, not destructive, not idempotent.
SAVES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
SAVE_DESCRIPTION = (
    "Save a new Markdown note to the user's inbox folder, only when they ask you to. The user "
    'is asked to allow it; never changes an existing note. Returns {"id", "path"}.'
)
INSTRUCTIONS = (
    "Notewell searches and reads the user's own notes on their computer. Call `search` with "
    "a natural-language query, then `fetch` with a result's id to read the whole note."
)
SAVE_INSTRUCTIONS = (
    " When the user asks you to save something to their notes, call `save_note`; Notewell asks "
    "them to allow each save."
)
SEARCH_DESCRIPTION = (
    "Search the user's notes (Markdown, text, HTML, PDF) by meaning and keywords. Returns "
    '{"results": [{"id", "title", "url"}]}, best first; pass an id to `fetch` to read that note.'
)
FETCH_DESCRIPTION = (
    'Read one whole note by the id from `search`. Returns {"id", "title", "text", "url", '
    '"metadata"}; a long note is cut, and metadata.next_offset tells where to read on.'
)
CANDIDATES_PER_RESULT = 3  # chunks asked of the index per note returned (results are per note)
SLACK = 200


class McpEndpoint:
    """The /mcp ASGI app; a fresh session manager per server run (restart-safe)."""

    def __init__(
        self,
        notes: NotesReader,
        limits: Limits,
        public_url: PublicUrl,
        *,
        version: str = "0.1.0",
        saver: NoteSaver | None = None,
        links: OpenLinks | None = None,
    ) -> None:
        # `public_url` is no longer read: a result's url opens on this computer (open_links).
        self.server = build_server(notes, limits, links or process_links(), version, saver)
        self.limits = limits
        self._manager: StreamableHTTPSessionManager | None = None

    def route(self) -> Route:
        # POST only: in stateless JSON mode a GET would open an event stream that nothing
        # ever writes to (issue 15); the spec lets a server answer it 405.
        return Route(MCP_PATH, endpoint=self, methods=["POST"])

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        manager = StreamableHTTPSessionManager(
            app=self.server._lowlevel_server,  # what MCPServer.streamable_http_app() passes too
            json_response=True,
            stateless=True,
            # Host/Origin are checked by the guard (`access` row checks_host), following the
            # tunnel's URL; the SDK's fixed lists would answer 421 to every request through it.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            max_request_body_size=self.limits.max_body_bytes,
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._manager is None:
            raise RuntimeError("/mcp is not running: pass McpEndpoint.lifespan to create_app(lifespan=...).")
        await self._manager.handle_request(scope, receive, send)


def build_server(notes: NotesReader, limits: Limits, links: OpenLinks, version: str,
                 saver: NoteSaver | None = None) -> MCPServer:
    with _root_logging_untouched():
        server: MCPServer = MCPServer(
            "notewell",
            title="Notewell",
            instructions=INSTRUCTIONS + (SAVE_INSTRUCTIONS if saver is not None else ""),
            version=version,
            middleware=[_log_method],
        )

    async def search(
        query: Annotated[str, Field(description="What to look for, in words.", min_length=1,
                                    max_length=limits.max_query_chars)],
        ctx: Context,
        top_k: Annotated[int, Field(description="How many notes to return.", ge=1,
                                    le=limits.max_top_k)] = 8,
        mode: Annotated[Literal["hybrid", "dense", "keyword"],
                        Field(description="hybrid (default), dense (meaning) or keyword.")] = "hybrid",
        folder: Annotated[str | None, Field(description="Only notes in this notes folder (absolute path).",
                                            max_length=4096)] = None,
        path_prefix: Annotated[str | None, Field(description="Only notes whose path starts with this.",
                                                 max_length=1000)] = None,
        start_date: Annotated[str | None, Field(description="Modified on or after (YYYY-MM-DD).")] = None,
        end_date: Annotated[str | None, Field(description="Modified on or before (YYYY-MM-DD).")] = None,
        tags: Annotated[list[str] | None, Field(description="Notes carrying all these tags.",
                                                max_length=20)] = None,
    ) -> CallToolResult:
        filters = SearchFilters(
            folder=folder,
            path_prefix=path_prefix,
            start_date=_date(start_date, "start_date"),
            end_date=_date(end_date, "end_date"),
            tags=tuple(tags or ()),
        )
        state = _state(ctx)
        state["queries"] = (query,)
        found = await anyio.to_thread.run_sync(
            _search, notes, query, top_k * CANDIDATES_PER_RESULT, mode,
            None if filters.is_empty() else filters,
        )
        results = search_results(found, top_k, _note_url(ctx, links), limits.max_response_chars)
        state["result_count"] = len(results)
        shown = {result["id"] for result in results}
        state["titles"] = titles_of(r for r in found if r.note_id in shown)
        return _text({"results": results}, structured=True)

    async def fetch(
        id: Annotated[str, Field(description="A result id from `search`.", pattern=NOTE_ID_PATTERN)],
        ctx: Context,
        offset: Annotated[int, Field(description="Character to start from (metadata.next_offset).",
                                     ge=0, le=MAX_OFFSET)] = 0,
    ) -> CallToolResult:
        state = _state(ctx)
        state["note_id"] = id
        note = await anyio.to_thread.run_sync(_get_note, notes, id)
        if note is None:
            raise ToolError(f"There is no note {id}; it may have been moved or deleted. Search again.")
        document = fetch_document(note, offset, _note_url(ctx, links), limits.max_response_chars)
        state["result_count"] = 1
        state["titles"] = titles_of([note])
        state["truncated"] = document["metadata"]["truncated"]
        return _text(document)

    server.add_tool(search, title="Search notes", description=SEARCH_DESCRIPTION,
                    annotations=READ_ONLY, structured_output=False)
    server.add_tool(fetch, title="Read a note", description=FETCH_DESCRIPTION,
                    annotations=READ_ONLY, structured_output=False)
    if saver is not None:
        add_save_tool(server, saver, limits)
    return server


def add_save_tool(server: MCPServer, saver: NoteSaver, limits: Limits) -> None:
    """`save_note`: only on a server with an inbox (issue 18)."""

    async def save_note(
        title: Annotated[str, Field(description="The note's title; its file name is made from it.",
                                    max_length=limits.max_title_chars)],
        text: Annotated[str, Field(description="The note, in Markdown.", min_length=1,
                                   max_length=limits.max_note_chars)],
        ctx: Context,
        tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]] | None,
                        Field(description="Tags for the note.", max_length=20)] = None,
    ) -> CallToolResult:
        if not text.strip():
            raise ToolError("The note's text is empty: give the text to save.")
        state = _state(ctx)
        state["titles"] = saved_title(title)
        caller = state.get("caller")
        if not isinstance(caller, Caller):
            raise ToolError("Saving needs a caller; this request has none.")
        if caller.scopes is not None and WRITE_SCOPE not in caller.scopes:
            state["outcome"] = "insufficient_scope"
            raise ToolError(f"insufficient_scope: saving needs the OAuth scope {WRITE_SCOPE!r}, which this "
                            "client was not given. Connect it again and allow saving, or use the API key.")
        try:
            saved = await saver.save(caller, title, text, tags or (), source=str(state.get("client") or ""))
        except ApiError as exc:
            state["outcome"] = exc.code
            raise ToolError(exc.message) from None
        state["note_id"] = saved.id
        state["saved_path"] = str(saved.file)
        return _text({"id": saved.id, "path": saved.path})

    server.add_tool(save_note, title="Save a note", description=SAVE_DESCRIPTION,
                    annotations=SAVES, structured_output=False)


def search_results(
    found: list[SearchResult], top_k: int, note_url: NoteUrl, max_chars: int
) -> list[dict[str, str]]:
    """One result per note, best passage first, within the response limit."""
    results: list[dict[str, str]] = []
    seen: set[str] = set()
    for result in found:
        if result.note_id in seen:
            continue
        seen.add(result.note_id)
        results.append({"id": result.note_id, "title": _clip(result.title), "url": note_url(result.note_id)})
        if len(results) == top_k:
            break
    while results and json_chars({"results": results}) > max_chars - SLACK:
        results.pop()
    return results


def fetch_document(note: NoteContent, offset: int, note_url: NoteUrl, max_chars: int) -> dict[str, Any]:
    """The note from `offset`, cut so the JSON-RPC body (JSON text inside JSON) fits `max_chars`."""
    budget = max_chars - 2 * SLACK  # room for url and metadata keys
    while True:
        document = _document(note, offset, note_url, budget)
        over = json_chars(json.dumps(document, ensure_ascii=False)) - (max_chars - SLACK)
        if over <= 0 or budget <= 0:
            return document
        budget -= over  # escapes (\n, \") count twice on the wire


def _document(note: NoteContent, offset: int, note_url: NoteUrl, budget: int) -> dict[str, Any]:
    page = note_payload(note, offset, budget)
    metadata: dict[str, Any] = {
        "path": note.path,
        "folder": note.folder,
        "modified_at": note.modified_at,
        "tags": list(note.tags),
        "offset": page["offset"],
        "total_chars": page["total_chars"],
        "truncated": page["truncated"],
    }
    if "next_offset" in page:
        metadata["next_offset"] = page["next_offset"]
    return {
        "id": note.note_id,
        "title": page["title"],
        "text": page["text"],
        "url": note_url(note.note_id),
        "metadata": metadata,
    }


@contextmanager
def _root_logging_untouched() -> Iterator[None]:
    # Trigger: MCPServer() calls logging.basicConfig(INFO) with a stderr handler. Why: with
    # no handler yet (tests, a library caller) every INFO line, ngrok's raw ones included,
    # would reach the terminal. Outcome: the entry points alone configure logging.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def _log_method(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Name the JSON-RPC method (and tool) in the activity log's endpoint column."""
    request = ctx.request
    if isinstance(request, Request):
        name = (ctx.params or {}).get("name") if ctx.method == "tools/call" else None
        request.state.endpoint = f"{MCP_PATH} {name or ctx.method}"
    return await call_next(ctx)


def _state(ctx: Context) -> dict[str, Any]:
    request = ctx.request_context.request
    if isinstance(request, Request):
        return request.scope.setdefault("state", {})
    return {}


def _note_url(ctx: Context, links: OpenLinks) -> NoteUrl:
    request = ctx.request_context.request
    scope = request.scope if isinstance(request, Request) else {}
    return lambda note_id: links.url(scope, note_id)


def _date(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    parsed = parse_date(value)
    if parsed is None or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].*)?", value):
        raise ToolError(f"{name} must be a date like 2024-05-31 (or an ISO 8601 date-time).")
    return value if 1971 <= parsed.year <= 9998 else ("1971-01-01" if parsed.year < 1971 else "9998-12-31")


def _search(
    notes: NotesReader, query: str, k: int, mode: str, filters: SearchFilters | None
) -> list[SearchResult]:
    try:
        return notes.search(query, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
    except IndexerError as exc:
        raise _unavailable() from exc


def _get_note(notes: NotesReader, note_id: str) -> NoteContent | None:
    try:
        return notes.get_note(note_id)
    except IndexerError as exc:
        raise _unavailable() from exc


def _unavailable() -> ToolError:
    return ToolError(
        "The notes index cannot answer right now; the person running Notewell can see why "
        "in the app. Try again later."
    )


def _text(payload: dict[str, Any], *, structured: bool = False) -> CallToolResult:
    # OpenAI's connector docs show search results also as structuredContent. Not for fetch:
    # the note's text twice would double a response that is already cut to the size limit.
    text = json.dumps(payload, ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=payload if structured else None)


def _clip(label: str, limit: int = 500) -> str:
    return label if len(label) <= limit else cut_to_fit(label, limit - 1) + "…"
