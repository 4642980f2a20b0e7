"""Usage benchmark (issue 17): the usage screen on a 1 GB database, beside plain tools.

    python bench/cases/usage.py                  # builds its data once, then reuses it
    python bench/cases/usage.py --mb 10 --sessions 20 --size 50 --runs 2    # a quick look

The database: the search benchmark's generated logs (``search_corpus.build_corpus``,
40 MiB in 100 sessions, indexed), then sessions of stored but unindexed output (random
words, which compress little) until the file is 1 GB (about 1 300 sessions, 15 000
chunks; see ``add_bulk`` for why unindexed), then 10 sessions trashed, 3 pinned, two
weeks of ``db_bytes`` samples and a day of the other metrics
(``storage.engine.metrics``), so every panel has something to draw. Built once into
``bench/data/usage-*/`` and reused while ``harness/cache.py`` says it is current.

Measured, in the same run:

(a) In a real terminal (a 120x36 tmux pane, ``harness/terminal.py``): tether opens on the
    session list; then ``U`` until the usage screen shows its first figures ("opens",
    the target: <= 300 ms: sizes on disk, biggest sessions, size over time, metrics),
    until it shows the output per day and the estimated split (one pass over the
    chunk rows, in a thread), and until the page-by-page split of the file
    (``dbstat``, in a thread after that). A fresh ``tether`` per
    round (the screen's module is imported on the first ``U``, as for a user), one
    warm-up round first.
(b) The library in this process: ``usage(exact=False)`` (what the screen draws first)
    and ``space(exact=True)`` (the page-by-page split), on a read-only connection.
(c) Whole processes: ``tether usage --json`` and ``--estimate``.
(d) References: ``du -b`` of the database file, and
    ``sqlite3 DB "select sum(pgsize) from dbstat"`` (SQLite's own page walk, what the
    exact split costs at least); and, in the same app and pane, ``?`` on the list until
    the help modal shows (the floor of the method: a key, a screen, a poll of tmux).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness import cache  # noqa: E402
from bench.harness.figures import figure, write_figures  # noqa: E402
from bench.harness.terminal import Pane  # noqa: E402

DATA = ROOT / "bench" / "data"
TETHER = ROOT / ".venv" / "bin" / "tether"
DAY = 86400.0


# -- data ---------------------------------------------------------------------------------
async def add_extras(db: Path, now: float) -> None:
    """Trash, pins and metrics samples, so that every panel has something to draw."""
    from storage import open_store
    from storage.engine import metrics

    async with open_store(db) as store:
        ids = [s.id for s in await store.sessions.list(order="oldest")]
        await store.sessions.trash(ids[:10])
        for sid in ids[-3:]:
            await store.sessions.update(sid, pinned=True)
        size = db.stat().st_size
        for i in range(14 * 24):  # hourly sizes over two weeks, growing
            at = now - (14 * 24 - i) * 3600
            await metrics.record(store, "db_bytes", size * (0.6 + 0.4 * i / (14 * 24)), at=at)
        samples = []
        for m in range(24 * 60 // 5):  # a day of five-minute samples
            at = now - DAY + m * 300
            samples.append((at, [("capture_rate", 20_000.0 + (m % 40) * 900, ids[-1])]))
            samples.append((at, [("index_lag", 0.1 * (m % 7), ids[-1])]))
            samples.append((at, [("search_ms", 5.0 + (m % 11) * 3, None)]))
        for at, rows in samples:
            await metrics.record_many(store, rows, at=at)


async def add_bulk(db: Path, target_bytes: int, sessions: int, now: float) -> None:
    """Sessions of stored, unindexed output until the file holds ``target_bytes``:
    random words (which compress little), 64 KiB chunks, spread over 30 days.
    Indexing 1 GB of random words would take about an hour here, and the screen's
    first figures read the chunk rows and the sessions, never the index; the exact
    split (``dbstat``) reads every page, whatever it holds."""
    import random
    import string

    from storage import open_store

    rng = random.Random(17)
    alphabet = string.ascii_letters + string.digits

    def chunk() -> bytes:
        words = " ".join("".join(rng.choices(alphabet, k=rng.randint(3, 10))) for _ in range(9000))
        return ("\n".join(words[i : i + 99] for i in range(0, len(words), 99)) + "\n").encode()

    pool = [chunk() for _ in range(64)]
    async with open_store(db) as store:
        while db.stat().st_size < target_bytes:
            for _ in range(sessions):
                at = now - rng.uniform(0, 30) * DAY
                s = await store.sessions.create(
                    ["./worker", f"--shard={rng.randrange(1000)}"], cwd="/srv/jobs", created_at=at
                )
                await store.runs.start(s.id, at=at)
                n = rng.randint(4, 60)
                records = [(s.id, "stdout", rng.choice(pool), at + i) for i in range(n)]
                await store.output.append_many(records, index=False)
                await store.runs.finish(s.id, exit_code=0, at=at + n)
                if db.stat().st_size >= target_bytes:
                    break


def ensure_data(mb: int, sessions: int, target_mb: int) -> Path:
    from bench.cases.search_corpus import build_corpus

    home = DATA / f"usage-{mb}mb-{sessions}s-{target_mb}mb"
    db = home / "tether.db"
    stamp = cache.stamp(build_corpus, add_bulk, add_extras, f"{mb}/{sessions}/{target_mb}")
    if cache.valid(home / "READY", db, stamp):
        return home
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    print(f"building {mb} MiB of logs in {sessions} sessions in {home} ...", flush=True)
    now = time.time()
    build_corpus(db, home / "files", megabytes=mb, sessions=sessions, now=now)
    shutil.rmtree(home / "files", ignore_errors=True)  # the text files: not needed here
    print(f"adding sessions until the file is {target_mb} MB ...", flush=True)
    asyncio.run(add_bulk(db, target_mb * 10**6, 400, now))
    asyncio.run(add_extras(db, now))
    cache.mark(home / "READY", stamp)
    return home


# -- measuring ------------------------------------------------------------------------------
def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def bench_screen(home: Path, runs: int) -> dict[str, list[float]]:
    """(a): U on the list until the first figures, and until the exact split."""
    env = {"TETHER_HOME": str(home)}
    out: dict[str, list[float]] = {"open": [], "days": [], "exact": [], "help": []}
    pane = Pane()
    try:
        for run in range(runs + 1):
            pane.launch(str(TETHER), env)
            pane.wait_for(lambda t: "STATUS" in t.upper() and "#" in t, 60)
            time.sleep(1.0)  # let the list settle (first rows, reconcile)
            press = time.perf_counter()
            pane.keys("U")
            opened = pane.wait_for(lambda t: "on disk" in t, 30)  # the first figures
            days = pane.wait_for(lambda t: "estimated from" in t or "page by page" in t, 60)
            exact = pane.wait_for(lambda t: "split page by page" in t, 60)
            # The floor of the method in the same app: ? on the list, until its keys show.
            pane.keys("Escape")
            pane.wait_for(lambda t: "on disk" not in t, 30)
            time.sleep(0.5)
            asked = time.perf_counter()
            pane.keys("?")
            helped = pane.wait_for(lambda t: "Keys: " in t, 30)
            pane.stop()
            if run:  # the first round warms the page cache
                out["open"].append(opened - press)
                out["days"].append(days - press)
                out["exact"].append(exact - press)
                out["help"].append(helped - asked)
            print(
                f"  round {run}: opened {1000 * (opened - press):.0f} ms, "
                f"days {1000 * (days - press):.0f} ms, "
                f"split {1000 * (exact - press):.0f} ms{' (warm-up)' if not run else ''}",
                flush=True,
            )
    finally:
        pane.close()
    return out


def bench_library(db: Path, runs: int) -> dict[str, list[float]]:
    """(b): the library's two steps on a read-only connection."""
    from storage.engine.reader import open_reader
    from storage.engine.usage import space, usage

    out: dict[str, list[float]] = {"first": [], "instant": [], "exact": []}
    with open_reader(db, create=False) as reader:
        for _ in range(runs):
            started = time.perf_counter()
            reader.run(usage(reader, backups_dir=db.parent / "backups", chunks=False))
            out["first"].append(time.perf_counter() - started)
            started = time.perf_counter()
            reader.run(usage(reader, backups_dir=db.parent / "backups"))
            out["instant"].append(time.perf_counter() - started)
            started = time.perf_counter()
            reader.run(space(reader, exact=True))
            out["exact"].append(time.perf_counter() - started)
    return out


