"""ngrok traffic policies Notewell offers (issue 4): allow only OpenAI's egress ranges, rate-limit at the edge.

The result is passed as `traffic_policy` to `make_tunnel("ngrok", ...)`; ngrok then drops
unwanted traffic before it reaches this computer. OpenAI publishes the addresses ChatGPT
actions call from at `OPENAI_EGRESS_RANGES_URL`; `parse_egress_ranges` reads that file.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Iterable

OPENAI_EGRESS_RANGES_URL = "https://openai.com/chatgpt-actions.json"


class TrafficPolicyError(ValueError):
    pass


def traffic_policy(
    *, allow_cidrs: Iterable[str] = (), rate_limit_per_minute: int | None = None
) -> dict | None:
    """An ngrok traffic policy, or None when nothing is restricted."""
    actions: list[dict[str, Any]] = []
    allow = [_cidr(c) for c in allow_cidrs if c.strip()]
    if allow:
        actions.append({"type": "restrict-ips", "config": {"enforce": True, "allow": allow}})
    if rate_limit_per_minute:
        if rate_limit_per_minute < 1:
            raise TrafficPolicyError("The rate limit must be at least 1 request per minute.")
        actions.append(
            {
                "type": "rate-limit",
                "config": {
                    "name": "notewell",
                    "algorithm": "sliding_window",
                    "capacity": int(rate_limit_per_minute),
                    "rate": "60s",
                    "bucket_key": ["conn.client_ip"],
                },
            }
        )
    return {"on_http_request": [{"actions": actions}]} if actions else None


def parse_egress_ranges(text: str) -> list[str]:
    """CIDRs from OpenAI's published ranges file (`{"prefixes": [{"ipv4Prefix": ...}]}`)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TrafficPolicyError(f"The OpenAI ranges file is not JSON: {exc}.") from exc
    prefixes = data.get("prefixes") if isinstance(data, dict) else None
    if not isinstance(prefixes, list):
        raise TrafficPolicyError(f"The OpenAI ranges file has no 'prefixes' list; check {OPENAI_EGRESS_RANGES_URL}.")
    found = []
    for entry in prefixes:
        for key in ("ipv4Prefix", "ipv6Prefix"):
            if isinstance(entry, dict) and entry.get(key):
                found.append(_cidr(str(entry[key])))
    return found


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError as exc:
        raise TrafficPolicyError(f"{text!r} is not an IP range like 203.0.113.0/24.") from exc
