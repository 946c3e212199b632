"""Smoke-run an installed Notewell from outside any checkout (run by `.ci/run`).

    <venv>/bin/python .ci/smoke.py WORKDIR

With the `notewell` next to this Python: --version, index the shipped sample notes,
search them, and `serve` answers /healthz and a real query. Prints one JSON line of
timings; exits non-zero with the reason on the first failure.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def main(workdir: Path) -> int:
    exe = str(Path(sys.executable).with_name("notewell"))
    data = workdir / "data"
    env = {**os.environ, "HOME": str(workdir / "home"), "NOTEWELL_DATA_DIR": str(data), "PYTHONPATH": ""}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)

    def run(*args: str, timeout: float = 300) -> str:
        done = subprocess.run([exe, *args], capture_output=True, text=True, cwd=workdir, env=env,
                              timeout=timeout)
        if done.returncode != 0:
            sys.exit(f"smoke: `notewell {' '.join(args)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    timings: dict[str, float] = {}
    started = time.perf_counter()
    version = run("--version").strip()
    if not version.startswith("notewell "):
        sys.exit(f"smoke: --version printed {version!r}")
    from notewell import assets  # the installed package, not a checkout

    if "site-packages" not in str(Path(assets.__file__)):
        sys.exit(f"smoke: notewell was imported from {assets.__file__}, not the installed wheel")
    samples = assets.sample_notes_dir()
    summary = run("index", str(samples))
    timings["index_seconds"] = round(time.perf_counter() - started, 1)
    if "indexed" not in summary:
        sys.exit(f"smoke: index printed {summary!r}")
    results = json.loads(run("search", "how do I bake bread", "--json"))["results"]
    timings["first_search_seconds"] = round(time.perf_counter() - started, 1)
    if not results or results[0]["title"] != "Sourdough bread":
        sys.exit(f"smoke: search found {[r['title'] for r in results]}")

    serve = subprocess.Popen([exe, "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, cwd=workdir, env={**env, "NOTEWELL_TOKEN": "nw_smoke-token-0123456789abcdefghijklmnop"})
    try:
        url = _served_url(serve)
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
            if json.load(answer) != {"status": "ok"}:
                sys.exit("smoke: /healthz did not answer ok")
        request = urllib.request.Request(
            f"{url}/query", data=json.dumps({"queries": [{"query": "git undo last commit", "top_k": 1}]}).encode(),
            headers={"Authorization": "Bearer nw_smoke-token-0123456789abcdefghijklmnop", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            hit = json.load(answer)["results"][0]["results"][0]
        if hit["title"] != "Git cheatsheet":
            sys.exit(f"smoke: POST /query answered {hit['title']!r}")
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
            sys.exit("smoke: serve did not stop within 30 s of SIGTERM")
    if serve.returncode != 0:
        sys.exit(f"smoke: serve exited {serve.returncode}")
    print(json.dumps({"version": version, **timings}))
    return 0


def _served_url(serve: subprocess.Popen[str]) -> str:
    assert serve.stdout is not None
    lines = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = serve.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"Serving your notes at (http://\S+)", line)
        if found:
            return found.group(1)
    serve.kill()
    sys.exit("smoke: serve never said where it serves:\n" + "".join(lines))


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
