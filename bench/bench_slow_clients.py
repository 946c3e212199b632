"""A real client's /query while slow clients hang on (issue 15 floor).

    python bench/bench_slow_clients.py [--slow 1000] [--queries 50] [--descriptors 1024]

The server runs in its own process with 1,024 file descriptors (as on the machine of the
review that found the problem; its cap is then 896 connections) over a small real index (HashEmbedder: this measures the
server, not the model). Slow clients: `--slow` sockets that send half a request line, and
as many that send headers and then a body byte by byte, through the public host. Each is
held for the server's header/body deadline (10 s / 30 s by default), then reconnected.

Floor: every /query answered, the slowest within 1 s, while the slow clients hang on.
Prints one JSON object; exit code 1 if the floor is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TOKEN = "nw_bench-slow-clients-0123456789abcdefghijklmnop"
PUBLIC_HOST = "bench-notes.ngrok-free.app"
SERVER = f"""
import resource, sys
from pathlib import Path
from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.server import ApiServer
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), int(sys.argv[2])))
notes = Path(sys.argv[1]) / "notes"
notes.mkdir()
for n in range(200):
    (notes / f"note{{n}}.md").write_text(f"# Note {{n}}\\n\\nSourdough starter, flour and water, day {{n}}.\\n")
index = NotesIndex.open(Path(sys.argv[1]) / "data", HashEmbedder())
index.sync([notes])
app = create_app(index, ApiConfig(), token=lambda: {TOKEN!r}, public_url=lambda: "https://{PUBLIC_HOST}")
server = ApiServer(app, port=0)
server.start()
print(server.url, flush=True)
sys.stdin.read()
"""
FLOOR_MS = 1000.0


def hold_slow_clients(url: str, count: int, stop: threading.Event, held: list[int]) -> None:
    """Keep `count` half-sent requests open (headers, and bodies via the public host)."""
    host, port = url.removeprefix("http://").split(":")
    def head(n: int) -> bytes:  # half of them slow bodies, each from its own visitor via the tunnel
        if n % 2 == 0:
            return b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        return (f"POST /register HTTP/1.1\r\nHost: {PUBLIC_HOST}\r\nX-Forwarded-For: 198.18.{n // 250}.{n % 250}"
                "\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{").encode()

    sockets: list[socket.socket | None] = [None] * count
    while not stop.is_set():
        alive = 0
        for n in range(count):
            sock = sockets[n]
            try:
                if sock is None:
                    sock = sockets[n] = socket.create_connection((host, int(port)), timeout=5)
                    sock.sendall(head(n))
                    sock.setblocking(False)
                elif _closed(sock):
                    raise ConnectionResetError
                sock.send(b"a")
                alive += 1
            except OSError:
                if sock is not None:
                    sock.close()
                sockets[n] = None  # closed by the server: reconnect on the next round
        held.append(alive)
        stop.wait(0.5)
    for sock in sockets:
        if sock is not None:
            sock.close()


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False


def query_latencies(url: str, count: int) -> tuple[list[float], int]:
    times, errors = [], 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        for n in range(count):
            started = time.perf_counter()
            try:
                ok = http.post("/query", json={"queries": [{"query": f"sourdough day {n}"}]}).status_code == 200
            except httpx.HTTPError:
                ok = False
            times.append((time.perf_counter() - started) * 1000)
            errors += not ok
            time.sleep(0.05)
    return times, errors


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1), "max_ms": round(ordered[-1], 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--descriptors", type=int, default=1024, help="the server's hard and soft limit")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([sys.executable, "-c", SERVER, tmp, str(args.descriptors)], cwd=REPO, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            quiet, quiet_errors = query_latencies(url, args.queries)
            stop, held = threading.Event(), []
            holder = threading.Thread(target=hold_slow_clients, args=(url, args.slow, stop, held), daemon=True)
            holder.start()
            time.sleep(3)
            loaded, errors = query_latencies(url, args.queries)
            stop.set()
            holder.join(30)
        finally:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(20)
    result = {
        "server_descriptors": args.descriptors,
        "slow_connections_wanted": args.slow,
        "slow_connections_held_median": int(statistics.median(held)) if held else 0,
        "query_alone": summary(quiet) | {"errors": quiet_errors},
        "query_while_slow": summary(loaded) | {"errors": errors},
        "floor_max_ms": FLOOR_MS,
    }
    result["ok"] = errors == 0 and result["query_while_slow"]["max_ms"] <= FLOOR_MS
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
