"""Does the window keep responding while tldr-en indexes with the real model? (issue 5)

    python bench/bench_gui_responsive.py [--seconds 120]

Builds the desktop app as `notewell` does (vectors in the Chroma child process, the
bundled model, the local API server), adds tldr-en as the one folder and, while
the indexer works on its own thread, ticks a 10 ms QTimer on the GUI thread. Every
gap between ticks beyond the interval is time the window could not repaint or
answer a click. Reports the gaps' distribution over `--seconds` of indexing (or
until it finishes). Floor: stalls < 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPUS = Path("/work/shared/eval/corpora/tldr-en.tar.gz")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from notewell.app.gui.app import build_desktop
    from notewell.app.preferences import Preferences
    from notewell.app.settings import Settings

    qt = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(args.corpus) as tar:
            tar.extractall(tmp, filter="data")
        (folder,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        data = Path(tmp) / "data"
        data.mkdir()
        settings = Settings.load(data)
        settings.port = 0
        settings.add_folders([folder])
        settings.save(data)
        desktop = build_desktop(Preferences(settings, data), tray_available=False)
        desktop.window.show()

        gaps: list[float] = []
        states: list[str] = []
        last = [time.perf_counter()]

        stalled: list[tuple[float, float, str]] = []  # (seconds in, gap, indexer state)

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            if now - last[0] >= 0.1:
                stalled.append((round(now - started, 2), round((now - last[0]) * 1000), states[-1] if states else ""))
            last[0] = now

        def state_changed(state: str, message: str) -> None:
            states.append(state)
            if state == "idle" and "embedding" in states:
                qt.quit()

        desktop.bridge.index_state_changed.connect(state_changed)
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        timer.start()
        QTimer.singleShot(int(args.seconds * 1000), qt.quit)
        started = time.perf_counter()
        desktop.start()
        qt.exec()  # the app's own event loop, as in `notewell`
        timer.stop()
        seen = sorted(set(states))
        desktop.shutdown()

    stalls = [g for g in gaps if g >= 0.1]
    result = {
        "seconds": round(time.perf_counter() - started, 1),
        "states_seen": seen,
        "ticks": len(gaps),
        "gap_ms": {"p50": round(statistics.median(gaps) * 1000, 1),
                   "p99": round(sorted(gaps)[int(len(gaps) * 0.99)] * 1000, 1),
                   "max": round(max(gaps) * 1000, 1)},
        "stalls_ge_100ms": len(stalls),
        "stalls": stalled[:20],
        "floor_no_stall_ge_100ms": not stalls,
    }
    print(json.dumps(result, indent=2))
    return 0 if result["floor_no_stall_ge_100ms"] else 1


if __name__ == "__main__":
    sys.exit(main())
