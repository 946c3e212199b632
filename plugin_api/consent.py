"""Pending OAuth consents: "ChatGPT wants to read your notes — Allow / Deny" (no Qt here).

    queue = ConsentQueue()
    queue.subscribe(show)          # the GUI dialog, or `notewell serve` printing the code
    queue.approve(request.id)      # the desktop app's Allow button
    queue.enter_code(id, "K7QD-2MXF")   # headless: the code serve printed, typed into the browser

The decision happens out of band (in the app, or with a code only the server's
console shows), so a web page cannot approve on the user's behalf. Listeners
run on the server's thread: keep them short (re-emit as a Qt signal).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Literal

from .listeners import Listeners

Decision = Literal["pending", "approved", "denied", "expired"]
Listener = Callable[["ConsentRequest"], None]
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
MAX_CODE_ATTEMPTS = 5


@dataclass(frozen=True)
class ConsentRequest:
    id: str  # in the browser's URL; not a secret
    client_name: str
    redirect_host: str
    scopes: tuple[str, ...]
    code: str  # the one-time code; a secret shown only to the person running Notewell
    created_at: float
    decision: Decision = "pending"
    attempts: int = 0

    @property
    def question(self) -> str:
        return (f"{self.client_name} wants to read your notes (it will return to {self.redirect_host}). "
                "Allow it?")


class ConsentQueue:
    def __init__(self, timeout: float = 600.0, clock: Callable[[], float] = time.time) -> None:
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: dict[str, ConsentRequest] = {}
        self._listeners: Listeners[ConsentRequest] = Listeners()

    def open(self, client_name: str, redirect_host: str, scopes: tuple[str, ...]) -> ConsentRequest:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        request = ConsentRequest(
            id=secrets.token_urlsafe(16), client_name=client_name[:100] or "An unnamed client",
            redirect_host=redirect_host, scopes=scopes, code=f"{code[:4]}-{code[4:]}",
            created_at=self._clock(),
        )
        with self._lock:
            self._forget_old()
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
        """The browser was sent back to the client: the request is used up."""
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
