"""The event loop keeps ticking while a real sync runs on the indexer's thread."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer

from tests.helpers import write_notes

WORDS = ("river stone lantern orchard copper meadow signal harbor thistle ember quartz "
         "willow falcon garnet prairie cobalt juniper tundra saffron glacier").split()


def corpus(n: int) -> dict[str, str]:
    notes = {}
    for i in range(n):
        body = "\n\n".join(
            f"## Part {p}\n\n" + " ".join(WORDS[(i * 7 + p * 3 + w) % len(WORDS)] for w in range(60))
            for p in range(4)
        )
        notes[f"topic{i % 10}/note{i:03}.md"] = f"# Note {i}\n\n{body}\n"
    return notes


def test_gui_stays_responsive_while_indexing(qtbot, make_desktop, tmp_path):
    folder = write_notes(tmp_path / "many", corpus(300))
    desktop = make_desktop([folder], start=False, vectors_in_child=True)  # as the app runs
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    states: list[str] = []
    desktop.bridge.index_state_changed.connect(lambda state, message: states.append(state))
    timer.start()
    last[0] = time.perf_counter()
    desktop.start()
    qtbot.waitUntil(lambda: "idle" in states, timeout=60_000)
    timer.stop()

    assert "embedding" in states
    assert len(gaps) > 100
    # Issue 5 asks for stalls < 100 ms. On a shared 2-core CI machine the OS alone can
    # hold the GUI thread off the CPU for that long, so: 99% of ticks within 100 ms, and
    # no stall a person would notice (250 ms). Chroma in-process failed this by far (0.4-0.9 s).
    slow = [g for g in gaps if g >= 0.1]
    assert len(slow) <= len(gaps) // 100, f"{len(slow)} stalls ≥ 100 ms: {sorted(slow)[-5:]}"
    assert max(gaps) < 0.25, f"the event loop stalled for {max(gaps) * 1000:.0f} ms"
    tree = desktop.folders_tab.tree
    qtbot.waitUntil(lambda: tree.topLevelItem(0).text(1) == "300")
