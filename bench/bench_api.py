"""Measure POST /query over real HTTP on 127.0.0.1 against a real index (issue 3 floors).

    python bench/bench_api.py                      # tldr-all, index cached in --data-dir
    python bench/bench_api.py --corpus /work/shared/eval/corpora/tldr-en.tar.gz --requests 200
    python bench/bench_api.py --index DATA_DIR     # an index already built (e.g. by bench_index.py), as is

The embedder remembers no query vectors here: every request pays for its embedding,
as a stream of new questions would.

Floors: one client p50 ≤ 30 ms and p95 ≤ 60 ms; 8 concurrent clients ≥ 50 requests/s with
zero errors. The query-embedding time alone is reported beside them as the floor under
any API latency. Prints one JSON object; exit code 1 if a floor is missed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from notewell.indexer.embedding import SentenceTransformerEmbedder  # noqa: E402
from notewell.indexer.notes_index import NotesIndex  # noqa: E402
from notewell.plugin_api.app import ApiConfig, create_app  # noqa: E402
from notewell.plugin_api.limits import Limits  # noqa: E402
from notewell.plugin_api.server import ApiServer  # noqa: E402

CORPUS = Path("/work/shared/eval/corpora/tldr-all.tar.gz")
QUERIES = Path("/work/shared/eval/queries")
TOKEN = "nw_bench-token-0123456789abcdefghijklmnopqrstuv"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def load_queries() -> list[str]:
    texts = []
    for path in sorted(QUERIES.glob("*.jsonl")):
        texts += [json.loads(line)["query"] for line in path.read_text().splitlines() if line.strip()]
    return texts or ["extract a tar archive", "list files by size", "kill a process by port"]


def corpus_folder(archive: Path, data_dir: Path) -> Path:
    target = data_dir / "corpus"
    name = archive.name.removesuffix(".tar.gz")
    if not (target / name).is_dir():
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    return target / name


def single_client(url: str, queries: list[str], n: int) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for i in range(n):
            body = {"queries": [{"query": queries[i % len(queries)], "top_k": 5}]}
            start = time.perf_counter()
            response = client.post("/query", json=body)
            latencies.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
    return latencies


def concurrent_clients(url: str, queries: list[str], clients: int, seconds: float) -> dict[str, float]:
    done, errors = [0] * clients, [0] * clients
    stop = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
            i = slot
            while time.perf_counter() < stop:
                body = {"queries": [{"query": queries[i % len(queries)], "top_k": 5}]}
                try:
                    ok = client.post("/query", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                done[slot] += ok
                errors[slot] += not ok
                i += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"requests_per_s": round(sum(done) / elapsed, 1), "requests": sum(done), "errors": sum(errors)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/notewell-bench"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--index", type=Path, help="an existing index data dir, searched without syncing")
    parser.add_argument("--load-url", help=argparse.SUPPRESS)  # internal: be the clients of a server there
    args = parser.parse_args()
    if args.load_url:
        print(json.dumps(concurrent_clients(args.load_url, load_queries(), args.clients, args.seconds)))
        return 0

    if args.index:
        index_dir, folder = args.index, None
    else:
        data_dir = args.data_dir / args.corpus.name.removesuffix(".tar.gz")
        folder = corpus_folder(args.corpus, data_dir)
        index_dir = data_dir / "index"
    embedder = SentenceTransformerEmbedder(cache_dir=index_dir / "onnx", remembered_queries=0)
    index = NotesIndex.open(index_dir, embedder)
    if folder is not None:
        index.sync([folder])
    index.prepare_search(wait=True)
    queries = load_queries()

    for text in queries[:10]:
        embedder.embed_query(text)  # warm the model
    embed_ms = []
    for i in range(min(args.requests, 200)):
        start = time.perf_counter()
        embedder.embed_query(queries[i % len(queries)])
        embed_ms.append((time.perf_counter() - start) * 1000)
    search_ms = []
    for i in range(min(args.requests, 200)):
        start = time.perf_counter()
        index.search(queries[i % len(queries)], k=5)
        search_ms.append((time.perf_counter() - start) * 1000)

    # The bench is one heavy client: lift the per-client rate limit, nothing else.
    config = ApiConfig(limits=Limits(rate_per_minute=10**7, rate_burst=10**6))
    server = ApiServer(create_app(index, config, token=lambda: TOKEN), port=0)
    server.start()
    try:
        single_client(server.url, queries, 20)  # warm-up
        latencies = single_client(server.url, queries, args.requests)
        # The clients run in their own process, as real ones do: they share the cores but not the GIL.
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        load = json.loads(subprocess.run(
            [sys.executable, __file__, "--load-url", server.url, "--clients", str(args.clients),
             "--seconds", str(args.seconds)],
            check=True, capture_output=True, text=True,
        ).stdout)
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        clients_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        per_request = 1000 / max(1, load["requests"] + load["errors"])
        load["server_cpu_ms_per_request"] = round(
            (cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime) * per_request, 1)
        load["clients_cpu_ms_per_request"] = round((clients_cpu.ru_utime + clients_cpu.ru_stime) * per_request, 1)
    finally:
        server.stop()
        index_chunks = index.catalog.chunk_count()
        index.close()

    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    result = {
        "corpus": str(args.index) if args.index else args.corpus.name,
        "chunks": index_chunks,
        "onnx": embedder.prepare_onnx(wait=True),
        "query_http_ms": {"p50": round(p50, 2), "p95": round(p95, 2), "n": len(latencies)},
        "embed_query_ms": {"p50": round(statistics.median(embed_ms), 2), "p95": round(percentile(embed_ms, 0.95), 2)},
        "search_in_process_ms": {"p50": round(statistics.median(search_ms), 2), "p95": round(percentile(search_ms, 0.95), 2)},
        f"concurrent_{args.clients}": load,
        "floors": {"p50<=30": p50 <= 30, "p95<=60": p95 <= 60,
                   "rps>=50": load["requests_per_s"] >= 50, "zero_errors": load["errors"] == 0},
    }
    print(json.dumps(result, indent=2))
    return 0 if all(result["floors"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
