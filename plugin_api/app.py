"""`create_app`: the HTTP API assistants call (no Qt, no `app` imports).

    app = create_app(index, ApiConfig(), token=store.get, public_url=tunnel_url)

Who may call which route is in one table, `access.ACCESS` (`ApiConfig.access`):
the public routes (manifest, spec, logo, legal, health, OAuth's) reveal nothing
about the notes; everything else needs the key, or an OAuth token where the row
says so. `guard.RequestGuard` enforces it and `cors.AccessCors` answers browsers
from it. /mcp is passed in `extra_routes` with its `lifespan` (see
`mcp.McpEndpoint`): it then sits behind the same guard, limits and activity log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

import yaml
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Lifespan

from notewell.assets import logo_png as logo_png_bytes

from .access import ACCESS, AccessTable
from .activity import ActivityLog
from .addresses import base_url
from .auth import FailureThrottle, LockoutPolicy, TokenProvider
from .cors import AccessCors
from .endpoints import OPERATIONS, SAVE_NOTE, make_endpoints
from .errors import EXCEPTION_HANDLERS
from .guard import RequestGuard
from .host_check import HostCheck
from .limits import Limits, RateLimiter
from .manifest import ManifestConfig, build_manifest
from .notes import NotesReader
from .open_links import OPEN_PATH, OpenLinks, note_page, process_links
from .openapi import BodyValidator, OpenApiVersion, build_spec
from .schemas import build_schemas

if TYPE_CHECKING:
    from .oauth import OAuthServer  # imports the MCP SDK: only when OAuth is on
    from .saving import NoteSaver

PublicUrl = Callable[[], "str | None"]
CHATGPT_ORIGINS = ("https://chat.openai.com", "https://chatgpt.com")
API_DESCRIPTION = "Search and read the user's own notes, served from their computer by Notewell."
SAVING_DESCRIPTION = ("Search and read the user's own notes, served from their computer by Notewell, and save "
                      "new notes to their inbox folder when they ask.")


@dataclass(frozen=True)
class ApiConfig:
    limits: Limits = field(default_factory=Limits)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    manifest: ManifestConfig = field(default_factory=ManifestConfig)
    cors_origins: tuple[str, ...] = CHATGPT_ORIGINS  # browser origins besides loopback and the public URL
    version: str = "0.1.0"
    access: AccessTable = ACCESS


def create_app(
    notes: NotesReader,
    config: ApiConfig,
    *,
    token: TokenProvider,
    public_url: PublicUrl = lambda: None,
    activity: ActivityLog | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    lifespan: Lifespan[Starlette] | None = None,
    oauth: OAuthServer | None = None,
    saver: NoteSaver | None = None,
    links: OpenLinks | None = None,
) -> Starlette:
    build_manifest("https://example.com", config.manifest)  # bad settings fail at start
    schemas = build_schemas(config.limits)
    logo_png = logo_png_bytes()
    links = links or process_links()
    endpoints = make_endpoints(notes, config.limits, BodyValidator(schemas), public_url, links, saver)
    # POST /notes is always routed (403 without an inbox: a clear answer, not a 404), and
    # described only when there is an inbox to save into (issue 18).
    described = [*OPERATIONS, SAVE_NOTE] if saver is not None else OPERATIONS

    @lru_cache(maxsize=16)
    def spec(server_url: str, version: OpenApiVersion) -> dict[str, Any]:
        return build_spec(
            described,
            schemas,
            title="Notewell",
            description=SAVING_DESCRIPTION if saver is not None else API_DESCRIPTION,
            version=config.version,
            server_url=server_url,
            openapi=version,
        )

    def base(request: Request) -> str:
        return base_url(request.scope, public_url())

    async def manifest(request: Request) -> Response:
        return JSONResponse(build_manifest(base(request), config.manifest))

    async def openapi_yaml(request: Request) -> Response:
        text = yaml.safe_dump(spec(base(request), "3.0.1"), sort_keys=False, allow_unicode=True)
        return Response(text, media_type="application/yaml")

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec(base(request), "3.1.0"))

    async def logo(request: Request) -> Response:
        return Response(logo_png, media_type="image/png", headers={"Cache-Control": "max-age=86400"})

    async def legal(request: Request) -> Response:
        return HTMLResponse(LEGAL_PAGE)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def open_note(request: Request) -> Response:
        """A citation's page (access row LOCAL_SIGNED: only from this computer, never the tunnel)."""
        note_id = links.note_id(request.path_params["token"])
        note = await run_in_threadpool(notes.get_note, note_id) if note_id else None
        if note is None:
            return HTMLResponse(NOT_FOUND_PAGE, status_code=404, headers=PAGE_HEADERS)
        return HTMLResponse(note_page(note), headers=PAGE_HEADERS)

    public_routes = [
        Route("/.well-known/ai-plugin.json", manifest),
        Route("/openapi.yaml", openapi_yaml),
        Route("/openapi.json", openapi_json),
        Route("/logo.png", logo),
        Route("/legal", legal),
        Route("/healthz", healthz),
        Route(OPEN_PATH + "{token}", open_note, methods=["GET", "HEAD"]),
    ]
    api_routes = [
        Route(op.path, endpoints[op.operation_id], methods=[op.method]) for op in [*OPERATIONS, SAVE_NOTE]
    ]
    if oauth is not None:
        public_routes += oauth.routes()
    host_check = HostCheck(public_url, config.cors_origins)
    app = Starlette(
        routes=[*public_routes, *api_routes, *extra_routes],
        middleware=[
            Middleware(AccessCors, table=config.access, assistant_origin=host_check.allows_origin_of),
            Middleware(
                RequestGuard,
                table=config.access,
                key=token,
                throttle=FailureThrottle(config.lockout),
                rate_limiter=RateLimiter(config.limits),
                limits=config.limits,
                host_check=host_check,
                activity=activity,
                public_url=public_url,
                oauth=oauth,
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    # The guard routes `/mcp/` as `/mcp`; Starlette's own answer to a trailing slash would be
    # a redirect built from the request's scheme (http:// behind the tunnel; issue 15).
    app.router.redirect_slashes = False
    return app


# The page runs no script and loads nothing; no other site may frame it or learn its address.
PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Note not found — Notewell</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto; line-height: 1.5">
<h1>This note can't be opened</h1>
<p>The link is not one Notewell made, or the note was moved or deleted since. Ask the assistant
again, or search in the Notewell app.</p></body></html>
"""

LEGAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Notewell: what is shared</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto; line-height: 1.5">
<h1>Notewell</h1>
<p>This server belongs to one person and runs on their own computer. It lets an AI assistant
that they connected search and read the notes they chose to index.</p>
<h2>What is shared</h2>
<p>Only answers to requests that carry the owner's secret token: passages of notes matching a
search, and whole notes asked for by id. Every such request is recorded in a log the owner can
read in the Notewell app. Nothing is sent anywhere unless an assistant asks.</p>
<h2>How to revoke access</h2>
<p>The owner can stop sharing in the app, or replace the token with
<code>notewell token --rotate</code>: every assistant holding the old token is refused from then
on.</p>
<p>Notewell is provided as is, without warranty. No notes are stored by this page.</p>
</body></html>
"""
