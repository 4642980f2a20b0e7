"""Command-line start-up: whole ``tether`` processes, beside ``python -c pass`` and ripgrep.

    python bench/cases/cli_startup.py              # 256 MB in 50 sessions (built once)
    python bench/cases/cli_startup.py --mb 20 --sessions 10 --runs 10   # quick

What a user waits for when typing a command: from starting the process to its exit,
for ``tether --version``, ``tether ls``, ``tether search WORD`` (a rare word of the
corpus), ``tether logs ID --tail 20``, beside ``python -c pass`` (the same interpreter:
the floor) and ``rg -F -c WORD`` over the same text as one file per session (page
cache warm). The corpus is the search benchmark's (``bench/cases/search_corpus.py``),
built once into ``bench/data/`` and reused. Each round runs every command once, in the
same order, after one warm-up round; figures are p50 and p95 over the rounds. Output
goes to /dev/null, as in a pipe.

Byte-compiled files matter here (``./dev`` writes them after installing): the script
says how many of tether's modules have a current one.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import bench.cases.search_corpus  # noqa: E402
from bench.cases.search_corpus import build_corpus, load_manifest  # noqa: E402
from bench.harness import cache  # noqa: E402
from bench.harness.figures import figure, write_figures  # noqa: E402
from bench.harness.tables import percentile, table  # noqa: E402

TARGET_SEARCH_P50_MS = 80.0  # issue 18, on 256 MB
PACKAGES = ("cli", "storage", "runner", "home", "tui")


def corpus(data: Path, mb: int, sessions: int) -> Path:
    """The search corpus of ``mb`` MB in ``sessions`` sessions (built if missing)."""
    home = data / f"search-{mb}mb-{sessions}s"
    db = home / "search.db"
    stamp = cache.stamp(bench.cases.search_corpus)
    if not cache.valid(home / "READY", db, stamp):
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(parents=True)
        print(f"building {mb} MB in {sessions} sessions into {home} ...", flush=True)
        t = time.perf_counter()
        build_corpus(db, home / "files", megabytes=mb, sessions=sessions)
        cache.mark(home / "READY", stamp)
        print(f"built in {time.perf_counter() - t:.0f} s", flush=True)
    return home


def compiled() -> tuple[int, int]:
    """(modules of tether with a current .pyc, modules of tether)."""
    have = total = 0
    for pkg in PACKAGES:
        for src in (ROOT / pkg).rglob("*.py"):
            total += 1
            pyc = Path(importlib.util.cache_from_source(str(src)))
            have += pyc.exists() and pyc.stat().st_mtime >= src.stat().st_mtime
    return have, total


def time_once(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = (time.perf_counter() - t) * 1000
    if done.returncode not in (0, 1):  # rg exits 1 when nothing matched
        raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=256, help="megabytes of output (default 256)")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--runs", type=int, default=40, help="rounds of every command (40)")
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    ap.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = ap.parse_args()

    home = corpus(args.data, args.mb, args.sessions)
    db, files = home / "search.db", home / "files"
    manifest = load_manifest(home / "corpus.json")
    word = manifest.rare_words[0]
    largest = max(files.iterdir(), key=lambda f: f.stat().st_size).stem
    tether = str(Path(sys.executable).with_name("tether"))
    env = {**os.environ, "TETHER_HOME": str(home / "home"), "TETHER_DB": str(db)}
    env.pop("NO_COLOR", None)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "tether --version": [tether, "--version"],
        "tether ls": [tether, "ls"],
        f"tether search {word}": [tether, "search", word],
        f"tether logs {largest} --tail 20": [tether, "logs", largest, "--tail", "20"],
    }
    if shutil.which("rg"):
        commands[f"rg -F -c {word}"] = ["rg", "-F", "-c", word, str(files)]
    have, total = compiled()
    text_mb = sum(f.stat().st_size for f in files.iterdir()) / 1e6
    print(f"corpus: {text_mb:.0f} MB of text in {args.sessions} sessions")
    print(f"byte-compiled: {have} of {total} tether modules have a current .pyc")

    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm-up: page cache, first-run costs
        time_once(argv, env)
    for _ in range(args.runs):
        for name, argv in commands.items():
            times[name].append(time_once(argv, env))

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    floor = percentile(times["python -c pass"], 50)
    print(f"\n{args.runs} rounds; whole process, milliseconds; load average {load}")
    rows = []
    for name, values in times.items():
        p50 = percentile(values, 50)
        rows.append((name, p50, percentile(values, 95), p50 - floor))
    print(table(("command", "p50 ms", "p95 ms", "p50 - python"), rows))

    search = times[f"tether search {word}"]
    rg = [times[k] for k in times if k.startswith("rg ")]
    p50 = percentile(search, 50)
    ok = p50 <= TARGET_SEARCH_P50_MS
    print(f"\ntether search p50 {p50:.1f} ms (target <= {TARGET_SEARCH_P50_MS:.0f} ms on 256 MB)")
    print("  target met" if ok else "  TARGET MISSED")
    python = ("python -c pass (same interpreter)", times["python -c pass"])
    rows_out = [
        figure(
            18,
            f"tether search whole process, p50, {args.mb} MB corpus",
            search,
            "ms",
            reference=(f"rg -F -c over the same text ({text_mb:.0f} MB)", rg[0]) if rg else None,
            target="<= 80 ms on 256 MB" if args.mb >= 256 else None,
            met=ok,
        ),
        figure(18, "tether search whole process, beside python -c pass", search, "ms",
               reference=python),
        figure(18, "tether ls whole process", times["tether ls"], "ms", reference=python),
        figure(18, "tether logs --tail 20 whole process",
               times[f"tether logs {largest} --tail 20"], "ms", reference=python),
        figure(18, "tether --version whole process", times["tether --version"], "ms",
               reference=python),
    ]  # fmt: skip
    write_figures(args.summary, rows_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
