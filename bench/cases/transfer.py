"""Export and import benchmark: one large session, every format, beside plain copies.

    python bench/cases/transfer.py            # a 200 MB session
    python bench/cases/transfer.py --mb 20    # a quick run

Each step runs in its own Python process so that its peak memory (max RSS) is its
own. The reference is what a log-file tool does with the same output: ``cat`` of a
flat log file of the same bytes (the floor for "write the output somewhere"), and
reading the same chunks out of SQLite with the ``sqlite3`` module and writing them
to a file (the floor for tether's storage). MB/s are of session output bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness.figures import figure, write_figures  # noqa: E402

BUILD = """
import asyncio, sys
from storage import open_store
async def go(path, mb):
    async with open_store(path) as s:
        x = await s.sessions.create(["make", "all"], "/src", name="big")
        await s.runs.start(x.id)
        block = b"".join(
            b"%08d [worker-%02d] compiling src/module_%04d.c -> obj/module_%04d.o ok\\n"
            % (i, i % 16, i % 5000, i % 5000) for i in range(16384))
        block += b"\\x1b[32mOK\\x1b[0m token=AKIAQYLPMN5HFIQR7XYZ\\n"
        n = 0
        while n < mb * 1_000_000:
            await s.output.append(x.id, "stdout", block, index=True)
            n += len(block)
        await s.runs.finish(x.id, exit_code=0)
asyncio.run(go(sys.argv[1], int(sys.argv[2])))
"""

STEP = """
import asyncio, json, resource, sys, time
from storage import open_store
from storage.transfer.export import export_sessions
from storage.transfer.importer import import_file
from storage.redact import Redactor
async def go(kind, db, path, arg):
    async with open_store(db) as s:
        t = time.perf_counter()
        if kind == "export":
            with open(path, "wb", buffering=1 << 20) as f:
                r = await export_sessions(s, [1], f, fmt=arg.split(":")[0],
                                          redactor=Redactor() if arg.endswith(":redact") else None)
            n = r.output_bytes
        elif kind == "import":
            r = await import_file(s, path)
            n = r.bytes
        else:  # raw: the sqlite3 floor
            import sqlite3
            con = sqlite3.connect(db)
            n = 0
            with open(path, "wb", buffering=1 << 20) as f:
                for (d,) in con.execute(
                        "SELECT data FROM output_chunks WHERE session_id=1 ORDER BY first_line"):
                    f.write(d); n += len(d)
        dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": dt, "bytes": n, "rss": rss}))
asyncio.run(go(*sys.argv[1:5]))
"""


def _py(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"step {args[:1]} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=1, help="runs of every step; medians (1)")
    ap.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as d:
        tmp = Path(d)
        db = tmp / "src.db"
        t = time.perf_counter()
        _py(BUILD, str(db), str(args.mb))
        print(f"built a {args.mb} MB session in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        # step -> every run's (MB/s, peak RSS); one round runs every step once.
        per: dict[str, list[tuple[float, int | None]]] = {}
        for _ in range(args.runs):
            base = _py(STEP, "raw", str(db), str(tmp / "raw.log"), "")
            t = time.perf_counter()
            with open(tmp / "cat.log", "wb") as sink:
                subprocess.run(["cat", str(tmp / "raw.log")], stdout=sink, check=True)
            cat = time.perf_counter() - t
            per.setdefault("cat flat log (reference)", []).append((base["bytes"] / cat, None))
            per.setdefault("sqlite3 read+write (reference)", []).append(
                (base["bytes"] / base["seconds"], base["rss"])
            )
            for fmt in ("json", "json:redact", "txt", "md", "jsonl"):
                out = tmp / f"out.{fmt.split(':')[0]}"
                r = _py(STEP, "export", str(db), str(out), fmt)
                per.setdefault(f"export {fmt}", []).append((r["bytes"] / r["seconds"], r["rss"]))
            _py(STEP, "export", str(db), str(tmp / "plain.json"), "json")
            (tmp / "dst.db").unlink(missing_ok=True)
            for suffix in ("-wal", "-shm"):
                (tmp / f"dst.db{suffix}").unlink(missing_ok=True)
            r = _py(STEP, "import", str(tmp / "dst.db"), str(tmp / "plain.json"), "")
            per.setdefault("import json (check + write)", []).append(
                (r["bytes"] / r["seconds"], r["rss"])
            )
        rows = []
        for name, runs in per.items():
            rss = [m for _, m in runs if m]
            rows.append((name, statistics.median(x for x, _ in runs), max(rss) if rss else None))
        base["seconds"] = base["bytes"] / statistics.median(
            x for x, _ in per["sqlite3 read+write (reference)"]
        )
        floor = base["bytes"] / base["seconds"]
        print(f"\n{args.mb} MB session ({base['bytes'] / 1e6:.0f} MB of output)\n")
        print(f"{'step':34} {'MB/s':>8} {'vs sqlite3':>11} {'peak RSS':>10}")
        for name, rate, rss in rows:
            peak = f"{rss / 1e6:.0f} MB" if rss else "-"
            print(f"{name:34} {rate / 1e6:8.1f} {rate / floor:10.2f}x {peak:>10}")
        size = (tmp / "plain.json").stat().st_size
        print(f"\njson file: {size / 1e6:.0f} MB ({size / base['bytes']:.2f}x the output)")
        if args.runs > 1:
            print(f"(MB/s: medians of {args.runs} runs; peak RSS: the largest)")
    ref = [x / 1e6 for x, _ in per["sqlite3 read+write (reference)"]]
    ref_rss = [m / 1e6 for _, m in per["sqlite3 read+write (reference)"]]
    summary = []
    for name, runs in per.items():
        if name.endswith("(reference)"):
            continue
        summary.append(
            figure(
                7,
                f"{name}, a {args.mb} MB session: throughput",
                [x / 1e6 for x, _ in runs],
                "MB/s",
                reference=("sqlite3 read + write to a file", ref),
            )
        )
        summary.append(
            figure(
                7,
                f"{name}, a {args.mb} MB session: peak RSS",
                [m / 1e6 for _, m in runs],
                "MB",
                reference=("sqlite3 read + write to a file", ref_rss),
            )
        )
    write_figures(args.summary, summary)


if __name__ == "__main__":
    main()
