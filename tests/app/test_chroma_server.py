"""The desktop app's Chroma child process: it serves, and never outlives the app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from notewell.app.chroma_server import ChromaServer
from tests.helpers import unit_rows, wait_until

REPO = Path(__file__).resolve().parents[2]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers signal 0; it has exited all the same.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z")


def test_serves_on_127_0_0_1_and_stops(tmp_path: Path) -> None:
    server = ChromaServer(tmp_path / "chroma", tmp_path / "chroma.log")
    url = server.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/api/v2/heartbeat", timeout=5).status_code == 200
        pid = server.pid
    finally:
        server.stop()
    assert pid is not None and wait_until(lambda: gone(pid), 15)


def test_the_vector_store_process_ends_when_the_app_is_killed(tmp_path: Path) -> None:
    # An "app" that starts the child and then dies without any cleanup (kill -9).
    app = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from notewell.app.chroma_server import ChromaServer
            server = ChromaServer(Path({str(tmp_path / "chroma")!r}), Path({str(tmp_path / "chroma.log")!r}))
            server.start()
            print(server.pid, flush=True)
            time.sleep(600)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        child = int(app.stdout.readline())
        assert not gone(child)
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        assert wait_until(lambda: gone(child), 20), "the Chroma process outlived the app"
    finally:
        app.kill()


def test_the_app_quits_cleanly_on_sigterm_and_takes_the_vector_store_with_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTEWELL_DATA_DIR": str(data)}
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        app = subprocess.Popen([sys.executable, "-m", "notewell.app", "gui"], env=env, cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        log = data / "notewell.log"
        assert wait_until(lambda: log.exists() and "window up" in log.read_text(), 60), "the window never came up"
        children: list[int] = []

        def vector_store_started() -> bool:
            found = subprocess.run(["pgrep", "-P", str(app.pid), "-f", "chromadb"], capture_output=True, text=True)
            children[:] = [int(pid) for pid in found.stdout.split()]
            return bool(children)

        assert wait_until(vector_store_started, 60), "the vector store process never started"
        app.send_signal(signal.SIGTERM)
        assert app.wait(30) == 0, errors.read_text()[-2000:]
        assert "quitting on a signal" in log.read_text()
        assert wait_until(lambda: all(gone(pid) for pid in children), 15)
    finally:
        app.kill()


def test_a_rebuilt_collection_leaves_no_old_graph_on_the_servers_disk(tmp_path: Path) -> None:
    from notewell.indexer.vectors import VectorStore

    files = tmp_path / "chroma"
    server = ChromaServer(files, tmp_path / "chroma.log")
    url = server.start()
    try:
        store = VectorStore(url=url, server_files=files)
        rows = unit_rows(1500, 3)
        ids = [f"c{i}" for i in range(1500)]
        store.upsert(ids, rows, [1] * 1500)  # past Chroma's 1,000-vector flush: the graph is on disk
        store.delete(ids[:1200])
        graphs = {d.name for d in files.iterdir() if d.is_dir()}
        assert graphs
        assert store.compact() == 300
        assert store.all_ids() == set(ids[1200:])
        assert graphs.isdisjoint(d.name for d in files.iterdir() if d.is_dir())
    finally:
        server.stop()
