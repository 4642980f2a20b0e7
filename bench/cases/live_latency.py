"""Live latency: from a line written by a running session to that line on the TUI's
output screen, beside ``tail -f`` of a file, in the same run (issue 14, "Live without
polling lag"; target p95 <= 20 ms on an idle machine).

    python -m bench.cases.live_latency --ticks 150 --runs 2 [--mode pty]

The method is part (c) of bench/cases/tui.py (its ``watch_ticks``): a real session
prints ``tick N <time>`` at random intervals (30-150 ms); tether (its output screen,
woken by the supervisor's stream, tui/widgets/live_push.py, with the 50 ms poll behind
it) shows it in a tmux pane polled about every 5 ms; latency = first seen - time
printed. Unlike (c), the printer starts only once the output screen is drawn (a line
on its stdin), so a slow start of the app on a busy machine is not counted as
latency. ``tail -f`` of the same printer's file in the same kind of pane is the floor
of the method. ``--mode pty`` runs the printer in a terminal: the output screen then
shows its emulated screen (tui/widgets/screen_view.py) instead of the stream. The
machine's load is printed with the figures, and the TUI's CPU time per tick (read
from /proc while it ticks): on a busy machine that, not the supervisor, is what
stretches the latency. So do the TUI's garbage collections: tether runs in the pane
through this file (``--as-tui``), which times each collection (``gc.callbacks``), and
the benchmark prints those made while it ticked, by generation. ``--profile FILE``
runs the TUI under cProfile while it ticks (started and stopped by SIGUSR1/SIGUSR2
from the benchmark) and writes its stats to FILE (read with ``python -m pstats``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
GC_LOG_ENV = "TETHER_BENCH_GC_LOG"
PROFILE_ENV = "TETHER_BENCH_PROFILE"


def run_tui_timing_gc() -> None:
    """``tether`` (the TUI), with each garbage collection's generation, end time and
    duration written to the file named by $TETHER_BENCH_GC_LOG twice a second."""
    import gc
    import threading

    pauses: list[tuple[int, float, float]] = []
    started = [0.0]

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            took = (time.perf_counter() - started[0]) * 1000
            pauses.append((info["generation"], time.time(), took))

    def dump() -> None:
        while True:
            time.sleep(0.5)
            Path(os.environ[GC_LOG_ENV]).write_text(json.dumps(pauses[:]))

    gc.callbacks.append(timed)
    threading.Thread(target=dump, daemon=True).start()
    if os.environ.get(PROFILE_ENV):
        profile_on_signals(os.environ[PROFILE_ENV])
    from cli import main as tether

    sys.argv = ["tether"]
    sys.exit(tether())


def profile_on_signals(out: str) -> None:
    """Profile the main thread (the app's event loop) from SIGUSR1 to SIGUSR2; the
    stats go to ``out``. (Handlers run on the main thread: the profiler is set there.)"""
    import cProfile
    import signal

    profiler = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())

    def stop(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(out)

    signal.signal(signal.SIGUSR2, stop)


if __name__ == "__main__" and sys.argv[1:] == ["--as-tui"]:
    run_tui_timing_gc()  # before the benchmark's own imports: the TUI as users run it

from bench.cases.tui import OUT, PYTHON, watch_ticks  # noqa: E402
from bench.harness.terminal import Pane  # noqa: E402

PRINTER = """
import random, sys, time
rng = random.Random(7)
input()
for i in range(int(sys.argv[1])):
    print(f"tick {i} {time.time():.6f}", flush=True)
    time.sleep(rng.uniform(0.03, 0.15))
time.sleep(3600)
"""


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_latency(pane: Pane, ticks: int, mode: str = "pipe", profile: Path | None = None) -> dict:
    import asyncio
    import signal
    import subprocess

    from home.paths import resolve_paths
    from runner import control
    from storage import open_store

    home = OUT / "live-latency-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    printer = OUT / "live-printer.py"
    printer.write_text(PRINTER)
    paths = resolve_paths(env={"TETHER_HOME": str(home)})
    paths.ensure()

    async def start() -> int:
        async with open_store(paths.db) as store:
            s = await control.start_session(
                store,
                paths,
                argv=[str(PYTHON), "-u", str(printer), str(ticks)],
                cwd=str(home),
                name="ticker",
                mode=mode,
            )
            await store.settings.set(
                "tui.state", {"place": {"screen": "output", "session_id": s.id}}
            )
            return s.id

    async def control_call(sid: int, what: str) -> None:
        async with open_store(paths.db) as store:
            if what == "go":
                await control.send_input(store, paths, sid, "go")
            else:
                await control.stop(store, paths, sid, grace=1)

    sid = asyncio.run(start())
    gc_log = OUT / "live-gc.json"
    gc_log.unlink(missing_ok=True)
    try:
        env = {"TETHER_HOME": str(home), GC_LOG_ENV: str(gc_log)}
        if profile is not None:
            profile.unlink(missing_ok=True)
            env[PROFILE_ENV] = str(profile.resolve())
        pane.launch(f"{PYTHON} {Path(__file__).resolve()} --as-tui", env)
        pane.wait_for(lambda t: "ticker" in t)  # the output screen is drawn
        tui = pane.pid()  # (the pane runs tether itself: exec)
        if profile is not None:
            os.kill(tui, signal.SIGUSR1)
        before = cpu_seconds(tui)
        went = time.time()
        asyncio.run(control_call(sid, "go"))
        tether = watch_ticks(pane, ticks)
        tui_cpu_ms = (cpu_seconds(tui) - before) * 1000 / ticks
        if profile is not None:
            os.kill(tui, signal.SIGUSR2)
            deadline = time.time() + 10
            while not profile.exists() and time.time() < deadline:
                time.sleep(0.05)
        ended = time.time()
        time.sleep(0.6)  # its last dump
        logged = json.loads(gc_log.read_text()) if gc_log.exists() else []
        gc_ms = [(gen, ms) for gen, at, ms in logged if went <= at <= ended]
    finally:
        pane.stop()
        asyncio.run(control_call(sid, "stop"))
    log = OUT / "live-ticks.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen(
            [str(PYTHON), "-u", str(printer), str(ticks)], stdout=sink, stdin=subprocess.PIPE
        )
        try:
            pane.launch(f"tail -n 40 -f {log}")
            pane.wait_for(lambda t: True)
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            floor = watch_ticks(pane, ticks)
        finally:
            pane.stop()
            proc.kill()
    return {"tether_ms": tether, "tail_f_ms": floor, "tui_cpu_ms": tui_cpu_ms, "gc_ms": gc_ms}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=150)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--mode", choices=("pipe", "pty"), default="pipe")
    parser.add_argument("--summary", type=Path, help="write the figures as JSON")
    parser.add_argument(
        "--profile", type=Path, help="the TUI's cProfile stats while it ticks (last run)"
    )
    args = parser.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed: the benchmark watches a real terminal")
    OUT.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    pane = Pane()
    try:
        runs = [bench_latency(pane, args.ticks, args.mode, args.profile) for _ in range(args.runs)]
    finally:
        pane.close()
    tether = [t for r in runs for t in r["tether_ms"]]
    tail = [t for r in runs for t in r["tail_f_ms"]]
    after = os.getloadavg()[0]
    view = "screen view (pty)" if args.mode == "pty" else "output screen"
    print(
        f"live latency, write -> on screen, {len(tether)} ticks; "
        f"load average {load:.1f} before, {after:.1f} after"
    )
    print(f"{'':24}{'p50 ms':>8}{'p95 ms':>8}")
    for name, values in ((f"tether {view}", tether), ("tail -f of a file", tail)):
        if values:
            print(f"{name:24}{statistics.median(values):8.1f}{pct(values, 0.95):8.1f}")
    if tether and tail:
        print(f"ratio p95: {pct(tether, 0.95) / pct(tail, 0.95):.1f}x tail -f")
    cpu = statistics.median(r["tui_cpu_ms"] for r in runs)
    print(f"the TUI's CPU time per tick: {cpu:.1f} ms")
    pauses = [(gen, ms) for r in runs for gen, ms in r["gc_ms"]]
    for gen in (0, 1, 2):
        took = [ms for g, ms in pauses if g == gen]
        if took:
            print(
                f"the TUI's generation {gen} collections while ticking: {len(took)}, "
                f"p50 {statistics.median(took):.1f} ms, max {max(took):.1f} ms"
            )
    if args.summary:  # the figures, as every case writes them for bench/run.py
        from bench.harness.figures import figure, write_figures

        def per_run(key: str, q: float) -> list[float]:
            return [pct(r[key], q) for r in runs if r[key]]

        rows = [
            figure(
                14,
                f"live latency, write -> {view}, p{round(q * 100)} of the ticks of a run",
                per_run("tether_ms", q),
                "ms",
                reference=("tail -f of a file", per_run("tail_f_ms", q)),
                target=target,
                met=(lambda v, ratio: v <= 20) if target else None,
            )
            for q, target in ((0.5, None), (0.95, "<= 20 ms"))
        ]
        rows.append(figure(14, "the TUI's CPU time per tick", [cpu], "ms"))
        write_figures(args.summary, rows)


if __name__ == "__main__":
    main()
