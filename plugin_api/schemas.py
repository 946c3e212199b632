"""JSON Schemas of the API's bodies: the one source for the spec and for validation.

Written in the subset shared by OpenAPI 3.0 and 3.1 (JSON Schema 2020-12); the
only 3.1-only construct used, `"type": [T, "null"]`, is rewritten for 3.0 by
`openapi.downgrade_schema`. Request bodies are validated against these very
schemas, so what the spec promises is what the server enforces.
"""

from __future__ import annotations

from typing import Any

from .limits import Limits

Schema = dict[str, Any]

SEARCH_MODES = ["hybrid", "dense", "keyword"]
NOTE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
MAX_OFFSET = 1_000_000_000


# "Something besides white space", spelled out: `\S` means different things to a
# JSON Schema (ECMA-262) validator and to Python's `re` (which also counts \x1c-\x1f
# and \x85 as space), so a client could send a query one side accepts and the other not.
NOT_ONLY_SPACE = r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"


def _string(description: str, max_length: int, **extra: Any) -> Schema:
    return {"type": "string", "description": description, "maxLength": max_length, **extra}


def _date(description: str) -> Schema:
    return {
        "type": "string",
        "description": description,
        "anyOf": [{"format": "date"}, {"format": "date-time"}],
    }


def build_schemas(limits: Limits) -> dict[str, Schema]:
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "description": "Stable machine-readable code."},
                        "message": {"type": "string", "description": "What happened and what to do."},
                    },
                }
            },
        },
        "QueryFilter": {
            "type": "object",
            "description": "Optional restrictions; they combine with AND.",
            "additionalProperties": False,
            "properties": {
                "document_id": _string("Only this note (its note_id).", 128, pattern=NOTE_ID_PATTERN),
                "source": {"type": "string", "enum": ["file"], "description": "Always file."},
                "source_id": _string("Only notes whose path starts with this.", 1000),
                "folder": _string("Only notes in this notes folder (absolute path).", 4096),
                "start_date": _date("Modified on or after this date (or date-time)."),
                "end_date": _date("Modified on or before this date (or date-time)."),
                "tags": {
                    "type": "array",
                    "description": "Only notes carrying all of these tags.",
                    "maxItems": 20,
                    "items": {"type": "string", "maxLength": 200},
                },
            },
        },
        "Query": {
            "type": "object",
            "required": ["query"],
            "additionalProperties": False,
            "properties": {
                "query": _string(
                    "What to look for, in natural language or keywords.",
                    limits.max_query_chars,
                    minLength=1,
                    pattern=NOT_ONLY_SPACE,
                ),
                "filter": {"$ref": "#/components/schemas/QueryFilter"},
                "top_k": {
                    "type": "integer",
                    "description": "How many passages to return.",
                    "minimum": 1,
                    "maximum": limits.max_top_k,
                    "default": 3,
                },
                "mode": {
                    "type": "string",
                    "enum": SEARCH_MODES,
                    "default": "hybrid",
                    "description": "hybrid (default), dense (meaning) or keyword.",
                },
            },
        },
        "QueryRequest": {
            "type": "object",
            "required": ["queries"],
            "additionalProperties": False,
            "properties": {
                "queries": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": limits.max_queries,
                    "items": {"$ref": "#/components/schemas/Query"},
                }
            },
        },
        "ChunkMetadata": {
            "type": "object",
            "required": ["source", "source_id", "document_id", "created_at", "url"],
            "properties": {
                "source": {"type": "string", "description": "Always file."},
                "source_id": {"type": "string", "description": "Path of the note in its folder."},
                "document_id": {"type": "string", "description": "The note_id."},
                "created_at": {"type": "string", "description": "Last modified, ISO 8601."},
                "url": {"type": "string", "description": (
                    "A link to cite: it opens the note for the person who runs Notewell, on their computer "
                    "only. To read the whole note, GET /notes/{document_id}.")},
                "author": {"type": ["string", "null"]},
            },
        },
        "Passage": {
            "type": "object",
            "required": [
                "id", "text", "metadata", "score", "note_id", "path", "title", "heading",
                "lines", "modified_at", "truncated",
            ],
            "properties": {
                "id": {"type": "string", "description": "Passage id."},
                "text": {"type": "string", "description": "The passage text."},
                "metadata": {"$ref": "#/components/schemas/ChunkMetadata"},
                "score": {"type": "number", "description": "Similarity; higher is better."},
                "note_id": {"type": "string", "description": "Pass to GET /notes/{note_id}."},
                "path": {"type": "string", "description": "Path relative to its notes folder."},
                "folder": {"type": "string", "description": "The notes folder."},
                "title": {"type": "string"},
                "heading": {"type": "string", "description": "Heading path, e.g. Setup > Windows."},
                "lines": {
                    "type": "array",
                    "description": "First and last line of the passage in the file.",
                    "items": {"type": "integer"},
                    "minItems": 2,
                    "maxItems": 2,
                },
                "modified_at": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "truncated": {"type": "boolean", "description": "Text was cut to fit the response."},
            },
        },
        "QueryResult": {
            "type": "object",
            "required": ["query", "results"],
            "properties": {
                "query": {"type": "string"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/Passage"}},
            },
        },
        "QueryResponse": {
            "type": "object",
            "required": ["results", "truncated"],
            "properties": {
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/QueryResult"}},
                "truncated": {"type": "boolean", "description": "Some texts were cut to fit."},
            },
        },
        "SaveNoteRequest": {
            "type": "object",
            "required": ["title", "text"],
            "additionalProperties": False,
            "properties": {
                "title": _string("The note's title; its file name is made from it.", limits.max_title_chars),
                "text": _string("The note, in Markdown.", limits.max_note_chars, minLength=1,
                                pattern=NOT_ONLY_SPACE),
                "tags": {
                    "type": "array",
                    "description": "Tags for the note's frontmatter.",
                    "maxItems": 20,
                    "items": {"type": "string", "minLength": 1, "maxLength": 100},
                },
            },
        },
        "SavedNote": {
            "type": "object",
            "required": ["id", "path"],
            "properties": {
                "id": {"type": "string", "description": "The new note's note_id."},
                "path": {"type": "string", "description": "Path relative to its notes folder."},
            },
        },
        "Note": {
            "type": "object",
            "required": [
                "id", "path", "title", "text", "modified_at", "truncated", "offset", "total_chars",
            ],
            "properties": {
                "id": {"type": "string", "description": "The note_id."},
                "path": {"type": "string"},
                "folder": {"type": "string"},
                "title": {"type": "string"},
                "text": {"type": "string", "description": "The note from offset, as much as fits."},
                "modified_at": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "offset": {"type": "integer", "description": "Character offset of text."},
                "total_chars": {"type": "integer", "description": "Length of the whole note."},
                "truncated": {"type": "boolean", "description": "More text follows."},
                "next_offset": {"type": "integer", "description": "Offset of the next page."},
            },
        },
    }
