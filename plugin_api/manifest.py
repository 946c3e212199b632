"""The plugin manifest (`/.well-known/ai-plugin.json`) and the checks ChatGPT applies.

Field limits come from DESIGN.md; the domain rules from the plugin docs: api.url
must be on the domain serving the manifest (or a subdomain of it), and
legal_info_url and contact_email on the same second-level domain.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

NAME_FOR_MODEL = "notewell"
NAME_FOR_HUMAN = "Notewell"
DESCRIPTION_FOR_HUMAN = "Search and read your own notes, served privately from your computer."
DESCRIPTION_FOR_MODEL = (
    "Plugin for searching and reading the user's own notes (Markdown, text, HTML and PDF files "
    "on their computer). POST /query takes up to 5 queries and returns, for each, the most "
    "relevant passages with the note title, path, heading, line numbers and a similarity score "
    "(higher is better); optional filters: note id, path prefix, folder, modified date range, "
    "tags. GET /notes/{note_id} returns a whole note; a long note comes in pages, continued "
    "with the offset parameter."
)
LIMITS = {
    "name_for_model": 50,
    "name_for_human": 20,
    "description_for_human": 100,
    "description_for_model": 8000,
}


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class ManifestConfig:
    contact_email: str = ""  # empty: a placeholder on the public host
    legal_info_url: str = ""  # empty: this server's /legal page
    name_for_human: str = NAME_FOR_HUMAN


def build_manifest(base_url: str, config: ManifestConfig = ManifestConfig()) -> dict[str, Any]:
    base = base_url.rstrip("/")
    host = urlsplit(base).hostname or "localhost"
    manifest: dict[str, Any] = {
        "schema_version": "v1",
        "name_for_human": config.name_for_human,
        "name_for_model": NAME_FOR_MODEL,
        "description_for_human": DESCRIPTION_FOR_HUMAN,
        "description_for_model": DESCRIPTION_FOR_MODEL,
        "auth": {"type": "user_http", "authorization_type": "bearer"},
        "api": {"type": "openapi", "url": f"{base}/openapi.yaml"},
        "logo_url": f"{base}/logo.png",
        "contact_email": config.contact_email or f"notewell@{host}",
        "legal_info_url": config.legal_info_url or f"{base}/legal",
    }
    check_fields(manifest)
    return manifest


def check_fields(manifest: dict[str, Any]) -> None:
    for key, limit in LIMITS.items():
        if len(manifest[key]) > limit:
            raise ManifestError(f"{key} is {len(manifest[key])} characters; the limit is {limit}.")
    if not re.fullmatch(r"[A-Za-z0-9_]+", manifest["name_for_model"]):
        raise ManifestError("name_for_model may contain only letters, digits and _.")


def domain_warnings(manifest: dict[str, Any], manifest_host: str) -> list[str]:
    """What ChatGPT would reject when installing from `manifest_host`, as sentences."""
    warnings: list[str] = []
    host = manifest_host.lower()
    api = urlsplit(manifest["api"]["url"])
    if _is_local(host):
        return [
            f"The public URL host {host!r} is not reachable from ChatGPT; "
            "start a tunnel or set --public-url to your HTTPS address."
        ]
    if api.scheme != "https":
        warnings.append(
            f"The API URL {manifest['api']['url']} is not HTTPS; ChatGPT only calls HTTPS APIs. "
            "Use an HTTPS tunnel or public URL."
        )
    api_host = (api.hostname or "").lower()
    if api_host != host and not api_host.endswith("." + host):
        warnings.append(
            f"api.url is on {api_host}, which is not {host} or a subdomain of it; "
            "ChatGPT refuses such a manifest. Serve the manifest from the API's domain."
        )
    site = second_level_domain(host)
    legal_host = (urlsplit(manifest["legal_info_url"]).hostname or "").lower()
    if second_level_domain(legal_host) != site:
        warnings.append(
            f"legal_info_url is on {legal_host}, not on {site}; ChatGPT requires the same "
            "second-level domain. Leave it empty to use this server's /legal page."
        )
    email_domain = manifest["contact_email"].rpartition("@")[2].lower()
    if second_level_domain(email_domain) != site:
        warnings.append(
            f"contact_email is at {email_domain}, not at {site}; ChatGPT requires the same "
            "second-level domain. Use an address on your domain, or leave it empty."
        )
    return warnings


def second_level_domain(host: str) -> str:
    """The last two labels (`a.b.example.com` → `example.com`); no public-suffix list."""
    labels = [label for label in host.lower().strip(".").split(".") if label]
    return ".".join(labels[-2:])


def _is_local(host: str) -> bool:
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified
