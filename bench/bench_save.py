"""Saving a note (issue 18): POST /notes answered → the note found by POST /query.

    python bench/bench_save.py                  # the real model, hybrid search
    python bench/bench_save.py --embedder hash  # plumbing only, fast

A whole runtime (as `notewell serve --inbox DIR --allow-saves` runs it) over a small
notes folder with its inbox inside; each save is polled through POST /query until
its note_id appears. Floor: save → found p95 ≤ 1.0 s. Prints one JSON object; exit
code 1 if the floor is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from notewell.app.preferences import Preferences  # noqa: E402
from notewell.app.runtime import Runtime, RuntimeOptions  # noqa: E402
from notewell.app.settings import Settings  # noqa: E402
from notewell.indexer.embedding import HashEmbedder  # noqa: E402

FLOOR_SECONDS = 1.0


class Quiet:
    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda *args, **kwargs: None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", choices=("real", "hash"), default="real")
    parser.add_argument("--saves", type=int, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-save-"))
    notes = root / "notes"
    (notes / "Inbox").mkdir(parents=True)
    for i in range(50):
        (notes / f"n{i}.md").write_text(f"# Note {i}\n\nHarbor lantern {i} and other things.\n")
    Settings(folders=[str(notes)], port=0, inbox_folder=str(notes / "Inbox"), ask_before_saving=False).save(root)
    embedder = HashEmbedder() if args.embedder == "hash" else None
    runtime = Runtime(Preferences(Settings.load(root), root), RuntimeOptions(share=False, embedder=embedder), Quiet())
    runtime.start()
    try:
        deadline = time.monotonic() + 600
        while not (runtime.sharing.server_state.state == "running" and runtime.indexing.state == "idle"):
            if time.monotonic() > deadline:
                raise SystemExit("the index never became ready")
            time.sleep(0.05)
        url, headers = runtime.sharing.server_state.url, {"Authorization": f"Bearer {runtime.tokens.get()}"}
        seconds: list[float] = []
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            for i in range(args.saves):
                word = f"zephyrquill{i}"
                saved = http.post("/notes", json={"title": f"Saved {i}", "text": f"Remember the {word} plan."})
                saved.raise_for_status()
                started, note_id = time.monotonic(), saved.json()["id"]
                query = {"queries": [{"query": f"{word} plan", "top_k": 3}]}
                while True:
                    found = http.post("/query", json=query).json()["results"][0]["results"]
                    if any(r["note_id"] == note_id for r in found):
                        break
                    if time.monotonic() - started > 30:
                        raise SystemExit(f"save {i} never found")
                    time.sleep(0.01)
                seconds.append(time.monotonic() - started)
    finally:
        runtime.close()
    p95 = percentile(seconds, 0.95)
    print(json.dumps({"embedder": args.embedder, "saves": len(seconds),
                      "save_to_found_p50_s": round(percentile(seconds, 0.5), 3),
                      "save_to_found_p95_s": round(p95, 3), "floor_s": FLOOR_SECONDS}))
    return 0 if p95 <= FLOOR_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
