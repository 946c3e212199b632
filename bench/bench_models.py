"""The model layer against issue 16's floors: `notewell eval` per set, model and mode, in one run.

    python bench/bench_models.py --corpora /tmp/corp [--sets tldr-zh,csnotes] [--models today,int8,auto]
        [--check auto] [--out results.json]

`--corpora` holds the unpacked archives of shared/eval/corpora (one folder per set,
named like the set; `tldr-en-549` is a 549-file sample of tldr-en holding every file
its queries need, see `sample_tldr_en`). Each (set, model) is indexed from scratch in
its own data dir, so passages/s compare models on the same machine in the same run.
The ONNX export is shared (NOTEWELL_MODEL_CACHE) and made before timing starts.

Models: `today` = bundled all-MiniLM-L6-v2 in fp32 (what shipped before issue 16),
`int8` = the same in int8, `auto` = the new default (the English model for English notes,
`multilingual` for Chinese ones), `multilingual` = multilingual-e5-small beside USE v3,
`e5` = multilingual-e5-small alone, `use` = use-multilingual-v3 alone.
Prints a table per set and model (every mode, per kind), then each floor with its
verdict; exits 1 when a floor is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NOTEWELL_SHARED_EVAL", "/work/shared/eval"))
QUERIES = {
    "tldr-zh": SHARED / "queries" / "tldr-zh.jsonl",
    "tldr-en-549": SHARED / "queries" / "tldr-en.jsonl",
    "obsidian-zh": ROOT / "bench" / "queries" / "obsidian-zh.jsonl",
    "csnotes": ROOT / "bench" / "queries" / "csnotes.jsonl",
    "obsidian-en": ROOT / "bench" / "queries" / "obsidian-en.jsonl",
}
MODELS = {
    "today": ("bundled:all-MiniLM-L6-v2", "fp32"),
    "int8": ("bundled:all-MiniLM-L6-v2", "int8"),
    "auto": ("auto", "int8"),
    "use": ("use-multilingual-v3", "int8"),
    "multilingual": ("multilingual", "int8"),
    "multilingual-fp32": ("multilingual", "fp32"),
    "e5": ("multilingual-e5-small", "int8"),
}
CHINESE = ("tldr-zh", "obsidian-zh", "csnotes")
ENGLISH_FLOORS = {"tldr-en-549": 0.806, "obsidian-en": 0.892}  # hybrid nDCG@10 (tldr-en: on the full set)


def sample_tldr_en(full: Path, dest: Path, size: int = 549, seed: int = 16) -> None:
    """The tldr-en sample: every file a query needs, then random others up to `size`."""
    needed = set()
    for line in QUERIES["tldr-en-549"].read_text().splitlines():
        if line.strip():
            needed |= set(json.loads(line)["relevant"])
    files = sorted(str(p.relative_to(full)) for p in full.rglob("*.md"))
    rest = [f for f in files if f not in needed]
    random.Random(seed).shuffle(rest)
    for name in sorted(needed | set(rest[: size - len(needed)])):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(full / name, dest / name)


def run_eval(corpus: Path, queries: Path, model: str, precision: str, work: Path) -> dict:
    data = work / f"{corpus.name}-{model.replace(':', '_')}-{precision}"
    shutil.rmtree(data, ignore_errors=True)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "notewell"), "eval", "--data-dir", str(data), "--corpus", str(corpus),
         "--queries", str(queries), "--model", model, "--precision", precision],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    if done.returncode != 0:
        raise SystemExit(f"eval failed on {corpus.name} / {model}: {done.stderr[-1500:]}")
    shutil.rmtree(data, ignore_errors=True)
    return json.loads(done.stdout)


def table(results: dict[str, dict[str, dict]]) -> str:
    lines = ["| set | model | passages/s | mode | nDCG@10 | R@5 | p50 ms | per kind R@5 |", "|---|---|---|---|---|---|---|---|"]
    for name, by_model in results.items():
        for label, report in by_model.items():
            for mode, m in report["modes"].items():
                kinds = " ".join(f"{k}:{v['recall@5']:.2f}" for k, v in m["by_kind"].items())
                lines.append(f"| {name} | {label} | {report.get('passages_per_second')} | {mode} | "
                             f"{m['ndcg@10']:.3f} | {m['recall@5']:.3f} | {m.get('query_ms_p50')} | {kinds} |")
    return "\n".join(lines)


def floors(results: dict[str, dict[str, dict]], model: str = "auto") -> list[tuple[str, bool]]:
    checks: list[tuple[str, bool]] = []
    for name, by_model in results.items():
        report = by_model.get(model)
        if report is None:
            continue
        modes = report["modes"]
        hybrid = modes.get("hybrid")
        if hybrid is None:
            continue
        if name in CHINESE:
            checks.append((f"{name} hybrid R@5 {hybrid['recall@5']:.3f} >= 0.95", hybrid["recall@5"] >= 0.95))
            for kind, floor in (("paraphrase", 0.90), ("crosslingual", 0.85)):
                if kind in hybrid["by_kind"]:
                    got = hybrid["by_kind"][kind]["recall@5"]
                    checks.append((f"{name} {kind} R@5 {got:.3f} >= {floor}", got >= floor))
        if name in ENGLISH_FLOORS:
            checks.append((f"{name} hybrid nDCG@10 {hybrid['ndcg@10']:.3f} >= {ENGLISH_FLOORS[name]}",
                           hybrid["ndcg@10"] >= ENGLISH_FLOORS[name]))
        for mode in ("dense", "keyword"):
            if mode in modes:
                checks.append((f"{name} hybrid nDCG@10 {hybrid['ndcg@10']:.3f} >= {mode} {modes[mode]['ndcg@10']:.3f}",
                               hybrid["ndcg@10"] >= modes[mode]["ndcg@10"]))
        today = by_model.get("today")
        if today is not None:
            if name == "tldr-zh" and today.get("passages_per_second") and report.get("passages_per_second"):
                ratio = report["passages_per_second"] / today["passages_per_second"]
                checks.append((f"{name} passages/s {ratio:.2f}x today's >= 2x", ratio >= 2.0))
            p50, p50_today = hybrid.get("query_ms_p50"), today["modes"]["hybrid"].get("query_ms_p50")
            if p50 is not None and p50_today is not None:
                checks.append((f"{name} hybrid p50 {p50} ms <= today's {p50_today} ms", p50 <= p50_today))
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--sets", default=",".join(QUERIES))
    parser.add_argument("--models", default="today,auto")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--check", default="auto", help="the model whose results meet the floors (today's is the baseline)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-models-"))
    os.environ.setdefault("NOTEWELL_MODEL_CACHE", str(work / "onnx"))
    if "tldr-en-549" in args.sets and not (args.corpora / "tldr-en-549").is_dir():
        sample_tldr_en(args.corpora / "tldr-en", args.corpora / "tldr-en-549")
    results: dict[str, dict[str, dict]] = {}
    for name in args.sets.split(","):
        for label in args.models.split(","):
            model, precision = MODELS[label]
            report = run_eval(args.corpora / name, QUERIES[name], model, precision, work)
            results.setdefault(name, {})[label] = report
            print(f"{name} {label}: {json.dumps({m: v['ndcg@10'] for m, v in report['modes'].items()})} "
                  f"{report.get('passages_per_second')} passages/s", file=sys.stderr, flush=True)
            if args.out:
                args.out.write_text(json.dumps(results, indent=1))
    print(table(results))
    checks = floors(results, args.check)
    for text, ok in checks:
        print(("PASS " if ok else "MISS ") + text)
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
