"""The authenticated endpoints, `POST /query` and `GET /notes/{note_id}`.

Each is declared once as an `openapi.Operation`; `app.py` turns the declarations
into routes and the spec. Responses are shaped to fit `Limits.max_response_chars`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from notewell.indexer.errors import IndexerError
from notewell.indexer.types import NoteContent, SearchFilters, SearchResult

from .errors import BadRequest, NotFound, ServiceUnavailable
from .limits import Limits, cut_to_fit, json_chars, share_budget
from .notes import NotesReader
from .open_links import NoteUrl, OpenLinks
from .openapi import BodyValidator, Operation, Parameter, parse_date, parse_parameters
from .saving import NoteSaver, no_inbox
from .schemas import MAX_OFFSET, NOTE_ID_PATTERN

FIRST_YEAR, LAST_YEAR = 1971, 9998
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
log = logging.getLogger("notewell.api")
SLACK = 200  # characters kept free under the response cap, for rounding and headers
MAX_LABEL = 500  # titles and headings come from the file (a one-line file is all title)

QUERY = Operation(
    method="POST",
    path="/query",
    operation_id="queryNotes",
    summary="Search the user's notes",
    description=(
        "Runs up to 5 searches over the user's notes and returns the best passages for each, "
        "with title, path, heading, lines and a similarity score (higher is better)."
    ),
    request_schema="QueryRequest",
    response_schema="QueryResponse",
    errors=(400, 401, 413, 422, 429, 503),
)
GET_NOTE = Operation(
    method="GET",
    path="/notes/{note_id}",
    operation_id="getNote",
    summary="Read one whole note",
    description=(
        "Returns the note with this note_id (from a query result). A long note is cut to fit; "
        "call again with offset=next_offset to read on."
    ),
    parameters=(
        Parameter(
            "note_id",
            "path",
            {"type": "string", "pattern": NOTE_ID_PATTERN, "maxLength": 128},
            "The note_id of a query result.",
            required=True,
        ),
        Parameter(
            "offset",
            "query",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            "Character offset to start from (next_offset of the previous page).",
        ),
    ),
    response_schema="Note",
    errors=(401, 404, 422, 429, 503),
)
SAVE_NOTE = Operation(
    method="POST",
    path="/notes",
    operation_id="saveNote",
    summary="Save a new note to the user's inbox",
    description=(
        "Saves a new Markdown note in the inbox folder the user chose, after the user allows it. "
        "Never changes an existing note. Only when the user asks you to save something."
    ),
    request_schema="SaveNoteRequest",
    response_schema="SavedNote",
    errors=(400, 401, 403, 409, 413, 422, 429, 503),
    consequential=True,  # ChatGPT asks the user before every call
)
OPERATIONS = [QUERY, GET_NOTE]  # always in the spec; SAVE_NOTE only when an inbox is set

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class ParsedQuery:
    query: str
    top_k: int
    mode: str
    filters: SearchFilters | None


def make_endpoints(
    notes: NotesReader,
    limits: Limits,
    validator: BodyValidator,
    public_url: Callable[[], str | None],
    links: OpenLinks,
    saver: NoteSaver | None = None,
) -> dict[str, Endpoint]:
    async def query(request: Request) -> Response:
        try:
            body = scrub(json.loads(await request.body()))
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(
                'The body must be JSON like {"queries": [{"query": "...", "top_k": 3}]}.'
            ) from None
        validator.validate(QUERY.request_schema or "", body)
        parsed = [parse_query(item) for item in body["queries"]]
        request.state.queries = tuple(p.query for p in parsed)  # logged even if search fails
        found = await run_in_threadpool(_search_all, notes, parsed)
        request.state.result_count = sum(len(results) for results in found)
        request.state.titles = titles_of(r for results in found for r in results)
        payload = query_payload(parsed, found, lambda note_id: links.url(request.scope, note_id),
                                limits.max_response_chars)
        request.state.truncated = payload["truncated"]
        return JSONResponse(payload)

    async def get_note(request: Request) -> Response:
        params = parse_parameters(GET_NOTE, request.path_params, request.query_params)
        note_id = params["note_id"]
        request.state.note_id = note_id
        note = await run_in_threadpool(_get_note, notes, note_id)
        if note is None:
            raise NotFound(f"There is no note {note_id}; it may have been moved or deleted. Search again.")
        payload = note_payload(note, params["offset"], limits.max_response_chars)
        request.state.result_count = 1
        request.state.titles = titles_of([note])
        request.state.truncated = payload["truncated"]
        return JSONResponse(payload)

    async def save_note(request: Request) -> Response:
        if saver is None:
            raise no_inbox()
        try:
            body = scrub(json.loads(await request.body()))
        except (ValueError, UnicodeDecodeError):
            raise BadRequest('The body must be JSON like {"title": "...", "text": "...", "tags": ["..."]}.') from None
        validator.validate(SAVE_NOTE.request_schema or "", body)
        request.state.titles = saved_title(body["title"])
        saved = await saver.save(request.state.caller, body["title"], body["text"], body.get("tags", ()),
                                 source=str(getattr(request.state, "client", "") or ""))
        request.state.note_id = saved.id
        request.state.saved_path = str(saved.file)
        return JSONResponse({"id": saved.id, "path": saved.path})

    return {QUERY.operation_id: query, GET_NOTE.operation_id: get_note, SAVE_NOTE.operation_id: save_note}


def saved_title(title: str) -> tuple[str, ...]:
    """A saved note's title, for the activity record."""
    return (_clip(title.strip() or "(untitled)", 200),)


