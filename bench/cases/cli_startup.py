"""Command-line start-up: whole ``tether`` processes, beside ``python -c pass`` and ripgrep.

    python bench/cases/cli_startup.py              # 256 MB in 50 sessions, 1 GB in 200
    python bench/cases/cli_startup.py --mb 20 --sessions 10 --big-mb 0 --runs 10   # quick
    python bench/cases/cli_startup.py --data /tmp/corpora   # corpora kept outside the tree

What a user waits for when typing a command: from starting the process to its exit,
for ``tether --version``, ``tether ls``, ``tether search WORD`` (a rare word of the
corpus), ``tether logs ID --tail 20``, beside ``python -c pass`` (the same interpreter:
the floor) and ``rg -F -c WORD`` over the same text as one file per session (page
cache warm). ``tether search`` and ``rg`` are also timed on a second, larger corpus
(1 GB in 200 sessions: the same size of session), for issue 18's target there: tether's
p50 at most half of rg's. The corpora are the search benchmark's
(``bench/cases/search_corpus.py``), built once into ``bench/data/`` (or ``--data``) and
reused: 256 MB takes about a minute to build, 1 GB about five on a 2-core machine. Each
round runs every command once, in the same order, after one warm-up round; figures are
p50 and p95 over the rounds. Output goes to /dev/null, as in a pipe.

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
TARGET_RG_RATIO = 0.5  # issue 18: tether search p50 / rg -F -c p50, on 1 GB
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
    ap.add_argument(
        "--big-mb",
        type=int,
        default=1024,
        help="a second, larger corpus for tether search beside rg (default 1024; 0: none)",
    )
    ap.add_argument("--big-sessions", type=int, default=200)
    ap.add_argument("--runs", type=int, default=40, help="rounds of every command (40)")
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    ap.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = ap.parse_args()

    home = corpus(args.data, args.mb, args.sessions)
    db, files = home / "search.db", home / "files"
    manifest = load_manifest(home / "corpus.json")
    word, common = manifest.rare_words[0], manifest.common_words[0]
    largest = max(files.iterdir(), key=lambda f: f.stat().st_size).stem
    tether = str(Path(sys.executable).with_name("tether"))
    env = {**os.environ, "TETHER_HOME": str(home / "home"), "TETHER_DB": str(db)}
    env.pop("NO_COLOR", None)
    env.pop("PYTHONUNBUFFERED", None)  # as for most users: stdout buffered in a pipe
    python = [sys.executable, "-c", "pass"]
    commands = {
        "python -c pass": (python, env),
        "tether --version": ([tether, "--version"], env),
        "tether ls": ([tether, "ls"], env),
        f"tether search {word}": ([tether, "search", word], env),
        # The most common word: the page is quick, counting its lines in each session on
        # it reads up to COUNT_BYTES of output (storage/engine/search/core.py).
        f"tether search {common} (common)": ([tether, "search", common], env),
        f"tether logs {largest} --tail 20": ([tether, "logs", largest, "--tail", "20"], env),
    }
    has_rg = shutil.which("rg") is not None
    if has_rg:
        commands[f"rg -F -c {word}"] = (["rg", "-F", "-c", word, str(files)], env)
        commands[f"rg -F -c {common} (common)"] = (["rg", "-F", "-c", common, str(files)], env)
    sizes = {args.mb: (word, files)}
    if args.big_mb:
        big = corpus(args.data, args.big_mb, args.big_sessions)
        big_word = load_manifest(big / "corpus.json").rare_words[0]
        big_env = {**env, "TETHER_HOME": str(big / "home"), "TETHER_DB": str(big / "search.db")}
        commands[f"tether search {big_word} ({args.big_mb} MB)"] = (
            [tether, "search", big_word],
            big_env,
        )
        if has_rg:
            commands[f"rg -F -c {big_word} ({args.big_mb} MB)"] = (
                ["rg", "-F", "-c", big_word, str(big / "files")],
                big_env,
            )
        sizes[args.big_mb] = (big_word, big / "files")
    have, total = compiled()
    for mb, (_, where) in sizes.items():
        text_mb = sum(f.stat().st_size for f in where.iterdir()) / 1e6
        print(f"corpus {mb} MB: {text_mb:.0f} MB of text in {len(list(where.iterdir()))} sessions")
    print(f"byte-compiled: {have} of {total} tether modules have a current .pyc")

    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv, run_env in commands.values():  # warm-up: page cache, first-run costs
        time_once(argv, run_env)
    for _ in range(args.runs):
        for name, (argv, run_env) in commands.items():
            times[name].append(time_once(argv, run_env))

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    floor = percentile(times["python -c pass"], 50)
    print(f"\n{args.runs} rounds; whole process, milliseconds; load average {load}")
    rows = []
    for name, values in times.items():
        p50 = percentile(values, 50)
        rows.append((name, p50, percentile(values, 95), p50 - floor))
    print(table(("command", "p50 ms", "p95 ms", "p50 - python"), rows))

    def search_and_rg(mb: int) -> tuple[list[float], list[float]]:
        suffix = "" if mb == args.mb else f" ({mb} MB)"
        found = sizes[mb][0]
        return times[f"tether search {found}{suffix}"], times.get(f"rg -F -c {found}{suffix}", [])

    search, rg = search_and_rg(args.mb)
    p50 = percentile(search, 50)
    ok = p50 <= TARGET_SEARCH_P50_MS
    print(f"\ntether search p50 {p50:.1f} ms (target <= {TARGET_SEARCH_P50_MS:.0f} ms on 256 MB)")
    print("  target met" if ok else "  TARGET MISSED")
    rows_out = []
    if args.big_mb:
        big_search, big_rg = search_and_rg(args.big_mb)
        if big_rg:
            ratio = percentile(big_search, 50) / percentile(big_rg, 50)
            big_ok = ratio <= TARGET_RG_RATIO
            print(
                f"tether search p50 / rg -F -c p50 on {args.big_mb} MB: {ratio:.2f} "
                f"(target <= {TARGET_RG_RATIO} on 1 GB)\n  "
                + ("target met" if big_ok else "TARGET MISSED")
            )
            rows_out.append(
                figure(
                    18,
                    f"tether search whole process, p50, {args.big_mb} MB corpus, beside rg",
                    big_search,
                    "ms",
                    reference=(f"rg -F -c over the same text ({args.big_mb} MB)", big_rg),
                    target=f"<= {TARGET_RG_RATIO}x rg -F -c on 1 GB",
                    met=lambda v, r: r is not None and r <= TARGET_RG_RATIO,
                )
            )
    python_ref = ("python -c pass (same interpreter)", times["python -c pass"])
    rows_out += [
        figure(
            18,
            f"tether search whole process, p50, {args.mb} MB corpus",
            search,
            "ms",
            reference=(f"rg -F -c over the same text ({args.mb} MB)", rg) if rg else None,
            target="<= 80 ms on 256 MB" if args.mb >= 256 else None,
            met=ok,
        ),
        figure(18, "tether search whole process, beside python -c pass", search, "ms",
               reference=python_ref),
        figure(18, f"tether search of the most common word, whole process, {args.mb} MB",
               times[f"tether search {common} (common)"], "ms",
               reference=(f"rg -F -c {common} over the same text",
                          times.get(f"rg -F -c {common} (common)", []))),
        figure(18, "tether ls whole process", times["tether ls"], "ms", reference=python_ref),
        figure(18, "tether logs --tail 20 whole process",
               times[f"tether logs {largest} --tail 20"], "ms", reference=python_ref),
        figure(18, "tether --version whole process", times["tether --version"], "ms",
               reference=python_ref),
    ]  # fmt: skip
    write_figures(args.summary, rows_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
