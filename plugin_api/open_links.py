"""Citations that open: a result's `url` is a page this app serves only to this computer.

    links = OpenLinks.load(data_dir)      # the signing secret, in open-links.key (0600)
    links.url(scope, note_id)             # http://127.0.0.1:PORT/open/<note id>.<signature>
    links.note_id(token)                  # the note a token names, or None (forged, altered)

A person who clicks a citation in an assistant's answer is at the computer that runs
Notewell, so the link points at the local server: it needs no key (a browser can't send
one) and the assistant's service can't open it. The signature (HMAC of the note id)
keeps a page on this computer from walking every note id; `access.LOCAL_SIGNED` keeps
visitors through the tunnel out (`addresses.is_direct_local`). The page shows the note
as text, with OpenGraph tags for link previews and, for a note in an Obsidian vault,
an `obsidian://open` link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from starlette.types import Scope

from notewell.indexer.types import NoteContent

NoteUrl = Callable[[str], str]  # note id → the url a result carries
FILE_NAME = "open-links.key"
OPEN_PATH = "/open/"
_SIGNATURE_BYTES = 16
_DESCRIPTION_CHARS = 200


class OpenLinks:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def load(cls, data_dir: Path) -> OpenLinks:
        """The data folder's secret (made on first use), so links stay valid across restarts."""
        path = data_dir / FILE_NAME
        try:
            secret = bytes.fromhex(path.read_text().strip())
            if len(secret) >= 32:
                return cls(secret)
        except (OSError, ValueError):
            pass
        secret = secrets.token_bytes(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secret.hex())
        os.replace(temp, path)
        return cls(secret)

    def token(self, note_id: str) -> str:
        return f"{note_id}.{self._sign(note_id)}"

    def note_id(self, token: str) -> str | None:
        note_id, _, signature = token.rpartition(".")
        if not note_id or not hmac.compare_digest(signature, self._sign(note_id)):
            return None
        return note_id

    def url(self, scope: Scope, note_id: str) -> str:
        """The link for this server's own port on the loopback address (whatever Host the
        request came with: through the tunnel it is the public name, which must not open it)."""
        server = scope.get("server")
        port = server[1] if server and server[1] else 80
        return f"http://127.0.0.1:{port}{OPEN_PATH}{self.token(note_id)}"

    def _sign(self, note_id: str) -> str:
        digest = hmac.new(self._secret, note_id.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@lru_cache(maxsize=1)
def process_links() -> OpenLinks:
    """Links valid while this process runs: for an app built without a data folder."""
    return OpenLinks(secrets.token_bytes(32))


def obsidian_link(note: NoteContent) -> str | None:
    """obsidian://open for a note inside a vault (a folder holding `.obsidian/`), else None."""
    file = Path(note.folder) / note.path
    for vault in file.parents:
        if (vault / ".obsidian").is_dir():
            inside = file.relative_to(vault).as_posix()
            return f"obsidian://open?vault={quote(vault.name, safe='')}&file={quote(inside, safe='')}"
        if vault == vault.parent:
            break
    return None


def note_page(note: NoteContent) -> str:
    """The note as a small HTML page; every part from the note is escaped."""
    title = html.escape(note.title or note.path)
    description = html.escape(" ".join(note.text.split())[:_DESCRIPTION_CHARS])
    where = html.escape(str(Path(note.folder) / note.path))
    vault = obsidian_link(note)
    open_in = f'<p><a href="{html.escape(vault)}">Open in Obsidian</a></p>' if vault else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} — Notewell</title>
<meta property="og:type" content="article">
<meta property="og:site_name" content="Notewell">
<meta property="og:title" content="{title}">
<meta property="og:description" content="{description}">
<style>
body {{ font: 16px/1.55 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem;
       color: #1f2328; background: #fff; }}
@media (prefers-color-scheme: dark) {{ body {{ color: #e6edf3; background: #0d1117; }} a {{ color: #58a6ff; }} }}
.where {{ color: #6e7781; font-size: 0.9rem; word-break: break-all; }}
pre {{ white-space: pre-wrap; word-wrap: break-word; font: inherit; }}
</style></head>
<body><h1>{title}</h1>
<p class="where">{where} · modified {html.escape(note.modified_at)}</p>
{open_in}<pre>{html.escape(note.text)}</pre>
</body></html>
"""