def titles_of(found: Iterable[SearchResult | NoteContent], limit: int = 20) -> tuple[str, ...]:
    """The distinct note titles in `found`, for the activity record."""
    titles: dict[str, None] = {}
    for result in found:
        titles.setdefault(_clip(result.title, 200), None)
        if len(titles) == limit:
            break
    return tuple(titles)


def parse_query(item: dict[str, Any]) -> ParsedQuery:
    """One validated query item → search arguments."""
    raw = item.get("filter") or {}
    filters = SearchFilters(
        folder=raw.get("folder"),
        path_prefix=raw.get("source_id"),
        note_id=raw.get("document_id"),
        start_date=_file_time(raw.get("start_date")),
        end_date=_file_time(raw.get("end_date")),
        tags=tuple(raw.get("tags", ())),
    )
    return ParsedQuery(
        query=item["query"],
        top_k=int(item.get("top_k", 3)),  # JSON Schema counts 12.0 as an integer
        mode=item.get("mode", "hybrid"),
        filters=None if filters.is_empty() else filters,
    )


def _file_time(value: str | None) -> str | None:
    # Trigger: dates like 0001-01-01 pass the schema but overflow timestamps.
    # Why: no file was modified outside these years. Outcome: clamp, same meaning.
    parsed = parse_date(value) if value else None
    if parsed is None:
        return value
    if parsed.year < FIRST_YEAR:
        return f"{FIRST_YEAR}-01-01"
    if parsed.year > LAST_YEAR:
        return f"{LAST_YEAR}-12-31"
    return value


def scrub(value: Any) -> Any:
    """Lone surrogates (valid in JSON, not in UTF-8) become U+FFFD, everywhere in the body."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    return value


def _search_all(notes: NotesReader, queries: list[ParsedQuery]) -> list[list[SearchResult]]:
    try:
        return [
            notes.search(q.query, k=q.top_k, mode=q.mode, filters=q.filters)  # type: ignore[arg-type]
            for q in queries
        ]
    except IndexerError as exc:
        raise _unavailable(exc) from exc


def _get_note(notes: NotesReader, note_id: str) -> NoteContent | None:
    try:
        return notes.get_note(note_id)
    except IndexerError as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: IndexerError) -> ServiceUnavailable:
    log.warning("The index could not answer: %s", exc)  # the full reason stays local
    return ServiceUnavailable(
        "The notes index cannot answer right now; the person running Notewell can see why "
        "in the app. Try again later."
    )


def passage(result: SearchResult, note_url: NoteUrl) -> dict[str, Any]:
    data = result.to_dict()
    score = data["score"]
    data["score"] = score if isinstance(score, float) and math.isfinite(score) else 0.0
    data["metadata"] = {
        "source": "file",
        "source_id": result.path,
        "document_id": result.note_id,
        "created_at": result.modified_at,
        "url": note_url(result.note_id),
        "author": None,
    }
    data["title"] = _clip(result.title)
    data["heading"] = _clip(result.heading)
    data["truncated"] = False
    return data


def _clip(label: str, limit: int = MAX_LABEL) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def query_payload(
    queries: list[ParsedQuery],
    found: list[list[SearchResult]],
    note_url: NoteUrl,
    max_chars: int,
) -> dict[str, Any]:
    groups = [
        {"query": q.query, "results": [passage(r, note_url) for r in results]}
        for q, results in zip(queries, found)
    ]
    payload: dict[str, Any] = {"results": groups, "truncated": False}
    if json_chars(payload) <= max_chars - SLACK:
        return payload
    payload["truncated"] = True
    passages = [p for group in groups for p in group["results"]]
    texts = [p["text"] for p in passages]
    for p in passages:
        p["text"] = ""
    # Trigger: titles/headings alone overflow (pathological notes). Outcome: drop passages.
    while passages and json_chars(payload) > max_chars - SLACK:
        for group in reversed(groups):
            if group["results"]:
                group["results"].pop()
                break
        passages.pop()
        texts.pop()
    budget = max_chars - SLACK - json_chars(payload)
    sizes = [json_chars(text) - 2 for text in texts]
    for p, text, cap, size in zip(passages, texts, share_budget(sizes, budget), sizes):
        p["text"] = text if cap >= size else cut_to_fit(text, cap)
        p["truncated"] = cap < size
    return payload


def note_payload(note: NoteContent, offset: int, max_chars: int) -> dict[str, Any]:
    rest = note.text[offset:]
    payload: dict[str, Any] = {
        "id": note.note_id,
        "path": note.path,
        "folder": note.folder,
        "title": _clip(note.title),
        "modified_at": note.modified_at,
        "tags": list(note.tags),
        "offset": min(offset, len(note.text)),
        "total_chars": len(note.text),
        "truncated": False,
        "text": "",
        "next_offset": MAX_OFFSET,  # placeholder of the widest value while measuring
    }
    budget = max_chars - SLACK - json_chars(payload)
    page = cut_to_fit(rest, budget)
    if len(page) < len(rest):
        newline = page.rfind("\n", len(page) * 9 // 10)
        page = page[: newline + 1] if newline > 0 else page
        payload["truncated"] = True
        payload["next_offset"] = payload["offset"] + len(page)
    else:
        del payload["next_offset"]
    payload["text"] = page
    return payload
