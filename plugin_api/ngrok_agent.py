"""Find the ngrok agent, or download it with progress a user can see (issue 4).

pyngrok's own installer reports progress only by writing to stdout, so the download is
done here: same CDN archive (`pyngrok.installer.get_ngrok_cdn_url`), same install path.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Callable
from urllib.request import urlopen

from pyngrok import installer

from notewell.plugin_api.tunnel import AgentDownloadError, AgentMissingError

DOWNLOAD_FAILED = (
    "Could not download the ngrok agent (no internet?). Install ngrok yourself and set its "
    "path with --ngrok-path / Settings → Sharing."
)


def find_agent(ngrok_path: str | None, *, search_path: bool, home: Path) -> Path | None:
    """The agent to run: `ngrok_path` (which must work), else one on PATH or in `home`; None if absent."""
    if ngrok_path:
        path = Path(ngrok_path).expanduser()
        if not path.is_file():
            raise AgentMissingError(
                f"There is no ngrok agent at {path}. Fix --ngrok-path / Settings → Sharing, "
                "or clear it to let Notewell download ngrok."
            )
        if not os.access(path, os.X_OK):
            raise AgentMissingError(f"The ngrok agent at {path} is not executable. Run: chmod +x {path}")
        return path
    if search_path and (found := _agent_on_path()):
        return found
    target = home / installer.get_ngrok_bin()
    return target if target.is_file() else None


def download_agent(
    target: Path,
    *,
    url: str,
    timeout: float,
    progress: Callable[[str], None],
    cancelled: Callable[[], bool],
) -> None:
    """Download and unpack the agent to `target`; `progress` gets "42%" (or "3 MB") as it goes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".zip" if url.endswith(".zip") else ".tgz"
    fd, name = tempfile.mkstemp(prefix=".ngrok-download-", suffix=suffix, dir=target.parent)
    archive = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done, shown = 0, ""
            while chunk := response.read(64 * 1024):
                if cancelled():
                    raise AgentDownloadError("The ngrok download was cancelled.", retry=False)
                out.write(chunk)
                done += len(chunk)
                text = f"{done * 100 // total}%" if total else f"{done // 1_000_000} MB"
                if text != shown:
                    shown = text
                    progress(text)
        _extract(archive, target)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise AgentDownloadError(DOWNLOAD_FAILED) from exc
    finally:
        archive.unlink(missing_ok=True)


def _agent_on_path() -> Path | None:
    found = shutil.which("ngrok")
    if found is None:
        return None
    with open(found, "rb") as handle:
        if b"pyngrok" in handle.read(512):  # pyngrok's own `ngrok` script would download again
            return None
    return Path(found)


def _extract(archive: Path, target: Path) -> None:
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as bundle:
            data = bundle.read(target.name)
    else:
        with tarfile.open(archive, "r:gz") as bundle:
            member = next((m for m in bundle.getmembers() if m.isfile() and Path(m.name).name == target.name), None)
            handle = bundle.extractfile(member) if member is not None else None
            if handle is None:
                raise KeyError(target.name)
            data = handle.read()
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    os.replace(tmp, target)
