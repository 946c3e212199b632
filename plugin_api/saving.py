"""Saving a note for a caller: the user's OK, then one new file in the inbox (issue 18).

    saver = NoteSaver(inbox, approvals, indexed)
    saved = await saver.save(caller, "Trip ideas", "Lisbon in May", ["travel"])

Shared by `POST /notes` and MCP's `save_note`. The file is written by
`indexer.inbox` off the event loop; `indexed` queues the index update on the one
writer (`IndexWorker.sync_paths`) and names the note, so it is searchable within a
second without the request thread touching the index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import anyio

from notewell.indexer.inbox import InboxError, NewNote, unsearchable, write_new_note

from .auth import Caller
from .errors import Conflict, Forbidden, ServiceUnavailable, Unprocessable
from .limits import SaveQuota
from .save_consent import SaveApprovals

log = logging.getLogger("notewell.api")
# An absolute path just written → (its note_id, its path relative to its notes folder); the
# index update is queued.
Indexed = Callable[[Path], "tuple[str, str]"]
# Why a note saved in the inbox now would not be searchable (a hidden or ignored inbox); None: it would.
InboxProblem = Callable[[], "str | None"]
NO_INBOX = ("Saving notes is off: the user has not chosen an inbox folder. They can choose one in "
            "Notewell's Settings (Saving notes), or start `notewell serve --inbox DIR`.")


@dataclass(frozen=True)
class SavedNote:
    id: str
    path: str  # relative to its notes folder, as search results say it
    file: Path  # absolute: for the local activity record, never sent


class NoteSaver:
    def __init__(self, inbox: Path, approvals: SaveApprovals, indexed: Indexed,
                 problem: InboxProblem = lambda: None, quota: SaveQuota | None = None) -> None:
        self.inbox = inbox
        self.approvals = approvals
        self._indexed = indexed
        self._problem = problem
        self._quota = quota or SaveQuota()

    async def save(self, caller: Caller, title: str, text: str, tags: Sequence[str] = (),
                   source: str = "") -> SavedNote:
        """Ask (unless allowed already), write, queue the index update. Raises Forbidden or
        ServiceUnavailable with a message for the assistant. `source`: the guard's client address,
        shown in the question (review of #18, finding 6)."""
        note = NewNote(title, text, tuple(tags), caller.name)
        # Never 200 with an id that does not work (review of #18, finding 9): checked before asking.
        reason = unsearchable(note)
        if reason is not None:
            raise Unprocessable(reason)
        problem = self._problem()
        if problem is not None:
            raise Conflict(problem)
        # Counted before asking: the user is never asked about a save that would then be refused.
        self._quota.charge(caller.id, len(title.encode("utf-8")) + len(text.encode("utf-8")))
        await self.approvals.decide(caller, title, text, source)
        try:
            path = await anyio.to_thread.run_sync(write_new_note, self.inbox, note)
        except InboxError as exc:
            log.warning("A save failed: %s", exc)  # the folder's path stays local
            raise ServiceUnavailable("The note was not saved: Notewell could not write into the inbox "
                                     "folder. The person running Notewell can see why in its log.") from exc
        note_id, rel = self._indexed(path)
        return SavedNote(note_id, rel, path)


def no_inbox() -> Forbidden:
    return Forbidden(NO_INBOX)
