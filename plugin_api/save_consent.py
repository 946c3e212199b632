"""May this client save this note? The user's answer, per save (issue 18; no Qt here).

    approvals = SaveApprovals(TrustedSavers(data_dir / "trusted_savers.json"), ask=lambda: True)
    approvals.subscribe(show)               # the desktop app's Allow once / Always / Deny question;
                                            # heard again with the decision when it is over
    await approvals.decide(caller, title, text)    # returns when allowed; raises Forbidden otherwise
    approvals.allow_once(id); approvals.allow_always(id); approvals.deny(id)

Like OAuth consent (`consent.ConsentQueue`), the answer comes out of band, from
the person at the app, never from the request. "Always for this client" is kept
in a file in the data dir (0600), per client: the API key, or one OAuth grant.
Without a window to ask in (`notewell serve`), a save that would ask is refused
with a message naming `--allow-saves`: see `NO_ONE_TO_ASK`. A question waits
`timeout` seconds (below the 45 s a GPT Action waits) and then counts as no.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Literal

import anyio

from .activity import source_label
from .auth import Caller
from .errors import Forbidden
from .listeners import Listeners
from .printable import clean_label

SaveDecision = Literal["pending", "once", "always", "denied", "expired"]
TRUST_FILE = "trusted_savers.json"
PREVIEW_LINES = 6
PREVIEW_CHARS = 400
MAX_TITLE_SHOWN = 200
MAX_PENDING = 10
# Review of #18, finding 4: like OAuth consent's per-source cap, so one client cannot fill every
# question (each waits up to 40 s) and block the others; and after a Deny, that client's saves
# are refused without asking for a minute, so a denied assistant cannot keep raising the window.
MAX_PENDING_PER_CLIENT = 2
DENY_BACKOFF = 60.0
DECLINED = "The user declined to save this note. Do not retry unless they ask you to save it again."
NOT_ANSWERED = ("Nobody answered the question to save this note in time. Ask the user to allow it in "
                "Notewell, then try again.")
BUSY = "Several saves are already waiting for the user's answer in Notewell; try again once they are answered."
BACKED_OFF = ("The user declined a save from this client less than a minute ago, so Notewell refuses its "
              "saves without asking for a minute. Do not retry unless the user asks you to save again.")
# Trigger: `notewell serve --inbox DIR` without --allow-saves. Why: OAuth's one-time code works
# because the user's browser already waits on Notewell's page; a save arrives mid-conversation
# with no page the user sees, within an Action's 45 s, and a code relayed through the assistant
# would let it approve itself. Outcome: refuse, and say how to allow saves.
NO_ONE_TO_ASK = ("Saving needs the user's OK, and this Notewell runs without a window to ask in. "
                 "The user can restart it with `notewell serve --inbox DIR --allow-saves` to let "
                 "connected assistants save, or use the desktop app, which asks each time.")


@dataclass(frozen=True)
class SaveRequest:
    id: str
    client_id: str  # "key", or the OAuth grant's id
    client_name: str  # cleaned: a plain label
    title: str  # cleaned, cut
    preview: str  # the first lines of the text, cut
    created_at: float
    decision: SaveDecision = "pending"
    source: str = ""  # where the request came from, in words: "This computer", "Internet (via sharing)", …

    @property
    def question(self) -> str:
        return f"“{self.client_name}” wants to save a note “{self.title}” to your inbox folder."


class TrustedSavers:
    """Clients the user told "Always for this client": {client_id: name}, kept in a 0600 file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._trusted: dict[str, str] = self._load()

    def __contains__(self, client_id: str) -> bool:
        with self._lock:
            return client_id in self._trusted

    def add(self, client_id: str, name: str) -> None:
        with self._lock:
            self._trusted[client_id] = name
            self._save()

    def remove(self, client_id: str) -> None:
        with self._lock:
            if self._trusted.pop(client_id, None) is not None:
                self._save()

    def names(self) -> dict[str, str]:
        with self._lock:
            return dict(self._trusted)

    def _load(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none trusted: every save asks, the safe side
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._trusted, handle, indent=2, ensure_ascii=False)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


