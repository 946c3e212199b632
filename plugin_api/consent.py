"""Pending OAuth consents: "ChatGPT wants to read your notes — Allow / Deny" (no Qt here).

    queue = ConsentQueue()
    queue.subscribe(show)          # the GUI dialog, or `notewell serve` printing the code
    queue.approve(request.id)      # the desktop app's Allow button
    queue.enter_code(id, "K7QD-2MXF")   # headless: the code serve printed, typed into the browser

The decision happens out of band (in the app, or with a code only the server's
console shows), so a web page cannot approve on the user's behalf. Listeners
run on the server's thread: keep them short (re-emit as a Qt signal).

What a question shows comes from a registration anyone can make (issue 15): the
name is cleaned to a plain label (no control or format characters, at most
`MAX_NAME` characters; views show it as plain text), and the return host is the
host of the redirect URI itself. Asking again for the same client while a question
waits joins that question instead of opening another; at most `MAX_PENDING`
questions wait at once (`MAX_PENDING_PER_SOURCE` from one address), so a flood of
/authorize calls cannot fill the screen.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Literal
from urllib.parse import urlsplit

from .access import WRITE_SCOPE
from .listeners import Listeners
from .printable import clean_label, printable

Decision = Literal["pending", "approved", "denied", "expired"]
Listener = Callable[["ConsentRequest"], None]
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
MAX_CODE_ATTEMPTS = 5
MAX_NAME = 60
MAX_PENDING = 5
MAX_PENDING_PER_SOURCE = 2
UNNAMED = "An unnamed client"


class ConsentBusy(Exception):
    """Too many questions are waiting already; the message says what to do."""


@dataclass(frozen=True)
class ConsentRequest:
    id: str  # in the browser's URL; not a secret
    client_id: str
    client_name: str  # cleaned: a plain label
    redirect_host: str  # the redirect URI's host[:port]
    scopes: tuple[str, ...]
    code: str  # the one-time code; a secret shown only to the person running Notewell
    created_at: float
    source: str = ""
    decision: Decision = "pending"
    attempts: int = 0

    @property
    def question(self) -> str:
        return (f"An app calling itself “{self.client_name}” wants to {asks_for(self.scopes)} "
                f"(it will return to {self.redirect_host}). Allow it?")


def return_host(redirect_uri: str) -> str:
    """The host (and a port other than the scheme's) a browser is sent back to."""
    parts = urlsplit(redirect_uri)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return f"{host}:{port}" if port is not None and port != default else host


def asks_for(scopes: tuple[str, ...]) -> str:
    """What a grant of `scopes` lets a client do, in words (the write scope is always named)."""
    return ("read your notes and save new notes into your inbox folder" if WRITE_SCOPE in scopes
            else "read your notes")


def describe_consent(request: ConsentRequest) -> str:
    """`notewell serve`'s line for a new question (escaped: the name comes from a registration)."""
    return printable(
        f"An app calling itself “{request.client_name}” (returning to {request.redirect_host}) asks to "
        f"{asks_for(request.scopes)}. To allow it, type {request.code} on the page it opened in the browser; to refuse, do "
        "nothing.", 600)


class ConsentQueue:
    def __init__(self, timeout: float = 600.0, clock: Callable[[], float] = time.time) -> None:
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: dict[str, ConsentRequest] = {}
        self._listeners: Listeners[ConsentRequest] = Listeners()

    def open(self, client_id: str, client_name: str, redirect_uri: str, scopes: tuple[str, ...],
             source: str = "") -> ConsentRequest:
        """The question for this client: the one already waiting, or a new one (listeners hear it)."""
        name = clean_label(client_name, MAX_NAME) or UNNAMED
        host = return_host(redirect_uri)
        with self._lock:
            self._forget_old()
            waiting = [r for r in self._requests.values() if r.decision == "pending" and not self._expired(r)]
            for request in waiting:
                if (request.client_id, request.redirect_host, request.scopes) == (client_id, host, scopes):
                    return request
            if len(waiting) >= MAX_PENDING or (
                    source and sum(r.source == source for r in waiting) >= MAX_PENDING_PER_SOURCE):
                raise ConsentBusy(
                    "Several requests for access are already waiting for an answer in Notewell. "
                    "Answer or let them expire (10 minutes), then connect again.")
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
            request = ConsentRequest(
                id=secrets.token_urlsafe(16), client_id=client_id, client_name=name, redirect_host=host,
                scopes=scopes, code=f"{code[:4]}-{code[4:]}", created_at=self._clock(), source=source)
            self._requests[request.id] = request
        self._listeners.notify(request)
        return request

    def get(self, request_id: str) -> ConsentRequest | None:
        with self._lock:
            request = self._requests.get(request_id)
            if request is not None and request.decision == "pending" and self._expired(request):
                request = self._requests[request_id] = replace(request, decision="expired")
            return request

    def pending(self) -> list[ConsentRequest]:
        return [r for r in map(self.get, list(self._requests)) if r is not None and r.decision == "pending"]

    def approve(self, request_id: str) -> bool:
        return self._decide(request_id, "approved")

    def deny(self, request_id: str) -> bool:
        return self._decide(request_id, "denied")

    def enter_code(self, request_id: str, code: str) -> bool:
        """The browser typed the one-time code: approve if right; five wrong tries deny."""
        typed = code.strip().upper().replace(" ", "")
        with self._lock:
            request = self._requests.get(request_id)
            if request is None or request.decision != "pending" or self._expired(request):
                return False
            if secrets.compare_digest(typed.replace("-", ""), request.code.replace("-", "")):
                self._requests[request_id] = replace(request, decision="approved")
                return True
            attempts = request.attempts + 1
            decision: Decision = "denied" if attempts >= MAX_CODE_ATTEMPTS else "pending"
            self._requests[request_id] = replace(request, attempts=attempts, decision=decision)
            return False

    def finish(self, request_id: str) -> None:
        """Every browser that waited was sent back to the client: the request is used up."""
        with self._lock:
            self._requests.pop(request_id, None)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    def _decide(self, request_id: str, decision: Decision) -> bool:
        with self._lock:
            request = self._requests.get(request_id)
            if request is None or request.decision != "pending" or self._expired(request):
                return False
            self._requests[request_id] = replace(request, decision=decision)
            return True

    def _expired(self, request: ConsentRequest) -> bool:
        return self._clock() - request.created_at > self._timeout

    def _forget_old(self) -> None:
        old = [k for k, r in self._requests.items() if self._clock() - r.created_at > 2 * self._timeout]
        for key in old:
            del self._requests[key]
