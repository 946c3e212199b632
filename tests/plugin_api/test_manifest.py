from __future__ import annotations

import httpx
import pytest

from notewell.plugin_api.manifest import (
    LIMITS,
    ManifestConfig,
    ManifestError,
    build_manifest,
    domain_warnings,
    second_level_domain,
)
from tests.plugin_api.conftest import StartApi

PUBLIC = "https://notes.example.com"


def test_manifest_over_http_uses_the_public_url(start_api: StartApi) -> None:
    url: list[str | None] = [None]
    api = start_api(public_url=lambda: url[0])
    with httpx.Client(base_url=api.url) as client:
        local = client.get("/.well-known/ai-plugin.json").json()
        assert local["api"]["url"] == f"{api.url}/openapi.yaml"
        url[0] = PUBLIC  # the tunnel came online
        assert client.get("/.well-known/ai-plugin.json").json() == local  # local requests see local URLs
        via_tunnel = {"Host": "notes.example.com", "X-Forwarded-For": "203.0.113.5"}
        manifest = client.get("/.well-known/ai-plugin.json", headers=via_tunnel).json()
    assert manifest["schema_version"] == "v1"
    assert manifest["auth"] == {"type": "user_http", "authorization_type": "bearer"}
    assert manifest["api"] == {"type": "openapi", "url": f"{PUBLIC}/openapi.yaml"}
    assert manifest["logo_url"] == f"{PUBLIC}/logo.png"
    assert manifest["legal_info_url"] == f"{PUBLIC}/legal"
    assert manifest["contact_email"].endswith("@notes.example.com")
    assert manifest["description_for_model"].startswith("Plugin for ")
    for key, limit in LIMITS.items():
        assert len(manifest[key]) <= limit
    assert domain_warnings(manifest, "notes.example.com") == []


def test_descriptions_do_not_steer_the_model() -> None:
    text = build_manifest(PUBLIC)["description_for_model"].lower()
    for steering in ("always", "must", "never", "tone", "whenever", "you should"):
        assert steering not in text


def test_field_limits_are_enforced() -> None:
    with pytest.raises(ManifestError, match="name_for_human"):
        build_manifest(PUBLIC, ManifestConfig(name_for_human="A name far too long for it"))


@pytest.mark.parametrize(
    "config, host, needle",
    [
        (ManifestConfig(contact_email="me@gmail.com"), "notes.example.com", "contact_email"),
        (ManifestConfig(legal_info_url="https://other.org/legal"), "notes.example.com", "legal_info_url"),
        (ManifestConfig(contact_email="me@example.com"), "other.example.net", "api.url"),
        (ManifestConfig(), "localhost", "not reachable"),
    ],
)
def test_domain_rules_warn_clearly(config: ManifestConfig, host: str, needle: str) -> None:
    warnings = domain_warnings(build_manifest(PUBLIC, config), host)
    assert any(needle in w for w in warnings), warnings


def test_same_second_level_domain_passes() -> None:
    config = ManifestConfig(contact_email="me@example.com", legal_info_url="https://www.example.com/terms")
    assert domain_warnings(build_manifest(PUBLIC, config), "notes.example.com") == []
    assert domain_warnings(build_manifest("http://notes.example.com"), "notes.example.com")[0].startswith(
        "The API URL"
    )


@pytest.mark.parametrize(
    "host, sld", [("a.b.example.com", "example.com"), ("example.com", "example.com"), ("x.ngrok-free.app", "ngrok-free.app")]
)
def test_second_level_domain(host: str, sld: str) -> None:
    assert second_level_domain(host) == sld


def test_bad_manifest_settings_fail_when_the_app_is_made() -> None:
    from notewell.plugin_api.app import ApiConfig, create_app

    with pytest.raises(ManifestError, match="name_for_human"):
        create_app(None, ApiConfig(manifest=ManifestConfig(name_for_human="x" * 21)), token=lambda: "t")  # type: ignore[arg-type]
