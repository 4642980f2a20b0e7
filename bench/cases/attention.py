"""Attention (issue 16): is the judge right, is it cheap, is it quick.

    .venv/bin/python bench/cases/attention.py
    .venv/bin/python bench/cases/attention.py --sessions 100 --seconds 20 --runs 3

(a) Labelled screens (tests/fixtures/agents/, recorded and written, see its README):
precision and recall of ``needs_you`` per agent kind and for generic programs, and the
share of screens whose exact state is right. Target: >= 95% per kind.

(b) Cost of watching idle sessions: ``--sessions`` real idle terminal programs (``bash``
at a prompt in a pty, its screen emulated as a supervisor's is), each with the
supervisor's own ``AttentionWatcher`` looking every 0.5 s, all in this one process for
``--seconds``; figure: CPU seconds used per wall second, in % of one core (the watchers'
share of what 100 supervisors spend). The same again as agent sessions whose own hooks
report their state (runner/hooks.py): each look also stats the session's signal file.
References in the same run: the same number of bare 0.5 s timers doing nothing (the
floor of any periodic check), and a look that runs ``ps -o stat= -p PID`` per session
per look (a subprocess per poll, what the issue forbids), measured on a tenth of the
sessions and scaled up. Target: <= 5% of one core for 100 idle sessions.

(c) Latency: a real session (``tether run --pty``) prints a prompt after a random delay
and stamps the time it did; figures: from that stamp until its supervisor recorded
``needs_you`` (``attention_since``), and until a ``tether ls --attention needs_you``
(a whole CLI process per poll) that shows it has returned. Reference: until a ``tether
screen`` that shows the prompt has returned, polled in the same loop. Target: 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agents.labelled import load_all, score  # noqa: E402
from bench.harness import tables  # noqa: E402
from bench.harness.figures import figure, write_figures  # noqa: E402
from runner.attention import AttentionWatcher  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "agents"
_SCRIPT = Path(sys.executable).with_name("tether")
TETHER = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]
)


# -- (a) labelled screens ----------------------------------------------------------------------
def labelled() -> list:
    scores = score(load_all(FIXTURES))
    rows = []
    for name in sorted(scores):
        s = scores[name]
        rows.append(
            (
                name,
                s.screens,
                s.recorded,
                f"{100 * s.precision:.1f}",
                f"{100 * s.recall:.1f}",
                f"{100 * s.accuracy:.1f}",
            )
        )
    print(
        tables.table(
            ["kind", "screens", "recorded", "precision %", "recall %", "exact state %"], rows
        )
    )
    for s in scores.values():
        for name, want, got in s.misses:
            print(f"  {s.kind}/{name}: labelled {want}, judged {got}")
    return [
        figure(
            16,
            f"needs-you {what}, {s.kind} ({s.screens} labelled screens, {s.recorded} recorded)",
            [100 * value],
            "%",
            target=">= 95%",
            met=lambda v, ratio: v >= 95,
        )
        for s in scores.values()
        for what, value in (("precision", s.precision), ("recall", s.recall))
    ]


# -- (b) cost of idle sessions ----------------------------------------------------------------
class IdleSession:
    """bash at its prompt in a pty, its output fed to an emulated screen."""

    def __init__(self) -> None:
        from runner.screen import open_screen

        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvpe("bash", ["bash", "--norc", "-i"], {**os.environ, "PS1": "$ "})
        self.screen = open_screen(80, 24)
        self.last_output = time.monotonic()
        os.set_blocking(self.fd, False)

    def drain(self) -> None:
        try:
            while data := os.read(self.fd, 65536):
                self.screen.feed(data)
                self.last_output = time.monotonic()
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


async def _watch(sessions: list[IdleSession], seconds: float, how: str) -> float:
    """CPU seconds per wall second spent by ``how`` looks over ``sessions``."""
    from agents.kinds import BUILTIN
    from runner.hooks import HookSignal

    signals = Path(tempfile.mkdtemp(prefix="tether-bench-hooks-"))
    loop = asyncio.get_running_loop()
    for s in sessions:
        loop.add_reader(s.fd, s.drain)

    async def record(state: str, since: float) -> None:
        pass

    async def bare() -> None:
        while True:  # noqa: ASYNC110 - a bare periodic timer is the point
            await asyncio.sleep(0.5)

    async def ps(pid: int) -> None:
        while True:
            # blocking, as a naive poller would: the cost is what is measured
            subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True)  # noqa: ASYNC221
            await asyncio.sleep(0.5)

    tasks = []
    for s in sessions:
        if how in ("watcher", "hooked"):
            hooked = how == "hooked"  # a claude session: its hook wrote once
            signal = HookSignal(signals / f"{s.pid}.hook")
            if hooked:
                signal.path.write_text(json.dumps({"state": "idle", "at": time.time()}))
            w = AttentionWatcher(
                lines=lambda s=s: (s.screen.lines(), s.screen.cursor.y),
                last_output=lambda s=s: s.last_output,
                input_fd=s.fd,
                pid=s.pid,
                kind=BUILTIN["claude"] if hooked else None,
                record=record,
                hook=signal.read if hooked else None,
            )
            tasks.append(asyncio.create_task(w.run()))
        elif how == "timers":
            tasks.append(asyncio.create_task(bare()))
        else:
            tasks.append(asyncio.create_task(ps(s.pid)))
    await asyncio.sleep(1.0)  # everyone settled: quiet, judged once
    t0, c0 = time.monotonic(), time.process_time() + _children_cpu()
    await asyncio.sleep(seconds)
    used = time.process_time() + _children_cpu() - c0
    wall = time.monotonic() - t0
    for t in tasks:
        t.cancel()
    for s in sessions:
        loop.remove_reader(s.fd)
    for f in signals.iterdir():
        f.unlink()
    signals.rmdir()
    return used / wall


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def cost(n: int, seconds: float) -> tuple[float, float, float, float]:
    sessions = [IdleSession() for _ in range(n)]
    try:
        time.sleep(1.0)
        for s in sessions:
            s.drain()
        watcher = asyncio.run(_watch(sessions, seconds, "watcher"))
        hooked = asyncio.run(_watch(sessions, seconds, "hooked"))
        timers = asyncio.run(_watch(sessions, seconds, "timers"))
        tenth = sessions[: max(1, n // 10)]
        ps = asyncio.run(_watch(tenth, seconds / 2, "ps")) * n / len(tenth)
    finally:
        for s in sessions:
            s.close()
    return 100 * watcher, 100 * timers, 100 * ps, 100 * hooked


# -- (c) latency -------------------------------------------------------------------------------
def tether(home: Path, *args: str) -> str:
    env = {**os.environ, "TETHER_HOME": str(home)}
    env.pop("TETHER_DB", None)
    done = subprocess.run([*TETHER, *args], env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"tether {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def latency(home: Path, rng: random.Random) -> tuple[float, float, float]:
    """Seconds from the prompt's stamp until the supervisor recorded needs_you (its
    ``attention_since``), until a ``tether ls`` that shows it returned, and until a
    ``tether screen`` that shows the prompt returned (the reference)."""
    stamp = home / f"stamp-{rng.getrandbits(32)}"
    delay = rng.uniform(1.0, 2.0)
    line = f'sleep {delay:.2f}; date +%s.%N > {stamp}; read -p "Deploy now? [y/N] " x'
    sid = tether(home, "run", "--pty", "-c", line).strip()
    shown = flagged = since = None
    deadline = time.monotonic() + 60
    while (shown is None or flagged is None) and time.monotonic() < deadline:
        if flagged is None:
            found = json.loads(tether(home, "ls", "--attention", "needs_you", "--json"))
            mine = [s for s in found if str(s["id"]) == sid]
            if mine:
                flagged, since = time.time(), mine[0]["attention_since"]
        if shown is None and "Deploy now?" in tether(home, "screen", sid):
            shown = time.time()
        time.sleep(0.05)
    tether(home, "stop", sid)
    printed = float(stamp.read_text())
    nan = float("nan")
    return (
        (since or nan) - printed,
        (flagged or nan) - printed,
        (shown or nan) - printed,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=100, help="idle sessions watched (100)")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds measured (20)")
    ap.add_argument("--runs", type=int, default=3, help="runs of (b) and (c) (3)")
    ap.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = ap.parse_args()
    rows = labelled()

    load0 = os.getloadavg()[0]
    costs = [cost(args.sessions, args.seconds) for _ in range(args.runs)]
    print(
        tables.table(
            [
                f"{args.sessions} idle sessions",
                "watchers % core",
                "bare timers %",
                "ps per poll %",
                "with hooks %",
            ],
            [(f"run {i + 1}", *(f"{v:.2f}" for v in c)) for i, c in enumerate(costs)],
        )
    )
    rows.append(
        figure(
            16,
            f"attention: CPU of watching {args.sessions} idle sessions (% of one core)",
            [c[0] for c in costs],
            "%",
            reference=("the same number of bare 0.5 s timers", [c[1] for c in costs]),
            target="<= 5% of one core",
            met=lambda v, ratio: v <= 5,
        )
    )
    rows.append(
        figure(
            16,
            f"attention: CPU of watching {args.sessions} idle agent sessions with their hooks",
            [c[3] for c in costs],
            "%",
            reference=("the same number of bare 0.5 s timers", [c[1] for c in costs]),
            target="<= 5% of one core",
            met=lambda v, ratio: v <= 5,
        )
    )
    rows.append(
        figure(
            16,
            f"attention: a subprocess (ps) per poll instead, {args.sessions} sessions",
            [c[2] for c in costs],
            "%",
        )
    )

    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="tether-bench-attention-") as tmp:
        home = Path(tmp)
        lat = [latency(home, rng) for _ in range(args.runs * 2)]
        tether(home, "ls")
    print(
        tables.table(
            ["try", "-> recorded needs_you s", "-> ls returned showing it s", "-> screen s"],
            [(f"{i + 1}", *(f"{v:.2f}" for v in row)) for i, row in enumerate(lat)],
        )
    )
    rows.append(
        figure(
            16,
            "attention: prompt printed -> its supervisor records needs_you",
            [a for a, _, _ in lat],
            "s",
            reference=("-> a `tether screen` showing the prompt returned", [c for *_, c in lat]),
            target="<= 2 s",
            met=lambda v, ratio: v <= 2,
        )
    )
    rows.append(
        figure(
            16,
            "attention: prompt printed -> a `tether ls --attention needs_you` showing it returned",
            [b for _, b, _ in lat],
            "s",
            reference=("-> a `tether screen` showing the prompt returned", [c for *_, c in lat]),
            target="<= 2 s",
            met=lambda v, ratio: v <= 2,
        )
    )
    print(
        f"median: watching {args.sessions} idle sessions "
        f"{statistics.median(c[0] for c in costs):.2f}% of a core; latency "
        f"{statistics.median(a for a, _, _ in lat):.2f} s to record, "
        f"{statistics.median(b for _, b, _ in lat):.2f} s to a `tether ls` showing it"
    )
    print(
        f"load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs"
    )
    write_figures(args.summary, rows)


if __name__ == "__main__":
    main()
