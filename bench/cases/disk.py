"""Disk benchmark: bytes in the database file per byte of output, beside zstd and gzip.

    .venv/bin/python bench/cases/disk.py             # 64 MB of logs, 64 MB of seq
    .venv/bin/python bench/cases/disk.py --mb 8      # a quick run

Two corpora, each written on a fresh database file the way supervisors write it:
realistic logs (``bench/cases/logs.py``: one session per kind, flushed about every 64
KiB, cut inside lines) and the output of ``seq 1 N``. The output goes through
``store.output.append_many`` unindexed and is then indexed (``index_pending``), as a
supervisor does; then the index is merged and the upkeep (dictionary, free pages) runs
until it has nothing left, as it does on an idle supervisor; then the WAL is
checkpointed. Measured: the file size over the raw output bytes (everything: chunks,
indexes, free pages), the output index's share alone (``dbstat``), the free pages'
share of the file, and the chunks' share. Beside them, in the same run, ``zstd -3`` and
``gzip -6`` of the same text as one file.

Targets (issue 18): disk / raw <= 0.5x for realistic logs, <= 1.0x for ``seq``.
``--label`` names the code measured (run it from another checkout with PYTHONPATH to
compare before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.cases import logs  # noqa: E402
from bench.harness.figures import figure, write_figures  # noqa: E402
from storage import open_store  # noqa: E402

MB = 1024 * 1024
TARGETS = {"logs": 0.5, "seq": 1.0}
Batch = list[tuple[str, bytes]]


def logs_corpus(mb: float) -> dict[str, list[Batch]]:
    sessions = logs.sessions(int(mb * MB), 7)
    return {k: list(logs.supervisor_batches(v)) for k, v in sessions.items()}


def seq_corpus(mb: float) -> dict[str, list[Batch]]:
    text = subprocess.run(
        ["seq", "1", str(_seq_count(int(mb * MB)))], capture_output=True, check=True
    ).stdout
    return {"seq": [[("stdout", text[i : i + 64 * 1024])] for i in range(0, len(text), 64 * 1024)]}


def _seq_count(size: int) -> int:
    n, total, digits = 0, 0, 1
    while True:
        span = 9 * 10 ** (digits - 1)
        if total + span * (digits + 1) >= size:
            return n + (size - total) // (digits + 1)
        n, total, digits = n + span, total + span * (digits + 1), digits + 1


async def write(path: Path, corpus: dict[str, list[Batch]]) -> dict[str, float]:
    """Write the corpus as supervisors would; return timings."""
    store = await open_store(path)
    ids = {kind: (await store.sessions.create(["bench", kind], cwd="/")).id for kind in corpus}
    t = time.perf_counter()
    longest = max(len(b) for b in corpus.values())
    for i in range(longest):  # round-robin: concurrent sessions
        for kind, batches in corpus.items():
            if i < len(batches):
                records = [(ids[kind], st, d, None) for st, d in batches[i]]
                await store.output.append_many(records, index=False)
        while await store.output.index_pending(max_bytes=4 * MB, merge=False):
            pass
    written = time.perf_counter() - t
    t = time.perf_counter()
    while await store.output.tidy_index():
        pass
    upkeep = getattr(store.output, "upkeep", None)  # (absent before issue 18)
    while upkeep is not None and await upkeep():
        pass
    tidied = time.perf_counter() - t
    await store.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {"write_s": written, "tidy_s": tidied}


def shares(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0] * page
        rows = dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    finally:
        db.close()
    index = sum(v for k, v in rows.items() if k.startswith(("output_fts", "output_words")))
    chunks = sum(v for k, v in rows.items() if k.startswith("output_chunks"))
    return {"file": path.stat().st_size, "free": free, "index": index, "chunks": chunks}


def reference(cmd: list[str], text: Path) -> int:
    with open(text, "rb") as f:
        out = subprocess.run(cmd, stdin=f, capture_output=True, check=True).stdout
    return len(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=64, help="MB of each corpus")
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--summary", help="write figures as JSON here")
    args = ap.parse_args()
    rows_out = []
    load = os.getloadavg()[0]
    print(f"disk per raw byte ({args.label}), {args.mb:g} MB per corpus; load {load:.2f}")
    header = (
        f"{'corpus':8} {'raw MB':>8} {'file':>7} {'chunks':>7} {'index':>7} {'free':>6} "
        f"{'zstd -3':>8} {'gzip -6':>8} {'write s':>8} {'tidy s':>7}"
    )
    print(header)
    with tempfile.TemporaryDirectory(prefix="tether-disk-") as tmp:
        for name, make in (("logs", logs_corpus), ("seq", seq_corpus)):
            corpus = make(args.mb)
            raw = Path(tmp) / f"{name}.txt"
            with open(raw, "wb") as f:
                for batches in corpus.values():
                    for batch in batches:
                        for _, data in batch:
                            f.write(data)
            size = raw.stat().st_size
            path = Path(tmp) / f"{name}.db"
            times = asyncio.run(write(path, corpus))
            s = shares(path)
            zstd = reference(["zstd", "-3", "-c", "-q"], raw) / size
            gzip = reference(["gzip", "-6", "-c"], raw) / size
            ratio = s["file"] / size
            print(
                f"{name:8} {size / MB:8.1f} {ratio:6.3f}x {s['chunks'] / size:6.3f}x "
                f"{s['index'] / size:6.3f}x {s['free'] / s['file']:6.1%} {zstd:7.3f}x "
                f"{gzip:7.3f}x {times['write_s']:8.1f} {times['tidy_s']:7.1f}"
            )
            target = TARGETS[name]
            rows_out += [
                figure(
                    18,
                    f"disk / raw output, {name} (file after checkpoint)",
                    [ratio],
                    "x",
                    reference=("zstd -3 of the same text", [zstd]),
                    target=f"<= {target}x",
                    met=ratio <= target,
                ),
                figure(18, f"disk / raw output, {name}, beside gzip -6", [ratio], "x",
                       reference=("gzip -6 of the same text", [gzip])),
                figure(18, f"output index alone / raw, {name}", [s["index"] / size], "x"),
                figure(18, f"free pages / file, {name}", [s["free"] / s["file"]], "share"),
                figure(18, f"chunks alone / raw, {name}", [s["chunks"] / size], "x"),
            ]  # fmt: skip
            os.unlink(raw)
    for name, target in TARGETS.items():
        row = next(r for r in rows_out if r.figure.startswith(f"disk / raw output, {name} "))
        print(f"{name}: {row.value:.3f}x (target <= {target}x) {'met' if row.met else 'MISSED'}")
    write_figures(args.summary, rows_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
