"""`notewell index`, `search` and `eval` as a user runs them: real processes, the
real bundled model, real Chroma (embedded, and a `chroma run` server)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import write_notes

NOTES = {
    "git.md": "# Git\n\n## Undo\n\nUndo the last commit but keep the changes: `git reset HEAD~`.\n",
    "bread.md": "# Bread\n\nMix flour, water, salt and starter; bake in a Dutch oven.\n",
    "时区.md": "# 修改时区\n\n在 Windows 上用 tzutil 命令设置系统时区。\n",
}


def notewell(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "notewell.app", *args], capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    notes = write_notes(root / "notes", NOTES)
    data = root / "data"
    done = notewell("index", str(notes), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    return notes, data


def test_index_ends_with_one_summary_line(indexed: tuple[Path, Path]) -> None:
    notes, data = indexed
    again = notewell("index", "--data-dir", str(data))
    assert again.returncode == 0, again.stderr
    (line,) = again.stdout.strip().splitlines()
    assert line.startswith("0 indexed, 3 unchanged, 0 removed, 0 skipped, 0 failed; 0 passages embedded")
    assert "Preparing the embedding model" not in again.stderr  # it was prepared by the first run
    settings = json.loads((data / "settings.json").read_text())
    assert settings["folders"] == [str(notes.resolve())]


def test_search_json_has_the_documented_shape(indexed: tuple[Path, Path]) -> None:
    notes, data = indexed
    done = notewell("search", "how do I undo a commit", "-k", "2", "--json", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    assert results[0]["path"] == "git.md" and results[0]["heading"] == "Git > Undo"
    assert results[0]["folder"] == str(notes.resolve())
    assert len(results) == 2


def test_search_finds_chinese_and_prints_readably(indexed: tuple[Path, Path]) -> None:
    _, data = indexed
    done = notewell("search", "怎么改时区", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1. 修改时区")
    assert "时区.md:3" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("search",),
        ("search", "x", "-k", "0"),
        ("search", "x", "--mode", "fuzzy"),
        ("index", "/definitely/not/a/folder"),
        ("frobnicate",),
    ],
)
def test_bad_usage_exits_2_with_a_message(args: tuple[str, ...], tmp_path: Path) -> None:
    done = notewell(*args, "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "error" in done.stderr and "Traceback" not in done.stderr


def test_failure_exits_1_with_one_line(tmp_path: Path) -> None:
    port = _free_port()
    done = notewell("search", "x", "--data-dir", str(tmp_path), "--chroma-url", f"http://127.0.0.1:{port}")
    assert done.returncode == 0 and done.stdout == "No results.\n"  # an empty index never needs the vectors
    done = notewell("doctor", "--data-dir", str(tmp_path), "--chroma-url", f"http://127.0.0.1:{port}")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Chroma server" in lines[0] and "chroma run" in lines[0]


def test_eval_prints_metrics_for_every_mode(tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        json.dumps({"id": "1", "query": "undo my last commit", "relevant": ["git.md"], "kind": "paraphrase"}) + "\n"
        + json.dumps({"id": "2", "query": "tzutil", "relevant": ["时区.md"], "kind": "keyword"}) + "\n"
    )
    done = notewell("eval", "--corpus", str(notes), "--queries", str(queries), "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["queries"] == 2 and report["index_seconds"] > 0
    assert set(report["modes"]) == {"hybrid", "dense", "keyword"}
    hybrid = report["modes"]["hybrid"]
    assert hybrid["recall@5"] == 1.0 and set(hybrid["by_kind"]) == {"paraphrase", "keyword"}
    assert hybrid["query_ms_p50"] > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path):
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(chroma).exists():
        pytest.skip("the chroma CLI is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_vectors_can_live_on_a_chroma_server(tmp_path: Path, chroma_server: str) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    data = tmp_path / "data"
    done = notewell("index", str(notes), "--data-dir", str(data), "--chroma-url", chroma_server)
    assert done.returncode == 0, done.stderr
    assert not (data / "chroma").exists()
    found = notewell("search", "bake bread", "--json", "--mode", "dense", "--data-dir", str(data),
                     "--chroma-url", chroma_server)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["results"][0]["path"] == "bread.md"

    import chromadb

    host, port = chroma_server.rsplit(":", 1)
    client = chromadb.HttpClient(host="127.0.0.1", port=int(port))
    assert client.get_collection("notewell-chunks").count() >= 3


def test_search_says_when_nothing_matches_well(indexed: tuple[Path, Path]) -> None:
    _, data = indexed
    weak = notewell("search", "xyzzyqq plugh", "--data-dir", str(data))
    assert weak.returncode == 0, weak.stderr
    assert weak.stdout.startswith("No good match")
    good = notewell("search", "how do I undo a commit", "--data-dir", str(data))
    assert good.stdout.startswith("1. Git › Git > Undo")


def test_search_after_a_model_change_says_to_run_index(tmp_path: Path) -> None:
    """The settings name another model than the one the notes were embedded with (and neither
    the app nor `serve` has re-embedded them yet): search answers from keywords and says how to
    search by meaning again, instead of logging a vector-dimension error."""
    notes = write_notes(tmp_path / "notes", NOTES)
    data = tmp_path / "data"
    assert notewell("index", str(notes), "--data-dir", str(data)).returncode == 0
    settings = json.loads((data / "settings.json").read_text())
    (data / "settings.json").write_text(json.dumps({**settings, "model": "use-multilingual-v3"}))
    done = notewell("search", "tzutil", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1. 修改时区")
    assert "Run `notewell index` to embed them with the new model" in done.stderr
    assert "dimension" not in done.stderr
