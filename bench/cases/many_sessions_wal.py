"""Where many quiet sessions' written bytes go: WAL frames by page owner (issue 18).

A companion of ``many_sessions.py`` (same producers, real ``tether run`` sessions), not
a timed benchmark: it explains that one's "bytes written" figure. A reader holds a
read transaction on the database from before the first session starts, so no
checkpoint can copy or restart the WAL: every frame the supervisors write stays in
it. Meanwhile ``dbstat`` is read every ``SNAP`` seconds (page -> table or index,
overflow pages apart); after the window each frame is given to the owner its page
had in the first look after it was written (pages never in any look: the header page,
the pointer map, free pages). Frames are grouped by transaction (a commit frame ends
one) and transactions by what they touch: ``append`` (a session row), ``index step``
(chunk rows and the output index), ``merge`` (the index alone), others by name.

Checkpoint copies are estimated, not seen: SQLite checkpoints once the WAL holds
``wal_autocheckpoint`` (1000) frames and copies each page once, so the estimate is the
distinct pages of each run of 1000 frames, counted at transaction ends.

Caveats: a page freed and reused between two looks (index merges free pages, chunks
reuse them, and the upkeep's incremental vacuum moves pages from the end of the file
into free ones) may be given to the wrong owner; the pinned reader makes the WAL grow
(lookups in a long WAL cost the writers some CPU, not pages).

    .venv/bin/python bench/cases/many_sessions_wal.py --sessions 20 --seconds 15
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.cases.many_sessions import PRODUCER, TETHER  # noqa: E402

PAGE = 4096  # tether's databases use SQLite's default page size
FRAME = PAGE + 24
SNAP = 2.0  # seconds between looks at the page owners
CHECKPOINT_FRAMES = 1000  # SQLite's default wal_autocheckpoint


def is_pointer_map(pageno: int) -> bool:
    """auto_vacuum's pointer-map pages: page 2, then every PAGE / 5 + 1 pages."""
    return pageno >= 2 and (pageno - 2) % (PAGE // 5 + 1) == 0


def kind(names: set[str]) -> str:
    """An append updates its session's row (an index step never does; a page may be
    taken for the index's by mistake, see the caveats)."""
    if "sessions" in names:
        return "append"
    if any(n.startswith("output_words") for n in names):
        return "index step" if any(n.startswith("output_chunks") for n in names) else "merge"
    return ",".join(sorted(names))[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100.0, help="lines a second each")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tether-bench-wal-", dir=os.environ.get("BENCH_TMP")))
    home = work / "home"
    producer = work / "producer.py"
    producer.write_text(PRODUCER)
    env = {**os.environ, "TETHER_HOME": str(home)}
    env.pop("TETHER_DB", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    sids: list[int] = []
    try:
        subprocess.run([str(TETHER), "ls", "--json"], env=env, capture_output=True, check=True)
        db = home / "tether.db"
        wal = Path(f"{db}-wal")
        pin = sqlite3.connect(db, isolation_level=None)
        pin.execute("BEGIN")
        pin.execute("SELECT count(*) FROM sqlite_master").fetchall()  # the snapshot holds
        for i in range(args.sessions):
            cmd = [sys.executable, str(producer), str(args.rate), "3600", str(i)]
            started = subprocess.run(
                [str(TETHER), "run", "--json", "-n", f"p{i}", "--", *cmd],
                env=env,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                check=True,
            )
            sids.append(int(json.loads(started.stdout)["id"]))
        time.sleep(args.warmup)
        look = sqlite3.connect(db, isolation_level=None)

        def frames_now() -> int:
            return max(0, (wal.stat().st_size - 32) // FRAME)

        def owners() -> dict[int, str]:
            return {
                pageno: name + ("/overflow" if pagetype == "overflow" else "")
                for name, pageno, pagetype in look.execute(
                    "SELECT name, pageno, pagetype FROM dbstat"
                )
            }

        def output() -> int:
            return look.execute("SELECT coalesce(sum(output_bytes), 0) FROM sessions").fetchone()[0]

        first, out0 = frames_now(), output()
        looks = [(first, owners())]
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            time.sleep(SNAP)
            looks.append((frames_now(), owners()))
        last, out1 = frames_now(), output()
        took = time.monotonic() - t0
        looks.append((last, owners()))
        load = Path("/proc/loadavg").read_text().split()[:3]
        with wal.open("rb") as f:
            f.seek(32 + first * FRAME)
            raw = f.read((last - first) * FRAME)
        pin.rollback()
        pin.close()
        look.close()
    finally:
        for sid in sids:
            subprocess.run(
                [str(TETHER), "stop", str(sid)], env=env, capture_output=True, check=False
            )

    def owner(k: int, pageno: int) -> str:
        for at, pages in looks:
            if at > k and pageno in pages:
                return pages[pageno]
        if pageno == 1:
            return "header page (sqlite_schema)"
        if is_pointer_map(pageno):
            return "pointer map"
        return "free or unknown"

    txs: list[list[tuple[int, str]]] = []
    tx: list[tuple[int, str]] = []
    for k in range(last - first):
        pageno, commit = struct.unpack(">II", raw[k * FRAME : k * FRAME + 8])
        name = owner(first + k, pageno)
        tx.append((pageno, "header page (sqlite_schema)" if pageno == 1 else name))
        if commit:
            txs.append(tx)
            tx = []
    out = out1 - out0
    frames = sum(map(len, txs))

    def x(n: int, size: int = FRAME) -> str:
        return f"{n * size / out:6.2f}x"

    print(
        f"\n{args.sessions} sessions x {args.rate:g} lines/s, {took:.0f} s: output {out / 1e6:.2f}"
        f" MB; load average {' '.join(load)}\n"
        f"WAL frames {frames} ({x(frames)} the output) in {len(txs)} transactions\n"
    )
    frames_by: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    count_by: collections.Counter[str] = collections.Counter()
    for t in txs:
        k = kind({n for _, n in t})
        count_by[k] += 1
        frames_by[k].update(n for _, n in t)
    for k, names in sorted(frames_by.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(names.values())
        print(f"{k:<44} {x(n)}  {count_by[k]:>6} transactions, {n / count_by[k]:5.1f} pages each")
        for name, c in names.most_common(12):
            print(f"    {name:<40} {x(c)}")
    copied: collections.Counter[str] = collections.Counter()
    window: dict[int, str] = {}
    held = 0
    for t in txs:
        window.update(t)
        held += len(t)
        if held >= CHECKPOINT_FRAMES:
            copied.update(window.values())
            window, held = {}, 0
    copied.update(window.values())
    total = sum(copied.values())
    print(f"\ncheckpoint copies (estimated) {x(total, PAGE)}")
    for name, c in copied.most_common(8):
        print(f"    {name:<40} {x(c, PAGE)}")
    print(
        f"\nWAL + checkpoints (estimated): {(frames * FRAME + total * PAGE) / out:.2f}x the output"
    )
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