class SaveApprovals:
    def __init__(
        self,
        trusted: TrustedSavers,
        *,
        ask: Callable[[], bool],
        can_ask: bool = True,
        timeout: float = 40.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trusted = trusted
        self._ask = ask  # False: the user allowed every save (setting, or `--allow-saves`)
        self._can_ask = can_ask  # False: no window to ask in (`notewell serve`)
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: dict[str, SaveRequest] = {}
        self._denied_at: dict[str, float] = {}  # client_id → when the user last said Deny
        self._listeners: Listeners[SaveRequest] = Listeners()

    async def decide(self, caller: Caller, title: str, text: str, source: str = "") -> None:
        """Return once the user allowed this save; raise Forbidden (403) if not."""
        if not self._ask() or caller.id in self.trusted:
            return
        if not self._can_ask:
            raise Forbidden(NO_ONE_TO_ASK)
        with self._lock:
            denied_at = self._denied_at.get(caller.id)
        if denied_at is not None and self._clock() - denied_at < DENY_BACKOFF:
            raise Forbidden(BACKED_OFF)
        request = self._open(caller, title, text, source)
        try:
            while True:
                decision = self.get(request.id).decision  # type: ignore[union-attr]
                if decision == "pending" and self._clock() - request.created_at > self._timeout:
                    self._decide(request.id, "expired")
                    continue
                if decision in ("once", "always"):
                    return
                if decision == "denied":
                    raise Forbidden(DECLINED)
                if decision == "expired":
                    raise Forbidden(NOT_ANSWERED)
                await anyio.sleep(0.05)
        finally:
            with self._lock:
                final = self._requests.pop(request.id, request)
            self._listeners.notify(final if final.decision != "pending" else replace(final, decision="expired"))

    def get(self, request_id: str) -> SaveRequest | None:
        with self._lock:
            return self._requests.get(request_id)

    def pending(self) -> list[SaveRequest]:
        with self._lock:
            return [r for r in self._requests.values() if r.decision == "pending"]

    def allow_once(self, request_id: str) -> bool:
        return self._decide(request_id, "once")

    def allow_always(self, request_id: str) -> bool:
        request = self.get(request_id)
        if request is None or not self._decide(request_id, "always"):
            return False
        self.trusted.add(request.client_id, request.client_name)
        return True

    def deny(self, request_id: str) -> bool:
        request = self.get(request_id)
        if request is None or not self._decide(request_id, "denied"):
            return False
        now = self._clock()
        with self._lock:
            self._denied_at = {c: t for c, t in self._denied_at.items() if now - t < DENY_BACKOFF}
            self._denied_at[request.client_id] = now
        return True

    def close(self) -> None:
        """Notewell is stopping: every waiting save is answered no at once."""
        for request in self.pending():
            self._decide(request.id, "expired")

    def subscribe(self, listener: Callable[[SaveRequest], None]) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    def _open(self, caller: Caller, title: str, text: str, source: str) -> SaveRequest:
        with self._lock:
            waiting = [r for r in self._requests.values() if r.decision == "pending"]
            if len(waiting) >= MAX_PENDING or sum(r.client_id == caller.id for r in waiting) >= MAX_PENDING_PER_CLIENT:
                raise Forbidden(BUSY)
            request = SaveRequest(
                id=secrets.token_urlsafe(12), client_id=caller.id, client_name=clean_label(caller.name, 60),
                title=clean_label(title, MAX_TITLE_SHOWN) or "(untitled)", preview=preview(text),
                created_at=self._clock(), source=source_label(source) if source else "")
            self._requests[request.id] = request
        self._listeners.notify(request)
        return request

    def _decide(self, request_id: str, decision: SaveDecision) -> bool:
        with self._lock:
            request = self._requests.get(request_id)
            if request is None or request.decision != "pending":
                return False
            self._requests[request_id] = replace(request, decision=decision)
            return True


# Every character that ends a line somewhere (str.splitlines's set, and \r\n as one), and the
# other control characters, which become spaces (review of #18, finding 7).
_LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def preview(text: str) -> str:
    """The first lines of a note that have something to show, cleaned for a plain-text question:
    blank lines and unusual line separators cannot push what is saved out of sight."""
    lines = [clean_label(_CONTROLS.sub(" ", line), PREVIEW_CHARS) for line in _LINE_BREAKS.split(text)]
    shown_lines = [line for line in lines if line]
    shown = "\n".join(shown_lines[:PREVIEW_LINES])
    cut = len(shown_lines) > PREVIEW_LINES or len(shown) > PREVIEW_CHARS
    return (shown[:PREVIEW_CHARS] + ("…" if cut else "")).strip()
