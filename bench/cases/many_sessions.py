"""Many quiet sessions: what recording costs when 50 sessions each print 100 lines a second.

The same producers (a Python script printing timestamped log lines, about 110 bytes,
paced at ``--rate`` lines a second, one write per line) run twice in one run:
(a) the reference: each writes to a flat log file of its own; (b) each is a real
tether session (``tether run``, pipe mode), recorded by its supervisor. Over a
measured window of ``--seconds`` (after every session runs and ``--warmup`` seconds
more), from ``/proc``:

- CPU (utime + stime) of the producers, and of all supervisors;
- bytes the producers wrote (``wchar``): the output, in the window;
- bytes written by the supervisors: ``wchar`` (every byte SQLite and the supervisor
  handed to ``write``: WAL frames, checkpoints, spill) and ``write_bytes`` (pages
  the kernel had to mark dirty for the disk: a page rewritten while still dirty counts
  once). The reference's producers' ``write_bytes`` is the flat file's cost.

Meanwhile a reader polls sessions in turn through the storage API, as a live view
would: readable lag = now minus the timestamp written in the newest line that
``store.output.tail`` returns; index backlog = output not yet searchable
(``unindexed_bytes``) in seconds of that session's output.

Figures only, no asserts. Targets (issue 18): supervisors' CPU <= 1x the producers'
own; bytes written <= 4x the output bytes.

    .venv/bin/python bench/cases/many_sessions.py                  # 50 x 100 lines/s, 60 s
    .venv/bin/python bench/cases/many_sessions.py --quick          # 20 sessions, 15 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TETHER = Path(sys.executable).with_name("tether")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness.figures import figure, write_figures  # noqa: E402

# One line per write, paced to ``rate`` lines a second (it catches up when late).
PRODUCER = r"""
import os, sys, time
rate, seconds, seed = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
paths = ("/api/v1/items", "/api/v1/users", "/healthz", "/api/v2/search", "/login")
out = sys.stdout.fileno()
t0 = time.monotonic()
for i in range(int(rate * seconds)):
    delay = t0 + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    j = i * 7 + seed
    line = (
        f"{time.time():.6f} {levels[j % 6]:<5} worker-{seed % 16} "
        f"{'GET' if j % 3 else 'POST'} {paths[j % 5]}/{j * 7919 % 100000} "
        f"status={200 if j % 17 else 500} took={j % 997}ms req={j * 2654435761 % 2**32:08x}\n"
    )
    os.write(out, line.encode())
