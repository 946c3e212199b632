"""The user's settings: one typed model, saved atomically as JSON in the data dir.

Each field is declared once with its default, label and help text; the GUI builds
its settings form from `SETTINGS_FIELDS`.

settings.json holds `"settings_version": 2` and only the settings that differ from
their defaults, so a default that changes later reaches everyone who never chose
otherwise. A file without `settings_version` (version 1) holds every field, defaults
included: it is read through `_from_version_1`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from notewell.indexer.e5_model import E5_MODEL
from notewell.indexer.embedding import DEFAULT_MODEL
from notewell.indexer.multilingual import AUTO_MODEL, MULTILINGUAL_MODEL, USE_MODEL

SETTINGS_FILE = "settings.json"
SETTINGS_VERSION = 2
VERSION_KEY = "settings_version"
# Version 1 wrote every field, pinning the defaults of its day: those that changed since.
_VERSION_1_DEFAULTS = {"model": "bundled:all-MiniLM-L6-v2"}


def _setting(default: Any, label: str, help: str) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"label": label, "help": help})
    return field(default=default, metadata={"label": label, "help": help})


@dataclass
class Settings:
    folders: list[str] = _setting([], "Notes folders", "Folders Notewell indexes and watches.")
    model: str = _setting(
        AUTO_MODEL,
        "Embedding model",
        f"{AUTO_MODEL} (default): the bundled English model while your notes are English; "
        f"{MULTILINGUAL_MODEL} once your folders hold Chinese, Japanese or Korean notes (at least 3, "
        "and 5% of them): they are then found by meaning, and an English question finds a Chinese "
        f"note. {DEFAULT_MODEL}: always the English model (Chinese notes found by their words). "
        f"{MULTILINGUAL_MODEL}: always multilingual-e5-small beside USE v3. {E5_MODEL}, {USE_MODEL}: "
        "either of them alone. Or any sentence-transformers model name or path. "
        "Changing it re-embeds every note.",
    )
    model_precision: str = field(default="int8", metadata={
        "label": "Model precision",
        "help": "int8 (default): the model runs 2-2.5x faster, search quality within 0.01 nDCG@10 of "
                "fp32. fp32: full precision. Changing it re-embeds every note.",
        "choices": (("int8", "int8: faster (default)"), ("fp32", "fp32: full precision"))})
    chroma_url: str = _setting(
        "", "Chroma server URL", "Keep vectors on this Chroma server instead of this computer."
    )
    extensions: list[str] = _setting(
        [".md", ".markdown", ".txt", ".org", ".rst", ".html", ".htm", ".pdf"],
        "File types",
        "File name endings that are read as notes.",
    )
    ignore_patterns: list[str] = _setting(
        [], "Ignore patterns", "Extra gitignore-style patterns, on top of each folder's .notewellignore."
    )
    max_file_mb: float = _setting(20.0, "Size cap (MB)", "Files larger than this are skipped.")
    catch_up_minutes: float = _setting(
        5.0, "Catch up every (minutes)",
        "How often Notewell checks the folders for changes it was not told about "
        "(network drives, sleep). Changes are otherwise picked up within a second.",
    )
    host: str = _setting("127.0.0.1", "Host", "Address the local API listens on.")
    port: int = _setting(3333, "Port", "Port of the local API.")
    public_url: str = _setting(
        "", "Own public URL", "Your own HTTPS URL (cloudflared, Tailscale Funnel, reverse proxy)."
    )
    ngrok_domain: str = _setting(
        "", "ngrok domain", "Your free static ngrok domain, so the URL survives restarts."
    )
    ngrok_path: str = _setting(
        "", "ngrok agent",
        "An ngrok agent already on this computer (e.g. /usr/local/bin/ngrok). Empty: the one on your PATH, "
        "else Notewell downloads it.",
    )
    ngrok_region: str = _setting("", "ngrok region", "Leave empty for the closest region.")
    ngrok_allow_ips: list[str] = _setting(
        [],
        "Allowed IP ranges",
        "Only these ranges reach the tunnel, e.g. OpenAI's published ChatGPT ranges "
        "(openai.com/chatgpt-actions.json). Empty: anyone who has the key.",
    )
    ngrok_rate_limit: int = _setting(
        0, "Edge rate limit (per minute)", "Requests per minute per client, enforced by ngrok. 0: off."
    )
    contact_email: str = _setting(
        "", "Contact email", "Shown in the plugin manifest; defaults to a placeholder."
    )
    legal_url: str = _setting("", "Legal info URL", "Defaults to this server's /legal page.")
    start_sharing_on_launch: bool = _setting(
        False, "Start sharing on launch", "Open the tunnel when Notewell starts."
    )
    start_at_login: bool = _setting(False, "Start at login", "Launch Notewell when you log in.")
    appearance: str = field(default="system", metadata={
        "label": "Appearance", "help": "System follows your desktop's light or dark setting as it changes.",
        "choices": ("system", "light", "dark")})
    inbox_folder: str = _setting(
        "", "Inbox folder",
        "Where an assistant may save a new note, with your OK. It never edits or overwrites a file. "
        "Outside your notes folders, only the notes Notewell saved there become searchable, not "
        "what the folder already holds. Empty: assistants cannot save.",
    )
    ask_before_saving: bool = _setting(
        True, "Ask before each save",
        "Ask before each save (Allow once / Always for this client / Deny). Off: every connected "
        "assistant saves into the inbox without asking.",
    )
    # Not in the settings form: what the app remembers for the user.
    told_about_tray: bool = field(default=False, metadata={"hidden": True})

    @classmethod
    def load(cls, data_dir: Path) -> "Settings":
        path = data_dir / SETTINGS_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise SettingsError(
                f"Could not read the settings in {path}: {exc}. Fix or delete that file."
            ) from exc
        if not isinstance(raw, dict):
            raise SettingsError(f"The settings in {path} are not a JSON object. Fix or delete that file.")
        if raw.get(VERSION_KEY) is None:
            raw = _from_version_1(raw)
        if isinstance(raw.get("model_precision"), str):  # typed into a text field once: "FP32 "
            raw["model_precision"] = raw["model_precision"].strip().lower()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def save(self, data_dir: Path) -> None:
        """Write the settings that differ from their defaults (saving an untouched form
        pins nothing: a default that changes later still applies)."""
        defaults = Settings()
        chosen = {f.name: getattr(self, f.name) for f in fields(self)
                  if getattr(self, f.name) != getattr(defaults, f.name)}
        text = json.dumps({VERSION_KEY: SETTINGS_VERSION, **chosen}, indent=2)
        write_private_file(data_dir / SETTINGS_FILE, text + "\n")

    def add_folders(self, folders: list[Path]) -> bool:
        """Add absolute folder paths; True if anything changed."""
        changed = False
        for folder in folders:
            text = str(folder.expanduser().resolve())
            if text not in self.folders:
                self.folders.append(text)
                changed = True
        return changed


# The models that need no download, offered as you type in Settings → Embedding model.
MODEL_CHOICES = (AUTO_MODEL, DEFAULT_MODEL, MULTILINGUAL_MODEL, E5_MODEL, USE_MODEL)

SETTINGS_FIELDS = [f for f in fields(Settings) if f.name != "folders" and not f.metadata.get("hidden")]


class SettingsError(Exception):
    pass


def _from_version_1(raw: dict[str, Any]) -> dict[str, Any]:
    """A version 1 file, read as if it held only what the user chose.

    Trigger: a field holds the default it had in version 1 (`_VERSION_1_DEFAULTS`).
    Why: those files saved every field, so a user who never opened Settings has
    "model": "bundled:all-MiniLM-L6-v2" written down and would never get "auto".
    Outcome: the field takes today's default. A user who had typed that model on
    purpose can't be told apart and moves too; Settings → Embedding model puts it back
    (and is then saved as a choice)."""
    return {k: v for k, v in raw.items() if not (k in _VERSION_1_DEFAULTS and _VERSION_1_DEFAULTS[k] == v)}


def write_private_file(path: Path, text: str) -> None:
    """Write atomically (temp file + rename) with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
