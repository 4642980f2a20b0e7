"""The queue: how soon the next session starts once a slot frees.

    .venv/bin/python bench/cases/queue_handover.py --sessions 20 --runs 3

In a fresh ``TETHER_HOME`` with ``run.max_parallel = 1``, a blocker session holds the
one slot while ``--sessions`` sessions are queued behind it with ``tether run`` (real
processes); then the blocker is let go, and the chain runs by itself: each session
sleeps 0.1 s and exits, and its finishing supervisor starts the next (no CLI or TUI
runs meanwhile). Figure: for each hand-over, from the end of one run to the start of
the next, both as their supervisors recorded them in the database (``runs.ended_at``
of one, ``runs.started_at`` of the next: the run is recorded as started just before
the command is released). p95 over the hand-overs of one run, median over the runs.

Reference, same run: how long ``tether run`` takes to start a session directly in a
home without limits (from just before the ``tether run`` process is spawned to the
run's recorded start), the same number of times. pueue, the tool whose parallel limits
the queue follows, is not installed here; where it is, its own figure would sit beside
these. Target (issue 17): p95 <= 1 s. No asserts.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.harness import tables  # noqa: E402
from bench.harness.figures import figure, write_figures  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("tether")
TETHER = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]
)


BUSY: list[str] = []  # commands that found the database locked (a loaded machine)


def tether(home: Path, *args: str) -> str:
    env = {**os.environ, "TETHER_HOME": str(home)}
    env.pop("TETHER_DB", None)
    for _ in range(3):
        done = subprocess.run(
            [*TETHER, *args], env=env, capture_output=True, text=True, timeout=120, cwd=home
        )
        if done.returncode == 0 or "database is locked" not in done.stderr:
            break
        BUSY.append(" ".join(args))  # said and counted, then tried again
    if done.returncode != 0:
        raise SystemExit(f"tether {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def runs(home: Path) -> dict[int, tuple[float, float | None]]:
    """Each session's first run: (started_at, ended_at), read on a plain connection."""
    con = sqlite3.connect(f"file:{home / 'tether.db'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT session_id, started_at, ended_at FROM runs WHERE number = 1")
        return {sid: (start, end) for sid, start, end in rows}
    finally:
        con.close()


def wait_for(probe, what: str, timeout: float = 300.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.05)


def let_go(home: Path) -> None:
    """Wait until every supervisor of ``home`` has let go (indexing done), before the
    directory is removed."""
    from runner.locations import lock_is_held

    wait_for(
        lambda: not any(lock_is_held(p) for p in home.glob("run/*/*.lock")),
        "the supervisors to let go",
    )


def hand_overs(n: int) -> list[float]:
    """One run of the chain: the seconds from each run's end to the next one's start."""
    with tempfile.TemporaryDirectory(prefix="tether-bench-queue-") as tmp:
        home = Path(tmp)
        (home / "config.toml").write_text("[run]\nmax_parallel = 1\n")
        gate = home / "go"
        blocker = int(
            tether(home, "run", "--", "sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.01; done")
        )
        queued = [int(tether(home, "run", "--", "sleep", "0.1")) for _ in range(n)]
        gate.touch()
        chain = [blocker, *queued]

        def all_ended():  # type: ignore[no-untyped-def]
            found = runs(home)
            return found if all(found.get(s, (0, None))[1] for s in chain) else None

        found = wait_for(all_ended, "the queue to run through")
        let_go(home)
        return [found[b][0] - found[a][1] for a, b in zip(chain, chain[1:], strict=False)]


def direct_starts(n: int) -> list[float]:
    """Seconds from spawning ``tether run`` to the run's recorded start, no limits."""
    with tempfile.TemporaryDirectory(prefix="tether-bench-direct-") as tmp:
        home = Path(tmp)
        out = []
        for _ in range(n):
            t0 = time.time()
            sid = int(tether(home, "run", "--", "sleep", "0.1"))
            out.append(runs(home)[sid][0] - t0)
        wait_for(lambda: all(end for _, end in runs(home).values()), "the direct runs to end")
        let_go(home)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20, help="queued sessions per run (20)")
    ap.add_argument("--runs", type=int, default=3, help="runs (3)")
    ap.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = ap.parse_args()

    queue_p95, queue_p50, direct_p95, direct_p50, rows = [], [], [], [], []
    for r in range(args.runs):
        waits = [1000 * w for w in hand_overs(args.sessions)]
        direct = [1000 * d for d in direct_starts(args.sessions)]
        queue_p95.append(tables.percentile(waits, 95))
        queue_p50.append(tables.percentile(waits, 50))
        direct_p95.append(tables.percentile(direct, 95))
        direct_p50.append(tables.percentile(direct, 50))
        rows.append(
            (
                f"run {r + 1}",
                queue_p50[-1],
                queue_p95[-1],
                max(waits),
                direct_p50[-1],
                direct_p95[-1],
            )
        )
    print(
        tables.table(
            [
                f"{args.sessions} hand-overs per run",
                "queue p50 ms",
                "queue p95 ms",
                "queue max ms",
                "tether run p50 ms",
                "tether run p95 ms",
            ],
            rows,
        )
    )
    print(
        f"median over runs: slot freed -> next started p95 {statistics.median(queue_p95):.0f} ms; "
        f"tether run -> started p95 {statistics.median(direct_p95):.0f} ms (reference); "
        f"pueue: not installed"
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if BUSY:
        print(f"{len(BUSY)} tether commands found the database locked and were run again")
    ref = ("`tether run` starting a session directly (no queue)", direct_p95)
    write_figures(
        args.summary,
        [
            figure(
                17,
                f"queue: slot freed -> next session started, p95 over {args.sessions} hand-overs",
                queue_p95,
                "ms",
                reference=ref,
                target="<= 1 s",
                met=lambda v, ratio: v <= 1000,
            ),
            figure(
                17,
                "queue: slot freed -> next session started, p50",
                queue_p50,
                "ms",
                reference=("`tether run` starting a session directly (no queue)", direct_p50),
            ),
        ],
    )


if __name__ == "__main__":
    main()