"""


@dataclass
class Proc:
    """What /proc says about one process: CPU seconds, bytes written."""

    cpu: float
    wchar: int
    write_bytes: int


def sample(pid: int) -> Proc | None:
    tick = os.sysconf("SC_CLK_TCK")
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    except (OSError, ValueError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return Proc(
        (int(fields[11]) + int(fields[12])) / tick, int(io["wchar"]), int(io["write_bytes"])
    )


def sample_all(pids: list[int]) -> dict[int, Proc]:
    return {pid: s for pid in pids if (s := sample(pid)) is not None}


def delta(before: dict[int, Proc], after: dict[int, Proc]) -> Proc:
    """Summed over the processes seen both times (one that died is left out, and said)."""
    both = before.keys() & after.keys()
    return Proc(
        sum(after[p].cpu - before[p].cpu for p in both),
        sum(after[p].wchar - before[p].wchar for p in both),
        sum(after[p].write_bytes - before[p].write_bytes for p in both),
    )


def measure(
    producers: list[int], supervisors: list[int], warmup: float, seconds: float, during=None
) -> dict[str, float]:
    time.sleep(warmup)
    p0, s0 = sample_all(producers), sample_all(supervisors)
    t0 = time.monotonic()
    if during is not None:
        during(t0 + seconds)
    else:
        time.sleep(seconds)
    p1, s1 = sample_all(producers), sample_all(supervisors)
    took = time.monotonic() - t0
    prod, sup = delta(p0, p1), delta(s0, s1)
    lost = len(producers) - len(p0.keys() & p1.keys())
    lost += len(supervisors) - len(s0.keys() & s1.keys())
    if lost:
        print(f"WARNING: {lost} processes ended inside the window", file=sys.stderr)
    return {
        "seconds": took,
        "producer_cpu": prod.cpu,
        "output": prod.wchar,
        "producer_disk": prod.write_bytes,
        "supervisor_cpu": sup.cpu,
        "supervisor_wchar": sup.wchar,
        "supervisor_disk": sup.write_bytes,
    }


def reference(work: Path, producer: Path, n: int, args: argparse.Namespace) -> dict[str, float]:
    """The same producers, each into a flat log file."""
    logs = work / "flat"
    logs.mkdir()
    procs = []
    for i in range(n):
        with open(logs / f"{i}.log", "wb") as f:
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(producer), str(args.rate), str(args.life), str(i)],
                    stdout=f,
                    stdin=subprocess.DEVNULL,
                )
            )
    try:
        return measure([p.pid for p in procs], [], args.warmup, args.seconds)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait()


async def _poll_lags(db: Path, sids: list[int], rate_bytes: float, until: float) -> dict:
    """Readable lag and index backlog, one session after another, until ``until``."""
    from storage import open_store

    readable: list[float] = []
    backlog: list[float] = []
    async with open_store(db) as store:
        i = 0
        while time.monotonic() < until:
            sid = sids[i % len(sids)]
            i += 1
            lines = await store.output.tail(sid, 1)
            if lines and lines[0].text.split(" ", 1)[0].replace(".", "").isdigit():
                readable.append(time.time() - float(lines[0].text.split(" ", 1)[0]))
            backlog.append(await store.output.unindexed_bytes(sid) / rate_bytes)
            await asyncio.sleep(0.1)
    return {"readable": readable, "backlog": backlog}


def tether_phase(work: Path, producer: Path, n: int, args: argparse.Namespace) -> dict:
    from home.paths import resolve_paths
    from runner.locations import supervisor_pid

    home = work / "home"
    env = {**os.environ, "TETHER_HOME": str(home)}
    env.pop("TETHER_DB", None)
    # This checkout's packages first, even one newer than the editable install's list.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    paths = resolve_paths(env=env)
    sids: list[int] = []
    producers: list[int] = []
    for i in range(n):
        cmd = [sys.executable, str(producer), str(args.rate), str(args.life), str(i)]
        started = subprocess.run(
            [str(TETHER), "run", "--json", "-n", f"p{i}", "--", *cmd],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if started.returncode:
            raise SystemExit(f"tether run failed: {started.stderr.strip()}")
        session = json.loads(started.stdout)
        sids.append(int(session["id"]))
        producers.append(int(session["pid"]))
    supervisors = [supervisor_pid(paths, sid) for sid in sids]
    if None in supervisors:
        raise SystemExit("a supervisor is not running")
    lags: dict = {}
    line_bytes = 110  # about: for the backlog in seconds

    def during(until: float) -> None:
        lags.update(asyncio.run(_poll_lags(paths.db, sids, args.rate * line_bytes, until)))

    try:
        figures = measure(producers, supervisors, args.warmup, args.seconds, during)  # type: ignore[arg-type]
    finally:
        stops = [
            subprocess.Popen(
                [str(TETHER), "stop", str(sid)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
            for sid in sids
        ]
        for stop in stops:
            stop.wait()
    deadline = time.monotonic() + 120
    while any(supervisor_pid(paths, sid) for sid in sids) and time.monotonic() < deadline:
        time.sleep(0.2)
    figures["db_mb"] = sum(p.stat().st_size for p in home.glob("tether.db*") if p.is_file()) / 1e6
    return {**figures, **lags}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0, help="lines a second each")
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="20 sessions, 15 s")
    parser.add_argument("--runs", type=int, default=1, help="rounds of both phases (1)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.seconds = 20, 15.0
    # Producers live well past the window (starting 50 sessions took 5 minutes on a busy
    # machine); they are stopped once it is measured.
    args.life = 3600.0

    refs, tethers = [], []
    for n in range(args.runs):
        work = Path(tempfile.mkdtemp(prefix="tether-bench-many-", dir=os.environ.get("BENCH_TMP")))
        producer = work / "producer.py"
        producer.write_text(PRODUCER)
        try:
            refs.append(reference(work, producer, args.sessions, args))
            tethers.append(tether_phase(work, producer, args.sessions, args))
        finally:
            if args.keep:
                print(f"kept {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
        print(f"round {n + 1} done", file=sys.stderr)

    load = os.getloadavg()
    print(
        f"\nmany sessions: {args.sessions} sessions x {args.rate:g} lines/s, "
        f"{args.seconds:g} s window"
    )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
    )

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    out_mb = med(tethers, "output") / 1e6
    secs = med(tethers, "seconds")
    head = f"{'':<34} {'flat files':>12} {'tether':>12}"
    print(head)
    print("-" * len(head))
    rows = [
        ("output written by producers, MB", med(refs, "output") / 1e6, out_mb),
        (
            "producers' CPU, cores",
            med(refs, "producer_cpu") / secs,
            med(tethers, "producer_cpu") / secs,
        ),
        ("supervisors' CPU, cores", 0.0, med(tethers, "supervisor_cpu") / secs),
        ("  / producers' CPU", 0.0, med(tethers, "supervisor_cpu") / med(tethers, "producer_cpu")),
        (
            "disk bytes (write_bytes) / output",
            med(refs, "producer_disk") / med(refs, "output"),
            med(tethers, "supervisor_disk") / med(tethers, "output"),
        ),
        (
            "bytes to write() (wchar) / output",
            1.0,
            med(tethers, "supervisor_wchar") / med(tethers, "output"),
        ),
        ("database + WAL after, MB", med(refs, "output") / 1e6, med(tethers, "db_mb")),
    ]
    for label, ref, val in rows:
        print(f"{label:<34} {ref:>12.2f} {val:>12.2f}")
    readable = [x for t in tethers for x in t["readable"]]
    backlog = [x for t in tethers for x in t["backlog"]]
    print(
        f"\nreadable lag (tail of a session, {len(readable)} polls): "
        f"p50 {pct(readable, 0.5):.3f} s, "
        f"p95 {pct(readable, 0.95):.3f} s, max {max(readable, default=float('nan')):.3f} s"
    )
    print(
        f"index backlog (seconds of output not yet searchable): p50 {pct(backlog, 0.5):.2f} s, "
        f"p95 {pct(backlog, 0.95):.2f} s, max {max(backlog, default=float('nan')):.2f} s"
    )
    print("\ntargets: supervisors' CPU <= 1x the producers' own; bytes written <= 4x the output.")

    summary = [
        figure(
            18,
            f"{args.sessions} sessions x {args.rate:g} lines/s: supervisors' CPU",
            [t["supervisor_cpu"] / t["seconds"] for t in tethers],
            "cores",
            reference=(
                "the producers' own CPU",
                [t["producer_cpu"] / t["seconds"] for t in tethers],
            ),
            target="<= 1x the producers' CPU",
            met=lambda v, ratio: ratio is not None and ratio <= 1.0,
        ),
        figure(
            18,
            f"{args.sessions} sessions x {args.rate:g} lines/s: bytes written (write_bytes)",
            [t["supervisor_disk"] / 1e6 for t in tethers],
            "MB",
            reference=("output bytes", [t["output"] / 1e6 for t in tethers]),
            target="<= 4x the output",
            met=lambda v, ratio: ratio is not None and ratio <= 4.0,
        ),
        figure(
            18,
            f"{args.sessions} sessions x {args.rate:g} lines/s: bytes handed to write() (wchar)",
            [t["supervisor_wchar"] / 1e6 for t in tethers],
            "MB",
            reference=("output bytes", [t["output"] / 1e6 for t in tethers]),
        ),
        figure(
            18,
            f"{args.sessions} sessions x {args.rate:g} lines/s: flat log files, write_bytes",
            [r["producer_disk"] / 1e6 for r in refs],
            "MB",
            reference=("output bytes", [r["output"] / 1e6 for r in refs]),
        ),
        figure(18, "many sessions: readable lag p95", [pct(readable, 0.95)], "s"),
        figure(18, "many sessions: index backlog p95", [pct(backlog, 0.95)], "s"),
    ]
    write_figures(args.summary, summary)


if __name__ == "__main__":
    main()
