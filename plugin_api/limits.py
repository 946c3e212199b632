"""Request and response limits: rate per client, body size, response size.

The numbers come from DESIGN.md ("Limits the assistant side imposes") and issue 3:
bodies ≤ 64 KB, ≤ 5 queries of ≤ 1,000 characters, top_k ≤ 20, and every response
≤ 100,000 characters (ChatGPT drops larger ones).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from .errors import RateLimited, TooManyRequests

DAY = 86_400.0


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 64 * 1024
    max_queries: int = 5
    max_query_chars: int = 1_000
    max_top_k: int = 20
    max_response_chars: int = 100_000
    max_title_chars: int = 1_000  # a saved note's title (issue 18)
    max_note_chars: int = 50_000  # a saved note's text; the body limit holds it with room for escapes
    # Ordinary assistant use is a few requests per message; this is far above it.
    rate_per_minute: float = 300.0
    rate_burst: int = 60
    max_clients: int = 10_000
    # Saves per client per day (review of #18, finding 3): when saves do not ask (--allow-saves,
    # "Always for this client", the setting off) nothing else stops one client filling the disk.
    max_saves_per_day: int = 200
    max_saved_bytes_per_day: int = 10 * 1024 * 1024


class RateLimiter:
    """A token bucket per client; `check` raises 429 with Retry-After when empty."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = limits.rate_per_minute / 60.0
        self._burst = float(limits.rate_burst)
        self._max_clients = limits.max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        if not allowed:
            wait = (1.0 - tokens) / self._rate if self._rate > 0 else 60.0
            raise RateLimited(
                "Too many requests from this client; slow down and retry after the "
                "number of seconds in Retry-After.",
                retry_after=int(wait + 0.999),
            )


class SaveQuota:
    """How many notes (and bytes) each client saved in its current day; `charge` raises 429 past
    the day's share, saying when it resets. Kept in memory: a restart starts a new day."""

    def __init__(self, limits: Limits = Limits(), clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._days: dict[str, tuple[float, int, int]] = {}  # client → (day began, saves, bytes)

    def charge(self, client: str, size: int) -> None:
        """Count one save of `size` bytes for `client`, or raise TooManyRequests."""
        now, limits = self._clock(), self.limits
        with self._lock:
            began, saves, used = self._days.get(client, (now, 0, 0))
            if now - began >= DAY:
                began, saves, used = now, 0, 0
            full = saves + 1 > limits.max_saves_per_day or used + size > limits.max_saved_bytes_per_day
            if not full:
                self._days[client] = (began, saves + 1, used + size)
                if len(self._days) > limits.max_clients:
                    self._days = {c: d for c, d in self._days.items() if now - d[0] < DAY}
        if full:
            resets = began + DAY
            at = datetime.fromtimestamp(resets, timezone.utc).strftime("%H:%M UTC on %d %b")
            raise TooManyRequests(
                f"This client has saved as much as Notewell takes from one client in a day "
                f"({limits.max_saves_per_day} notes or {limits.max_saved_bytes_per_day // 1024} KB); "
                f"saving opens again at {at}. Do not retry before then.",
                retry_after=int(resets - now + 0.999))


def json_chars(value: object) -> int:
    """Characters of `value` as the API serialises it (UTF-8 JSON, no ASCII escaping)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def cut_to_fit(text: str, budget: int) -> str:
    """The longest prefix of `text` whose JSON string form (without quotes) fits `budget`."""
    if budget <= 0:
        return ""
    cut = text[:budget]
    while cut and (size := json_chars(cut) - 2) > budget:
        cut = cut[: max(0, len(cut) * budget // size - 1)]
    return cut


def share_budget(sizes: list[int], budget: int) -> list[int]:
    """Water-filling: the largest per-item caps whose sum ≤ budget; small items keep all."""
    caps = list(sizes)
    if sum(sizes) <= budget:
        return caps
    remaining, order = max(0, budget), sorted(range(len(sizes)), key=lambda i: sizes[i])
    for position, index in enumerate(order):
        fair = remaining // (len(order) - position)
        caps[index] = min(sizes[index], fair)
        remaining -= caps[index]
    return caps