def bench_processes(home: Path, db: Path, runs: int) -> dict[str, list[float]]:
    """(c) and (d): whole processes, in turn, the same number of rounds."""
    import os

    env = {**os.environ, "TETHER_HOME": str(home)}
    out: dict[str, list[float]] = {"cli": [], "cli_estimate": [], "du": [], "dbstat": []}
    for _ in range(runs):
        out["cli"].append(timed([str(TETHER), "usage", "--json"], env))
        out["cli_estimate"].append(timed([str(TETHER), "usage", "--estimate", "--json"], env))
        out["du"].append(timed(["du", "-b", str(db)]))
        out["dbstat"].append(timed(["sqlite3", str(db), "select sum(pgsize) from dbstat"]))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mb", type=int, default=40, help="MiB of realistic, indexed logs")
    p.add_argument("--sessions", type=int, default=100, help="sessions of those logs")
    p.add_argument("--size", type=int, default=1000, help="MB of the database file")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--summary", type=Path)
    args = p.parse_args()
    home = ensure_data(args.mb, args.sessions, args.size)
    db = home / "tether.db"
    size_mb = db.stat().st_size / 1e6
    print(f"database: {db} ({size_mb:.0f} MB)", flush=True)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average before: {' '.join(load)}", flush=True)
    lib = bench_library(db, args.runs)
    procs = bench_processes(home, db, args.runs)
    screen = bench_screen(home, args.runs)
    load = Path("/proc/loadavg").read_text().split()[:3]

    def ms(values: list[float]) -> list[float]:
        return [1000 * v for v in values]

    def med(values: list[float]) -> float:
        return statistics.median(ms(values))

    rows = [
        ("usage screen: U to the first figures", screen["open"]),
        ("usage screen: U to the days and the estimated split", screen["days"]),
        ("usage screen: U to the page-by-page split", screen["exact"]),
        ("reference: ? on the list until the help shows", screen["help"]),
        ("library: usage(chunks=False) (the first figures)", lib["first"]),
        ("library: usage(exact=False)", lib["instant"]),
        ("library: space(exact=True) (dbstat)", lib["exact"]),
        ("tether usage --json", procs["cli"]),
        ("tether usage --estimate --json", procs["cli_estimate"]),
        ("reference: du -b DB", procs["du"]),
        ('reference: sqlite3 DB "select sum(pgsize) from dbstat"', procs["dbstat"]),
    ]
    print(
        f"\nusage on a {size_mb:.0f} MB database, {args.runs} rounds (load after: {' '.join(load)})"
    )
    for name, values in rows:
        print(
            f"  {name:<58} median {med(values):8.1f} ms  (min {min(ms(values)):.1f}, "
            f"max {max(ms(values)):.1f})"
        )
    if args.summary:
        dbstat = ("sqlite3 dbstat sum, a process", ms(procs["dbstat"]))
        figures = [
            figure(
                17,
                f"usage screen opens (U to the first figures), {size_mb:.0f} MB database",
                ms(screen["open"]),
                "ms",
                reference=("? until the help shows, same app", ms(screen["help"])),
                target="<= 300 ms",
                met=lambda value, _ratio: value <= 300,
            ),
            figure(
                17,
                "usage screen: U to output per day and the estimated split",
                ms(screen["days"]),
                "ms",
                reference=dbstat,
            ),
            figure(
                17,
                "usage screen: U to the page-by-page split of the file",
                ms(screen["exact"]),
                "ms",
                reference=dbstat,
            ),
            figure(
                17,
                "tether usage --json (page by page)",
                ms(procs["cli"]),
                "ms",
                reference=("du -b, a process", ms(procs["du"])),
            ),
            figure(
                17,
                "tether usage --estimate --json",
                ms(procs["cli_estimate"]),
                "ms",
                reference=("du -b, a process", ms(procs["du"])),
            ),
        ]
        write_figures(args.summary, figures)
    ok = med(screen["open"]) <= 300
    print(
        f"\ntarget: usage screen opens in <= 300 ms: {'met' if ok else 'NOT met'} "
        f"({med(screen['open']):.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
