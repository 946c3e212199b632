"""The OpenAPI description, generated from the operations the app serves.

`Operation` declares one route (path, method, docs, parameters, body, responses);
`app.py` builds its Starlette routes from the same declarations, so the spec and
the server cannot drift. Two renderings: 3.0.1 for the plugin manifest
(`/openapi.yaml`) and 3.1.0 for custom GPT Actions (`/openapi.json`).
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema

from .errors import Unprocessable
from .schemas import Schema

OpenApiVersion = Literal["3.0.1", "3.1.0"]
MAX_DOC_CHARS = 200  # summaries and descriptions (DESIGN.md; Actions allow 300)

STATUS_TEXT = {
    200: "OK.",
    400: "The body is not valid JSON.",
    401: "Missing or wrong bearer token.",
    403: "Not allowed: no inbox folder is set, or the user declined.",
    404: "No such note.",
    409: "The inbox folder is one the index skips; the note was not saved.",
    413: "The request body is too large.",
    422: "The request does not match this description, or the note has no searchable text.",
    429: "Too many requests; retry after Retry-After seconds.",
    503: "The notes index cannot answer right now; retry later.",
}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": "Bearer challenge."},
    429: {"Retry-After": "Seconds to wait before retrying."},
}


@dataclass(frozen=True)
class Parameter:
    name: str
    location: Literal["path", "query"]
    schema: Schema
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: Literal["GET", "POST"]
    path: str
    operation_id: str
    summary: str
    description: str
    response_schema: str  # component name of the 200 body
    errors: tuple[int, ...]
    parameters: tuple[Parameter, ...] = ()
    request_schema: str | None = None
    public: bool = False
    # GPT Actions ask the user before every call whose operation is consequential, and
    # count POSTs as such unless told otherwise; reads never are (issue 7).
    consequential: bool = False


def build_spec(
    operations: list[Operation],
    schemas: dict[str, Schema],
    *,
    title: str,
    description: str,
    version: str,
    server_url: str,
    openapi: OpenApiVersion,
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    spec: dict[str, Any] = {
        "openapi": openapi,
        "info": {"title": title, "description": description, "version": version},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(schemas),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
    if openapi.startswith("3.0"):
        spec["components"]["schemas"] = {k: downgrade_schema(v) for k, v in schemas.items()}
        for op in operations:
            for param in paths[op.path][op.method.lower()].get("parameters", []):
                param["schema"] = downgrade_schema(param["schema"])
    return spec


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": op.description,
        "x-openai-isConsequential": op.consequential,
    }
    if op.parameters:
        out["parameters"] = [
            {
                "name": p.name,
                "in": p.location,
                "required": p.required or p.location == "path",
                "description": p.description,
                "schema": copy.deepcopy(p.schema),
            }
            for p in op.parameters
        ]
    if op.request_schema:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.request_schema)}},
        }
    responses: dict[str, Any] = {
        "200": {"description": STATUS_TEXT[200], "content": _json(op.response_schema)}
    }
    for status in op.errors:
        response: dict[str, Any] = {"description": STATUS_TEXT[status], "content": _json("Error")}
        if status in ERROR_HEADERS:
            response["headers"] = {
                name: {"description": text, "required": True, "schema": {"type": "string"}}
                for name, text in ERROR_HEADERS[status].items()
            }
        responses[str(status)] = response
    out["responses"] = responses
    out["security"] = [] if op.public else [{"bearerAuth": []}]
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(name)}}


def downgrade_schema(schema: Any) -> Any:
    """JSON Schema 2020-12 → OpenAPI 3.0 Schema Object (`[T, "null"]` → nullable)."""
    if isinstance(schema, list):
        return [downgrade_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: downgrade_schema(value) for key, value in schema.items()}
    kind = out.get("type")
    if isinstance(kind, list) and "null" in kind:
        rest = [t for t in kind if t != "null"]
        out["type"] = rest[0] if len(rest) == 1 else rest
        out["nullable"] = True
    return out


def doc_strings(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (where, text) summary or description, for the 200-character check."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("summary", "description") and isinstance(value, str):
                    found.append((f"{where}/{key}", value))
                elif key != "properties" or not isinstance(value, dict):
                    walk(value, f"{where}/{key}")
                else:
                    for name, sub in value.items():
                        walk(sub, f"{where}/properties/{name}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}/{index}")

    walk(spec, "")
    return found


DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date")
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or (DATE.fullmatch(value) is not None and parse_date(value) is not None)


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or (
        DATE_TIME.fullmatch(value) is not None and parse_date(value) is not None
    )


def parse_date(value: str) -> datetime | None:
    """RFC 3339 date or date-time (what `format: date` / `date-time` promise), else None."""
    text = value.upper().replace("Z", "+00:00")
    text = re.sub(r"\.([0-9]{6})[0-9]+", r".\1", text)  # Python takes at most microseconds
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


class BodyValidator:
    """Validates request bodies against the component schemas (2020-12)."""

    def __init__(self, schemas: dict[str, Schema]) -> None:
        self._schemas = schemas
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    def validate(self, name: str, instance: object) -> None:
        validator = self._validators.get(name)
        if validator is None:
            root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": self._schemas}}
            validator = jsonschema.Draft202012Validator(root, format_checker=FORMATS)
            self._validators[name] = validator
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise Unprocessable(_describe(error))


def parse_parameters(op: Operation, path_params: dict[str, str], query: Any) -> dict[str, Any]:
    """Typed, validated parameters of `op` from the request (422 when wrong)."""
    values: dict[str, Any] = {}
    for param in op.parameters:
        raw = path_params.get(param.name) if param.location == "path" else query.get(param.name)
        if raw is None:
            if param.required or param.location == "path":
                raise Unprocessable(f"The {param.location} parameter {param.name!r} is required.")
            if "default" in param.schema:
                values[param.name] = param.schema["default"]
            continue
        value: object = raw
        if param.schema.get("type") == "integer":
            if not re.fullmatch(r"-?[0-9]{1,12}", raw):
                raise Unprocessable(f"The parameter {param.name!r} must be a whole number.")
            value = int(raw)
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(param.schema).iter_errors(value)
        )
        if error is not None:
            raise Unprocessable(f"The parameter {param.name!r} is invalid: {_short(error.message)}")
        values[param.name] = value
    return values


def _describe(error: jsonschema.ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"Invalid request body at {'body' + where}: {_short(error.message)}. See /openapi.json."


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
