"""What the status header says, state by state (pure: `headline`)."""

from __future__ import annotations

import pytest

from notewell.app.gui.status_header import Headline, headline
from notewell.indexer.types import Progress
from notewell.plugin_api.tunnel import TunnelStatus

OFF = TunnelStatus("off")
ONLINE = TunnelStatus("online", "https://calm-otter-123.ngrok-free.app")


@pytest.mark.parametrize(
    ("state", "message", "notes", "progress", "tunnel", "expected"),
    [
        ("opening", "", None, None, OFF, Headline("Opening your index… · Sharing off", "busy")),
        ("idle", "Up to date", 1234, None, OFF, Headline("Up to date · 1,234 notes · Sharing off", "ok")),
        ("idle", "Up to date", 0, None, OFF, Headline("No notes yet: add a folder · Sharing off", "ok")),
        ("idle", "Up to date", 1, None, ONLINE,
         Headline("Up to date · 1 note · Sharing at https://calm-otter-123.ngrok-free.app", "ok")),
        ("embedding", "Embedding passages…", 10, Progress("embedding", None, 40, 100), OFF,
         Headline("Indexing 40% · 10 notes · Sharing off", "busy")),
        ("embedding", "Embedding passages… less than a minute left", 10, Progress("embedding", None, 100, 100), OFF,
         Headline("Indexing 99% · less than a minute left · 10 notes · Sharing off", "busy")),
        ("embedding", "Preparing the model…", 10, None, OFF,
         Headline("Preparing the model… · 10 notes · Sharing off", "busy")),
        ("scanning", "", 10, None, TunnelStatus("connecting"),
         Headline("Checking your notes for changes… · 10 notes · Sharing: connecting…", "busy")),
        ("paused", "", 10, None, TunnelStatus("error", message="offline", retrying=True),
         Headline("Indexing paused · 10 notes · Sharing: retrying…", "ok")),
        ("idle", "", 10, None, TunnelStatus("error", message="offline"),
         Headline("Up to date · 10 notes · Sharing stopped (see Connect)", "error")),
        ("error", "Disk full: free some space.", 10, None, OFF,
         Headline("Indexing stopped: Disk full: free some space. · 10 notes · Sharing off", "error")),
    ],
)
def test_headline(state, message, notes, progress, tunnel, expected) -> None:
    assert headline(state, message, notes, progress, tunnel) == expected
