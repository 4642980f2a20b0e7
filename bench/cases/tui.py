"""TUI benchmark: first paint, a 10-million-line session, live latency; beside references.

    python bench/cases/tui.py                 # everything (builds its data once, then reuses it)
    python bench/cases/tui.py --only b        # one part: a, b or c
    python bench/cases/tui.py --lines 1000000 --runs 3

Everything is measured the way a user sees it: the program runs in a real terminal
(a tmux pane, 120x36, its own tmux server) and the benchmark polls ``tmux capture-pane``
about every 5 ms for the text it waits for. Times therefore include interpreter start,
imports, opening the database, layout and the terminal write, and have a resolution of
one poll (reported times are the midpoint between the poll that saw the text and the
one before it).

(a) First paint of the session list with 10 000 sessions (``--sessions``; a comma list
    such as ``10000,100000`` measures each, as the full run does): from launching
    ``tether`` to the first session rows on screen, beside a bare Textual app showing a
    10-row ``DataTable`` (the floor any Textual app pays), in the same run.
    Target: <= 2x (issue 4 for 10 000, issue 18 for 100 000).
(b) A 10-million-line session (generated through the storage API: big ``append_many``
    batches, ``index=False``; the same lines written to a file for Toolong):
    - ``o`` on it in the session list until its last line is on the output screen,
      beside ``o`` on a 10-line session in the same database (the floor: pushing the
      screen). Target: <= 300 ms, and about as fast as the 10-line one.
    - cold start (tether opens where the user left off, that session's output) until
      the last line is on screen, beside Toolong (``tl``, from PyPI) opening the same
      lines as a file, which it also shows from the end;
    - then a little viewing (page up/down, home, end) and the peak RSS (``VmHWM``) of
      each process. Target: <= 150 MB.
    Toolong pins textual < 0.59, so it lives in its own venv (``bench/out/toolong-venv``)
    rather than in the project's.
(c) Latency from a line written by a running session to that line on screen: a real
    session (``runner.control.start_session``) prints ``tick N <time>`` at random
    intervals; tether shows its output; each tick's latency is the time it was first seen
    minus the time in it. The same printer into a file under ``tail -f`` in the same kind
    of pane is the floor of the method. Target: p95 <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness import cache  # noqa: E402
from bench.harness.figures import figure, write_figures  # noqa: E402
from bench.harness.terminal import POLL, Pane, peak_rss_mb  # noqa: E402

DATA = ROOT / "bench" / "data"
OUT = ROOT / "bench" / "out"
TETHER = ROOT / ".venv" / "bin" / "tether"
PYTHON = ROOT / ".venv" / "bin" / "python"
TOOLONG_VENV = OUT / "toolong-venv"
TOOLONG = "toolong==1.5.0"  # the release measured; it pins textual 0.58
T0 = 1_714_500_000.0

BARE_APP = """
from textual.app import App
from textual.widgets import DataTable


class Bare(App):
    def compose(self):
        yield DataTable()

    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns("id", "name", "status", "lines")
        for i in range(10):
            table.add_row(i, f"bare-row {i}", "succeeded", i * 10)


Bare().run()
"""

PRINTER = """
import random, sys, time
rng = random.Random(7)
time.sleep(float(sys.argv[2]))
for i in range(int(sys.argv[1])):
    print(f"tick {i} {time.time():.6f}", flush=True)
    time.sleep(rng.uniform(0.03, 0.15))
time.sleep(3600)
"""


# -- data ---------------------------------------------------------------------------------
async def build_many_sessions(home: Path, count: int) -> None:
    from storage import open_store

    statuses = ["succeeded", "failed", "stopped", "lost"]
    async with open_store(home / "tether.db") as store:
        for i in range(count):
            at = T0 + i * 60
            s = await store.sessions.create(
                ["make", "-j8", f"target-{i}"],
                cwd=f"/home/dev/src/project-{i % 40}",
                name=f"bench-{i:05d}",
                tags=("ci",) if i % 3 == 0 else (),
                created_at=at,
            )
            await store.runs.start(s.id, at=at)
            await store.output.append(s.id, "stdout", b"building\nbuilt\n", at + 1, index=False)
            status = statuses[i % 4]
            code = {"succeeded": 0, "failed": 2}.get(status)
            await store.runs.finish(s.id, exit_code=code, status=status, at=at + 30)


def line_text(i: int) -> str:
    h, rest = divmod(i // 100, 3600)
    clock = f"{h % 24:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{clock} INFO worker-{i % 8} job {i} done in {i % 97}ms"


async def build_big_session(home: Path, log: Path, lines: int) -> int:
    """One session of ``lines`` lines through the storage API (big batches, no index),
    and the same lines in a plain file for Toolong."""
    from storage import open_store

    batch = 200_000
    async with open_store(home / "tether.db") as store:
        s = await store.sessions.create(
            ["./worker", "--all"], cwd="/srv", name="big", created_at=T0
        )
        await store.runs.start(s.id, at=T0)
        with open(log, "w") as f:
            for start in range(0, lines, batch):
                text = "".join(line_text(i) + "\n" for i in range(start, min(lines, start + batch)))
                f.write(text)
                at = T0 + start / 1000
                await store.output.append_many([(s.id, "stdout", text.encode(), at)], index=False)
        await store.runs.finish(s.id, exit_code=0, at=T0 + lines / 1000)
        return s.id


async def set_place(db: Path, session_id: int | None, screen: str = "output") -> None:
    """Where tether opens: the saved UI state it restores on start."""
    from storage import open_store

    async with open_store(db) as store:
        place = {"screen": screen if session_id else "list", "session_id": session_id}
        await store.settings.set("tui.state", {"place": place, "selected": session_id})


SMALL = 10


async def build_small_session(home: Path) -> int:
    from storage import open_store

    async with open_store(home / "tether.db") as store:
        s = await store.sessions.create(["./worker", "--one"], cwd="/srv", name="small")
        await store.runs.start(s.id, at=T0)
        text = "".join(line_text(i) + "\n" for i in range(SMALL))
        await store.output.append(s.id, "stdout", text.encode(), T0 + 1)
        await store.runs.finish(s.id, exit_code=0, at=T0 + 2)
        return s.id


def ensure_toolong() -> Path | None:
    """Toolong's ``tl`` in its own venv, created on first use (needs PyPI); None, with
    the reason printed, when it cannot be installed: the rest of (b) still runs."""
    tl = TOOLONG_VENV / "bin" / "tl"
    if tl.exists():
        return tl
    print(f"installing {TOOLONG} into {TOOLONG_VENV} ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(TOOLONG_VENV)], check=True)
        subprocess.run(
            [str(TOOLONG_VENV / "bin" / "python"), "-m", "pip", "install", "-q", TOOLONG],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"Toolong could not be installed ({e}); (b) runs without it", flush=True)
        return None
    return tl if tl.exists() else None


# -- the measurements ---------------------------------------------------------------------
def bench_first_paint(pane: Pane, runs: int, sessions: int) -> dict:
    home = DATA / f"tui-{sessions}-sessions"
    stamp = cache.stamp(build_many_sessions)
    if not cache.valid(home / "ready", home / "tether.db", stamp):
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        print(f"building {sessions} sessions in {home} ...", flush=True)
        asyncio.run(build_many_sessions(home, sessions))
        cache.mark(home / "ready", stamp)
    bare = OUT / "bare_datatable.py"
    bare.write_text(BARE_APP)
    env = {"TETHER_HOME": str(home)}
    newest = f"bench-{sessions - 1:05d}"  # the list's first row
    tether, floor = [], []
    for run in range(runs + 1):  # the first run of each only warms caches
        asyncio.run(set_place(home / "tether.db", None))
        start = pane.launch(str(TETHER), env)
        seen = pane.wait_for(lambda t: newest in t)
        pane.stop()
        start_bare = pane.launch(f"{PYTHON} {bare}")
        seen_bare = pane.wait_for(lambda t: "bare-row 9" in t)
        pane.stop()
        if run:
            tether.append(seen - start)
            floor.append(seen_bare - start_bare)
    return {"tether_s": tether, "bare_datatable_s": floor, "sessions": sessions}


def bench_big_session(pane: Pane, runs: int, lines: int) -> dict:
    home = DATA / f"tui-{lines}-lines"
    log = home / "big.log"
    stamp = cache.stamp(build_big_session, build_small_session, line_text)
    if not cache.valid(home / "ready", home / "tether.db", stamp) or not log.exists():
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        print(f"building a {lines:,}-line session in {home} ...", flush=True)
        started = time.perf_counter()
        big = asyncio.run(build_big_session(home, log, lines))
        small = asyncio.run(build_small_session(home))
        cache.mark(home / "ready", stamp, f"{big} {small}")
        print(f"  built in {time.perf_counter() - started:.1f}s", flush=True)
    big, small = map(int, cache.extra(home / "ready")[0].split())
    db = home / "tether.db"
    tl = ensure_toolong()
    env = {"TETHER_HOME": str(home)}
    keys = ("open_big_s", "open_small_s", "cold_s", "rss", "tl_cold_s", "tl_rss")
    results: dict = {k: [] for k in keys}
    results["lines"] = lines
    big_last = f"job {lines - 1} done"
    small_last = f"job {SMALL - 1} done"

    results["tries"] = 0
    results["failures"] = []  # the end never shown: what, round, and the pane then

    def shown(what: str, run: int, found: Callable[[str], bool], timeout: float) -> float | None:
        """When ``found`` became true; None (and a failure recorded) if it never did."""
        results["tries"] += 1
        try:
            return pane.wait_for(found, timeout)
        except TimeoutError:
            screen = pane.text().strip().splitlines()
            results["failures"].append({"what": what, "round": run, "pane": screen[:4]})
            print(f"  {what}: the end not shown within {timeout:.0f} s; the pane shows:")
            print("    " + "\n    ".join(screen[:4]), flush=True)
            return None

    def view(last: str) -> float | None:
        """Page around a bit, come back to the end; the peak RSS then."""
        pid = pane.pid()
        for presses in (["PageUp"] * 20, ["Home"], ["PageDown"] * 10, ["End"]):
            pane.keys(*presses)
            time.sleep(0.3)
        try:
            pane.wait_for(lambda t: last in t, 60)
        except TimeoutError:
            print("  the end not shown after End; no RSS figure this round", flush=True)
            return None
        return peak_rss_mb(pid)[0]

    for run in range(runs + 1):
        # Cold: tether starts where the user left off, the big session's output.
        asyncio.run(set_place(db, big))
        start = pane.launch(str(TETHER), env)
        seen = shown("cold start", run, lambda t: big_last in t and f"{lines:,} lines" in t, 60)
        rss = view(big_last)
        pane.stop()
        # From the list: select the session, press o, wait for the output screen's end.
        opened = []
        for sid, count, last in ((big, lines, big_last), (small, SMALL, small_last)):
            asyncio.run(set_place(db, sid, screen="list"))
            pane.launch(str(TETHER), env)
            pane.wait_for(lambda t: "big" in t and "small" in t)
            time.sleep(0.5)
            press = time.perf_counter()
            pane.keys("o")
            marker = f"{count:,} lines"
            at = shown(
                f"o on the {count:,}-line session",
                run,
                lambda t, m=marker, last=last: m in t and last in t,
                15,
            )
            opened.append(None if at is None else at - press)
            pane.stop()
        # Toolong on the same lines as a file.
        if tl is not None:
            start_tl = pane.launch(f"{tl} {log}")
            seen_tl = pane.wait_for(lambda t: big_last in t)
            rss_tl = view(big_last)
            pane.stop()
        if run:  # the first round only warms caches (its failures count all the same)
            if seen is not None:
                results["cold_s"].append(seen - start)
            if rss is not None:
                results["rss"].append(rss)
            if opened[0] is not None:
                results["open_big_s"].append(opened[0])
            if opened[1] is not None:
                results["open_small_s"].append(opened[1])
            if tl is not None:
                results["tl_cold_s"].append(seen_tl - start_tl)
                results["tl_rss"].append(rss_tl)
    return results


def bench_latency(pane: Pane, ticks: int) -> dict:
    from home.paths import resolve_paths
    from runner import control
    from storage import open_store

    home = OUT / "tui-latency-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    printer = OUT / "printer.py"
    printer.write_text(PRINTER)
    paths = resolve_paths(env={"TETHER_HOME": str(home)})
    paths.ensure()
    delay = 6.0  # time for tether to start before the first tick

    async def start() -> int:
        async with open_store(paths.db) as store:
            s = await control.start_session(
                store,
                paths,
                argv=[str(PYTHON), "-u", str(printer), str(ticks), str(delay)],
                cwd=str(home),
                name="ticker",
            )
            await store.settings.set(
                "tui.state", {"place": {"screen": "output", "session_id": s.id}}
            )
            return s.id

    async def stop(sid: int) -> None:
        async with open_store(paths.db) as store:
            await control.stop(store, paths, sid, grace=1)

    sid = asyncio.run(start())
    try:
        pane.launch(str(TETHER), {"TETHER_HOME": str(home)})
        tether = watch_ticks(pane, ticks)
    finally:
        pane.stop()
        asyncio.run(stop(sid))

    log = OUT / "ticks.log"
    log.write_text("")
    with open(log, "w") as sink:
        proc = subprocess.Popen([str(PYTHON), "-u", str(printer), str(ticks), "1.0"], stdout=sink)
        try:
            pane.launch(f"tail -n 40 -f {log}")
            floor = watch_ticks(pane, ticks)
        finally:
            pane.stop()
            proc.kill()
    return {"tether_ms": tether, "tail_f_ms": floor}


TICK = re.compile(r"tick (\d+) (\d+\.\d+)")


def watch_ticks(pane: Pane, ticks: int, timeout: float = 120.0) -> list[float]:
    """Latency of each tick: when it was first seen minus the time printed in it."""
    seen: dict[int, float] = {}
    before = time.time()
    deadline = before + timeout
    while len(seen) < ticks and time.time() < deadline:
        text = pane.text()
        now = time.time()
        for m in TICK.finditer(text):
            n = int(m.group(1))
            if n not in seen:
                seen[n] = (before + now) / 2 - float(m.group(2))
        before = now
        time.sleep(POLL)
    return [seen[n] * 1000 for n in sorted(seen)]


# -- report -------------------------------------------------------------------------------
def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(results: dict) -> None:
    rows: list[tuple[str, str, str, str, str]] = []
    for a in results.get("a", []):
        t, f = statistics.median(a["tether_s"]), statistics.median(a["bare_datatable_s"])
        rows.append(
            (
                f"(a) first paint, {a['sessions']:,} sessions",
                f"{t * 1000:.0f} ms",
                f"{f * 1000:.0f} ms (bare DataTable)",
                f"{t / f:.2f}x",
                "<= 2x",
            )
        )
    if "b" in results:
        b = results["b"]
        if b["failures"]:
            print(
                f"(b) the end was NOT shown in {len(b['failures'])} of {b['tries']} tries: "
                + "; ".join(f"{f['what']} (round {f['round']})" for f in b["failures"])
            )
        med = {
            k: statistics.median(v)
            for k, v in b.items()
            if isinstance(v, list) and v and k != "failures"
        }
        for k in ("open_big_s", "open_small_s", "cold_s", "rss"):
            med.setdefault(k, float("nan"))
        med.setdefault("tl_cold_s", float("nan"))
        med.setdefault("tl_rss", float("nan"))
        rows.append(
            (
                f"(b) o on a {b['lines']:,}-line session",
                f"{med['open_big_s'] * 1000:.0f} ms",
                f"{med['open_small_s'] * 1000:.0f} ms (10-line session)",
                f"{med['open_big_s'] / med['open_small_s']:.2f}x",
                "<= 300 ms",
            )
        )
        rows.append(
            (
                "(b) cold start to the end shown",
                f"{med['cold_s'] * 1000:.0f} ms",
                f"{med['tl_cold_s'] * 1000:.0f} ms (Toolong)",
                f"{med['cold_s'] / med['tl_cold_s']:.2f}x",
                "",
            )
        )
        rows.append(
            (
                "(b) peak RSS while viewing",
                f"{med['rss']:.0f} MB",
                f"{med['tl_rss']:.0f} MB (Toolong)",
                f"{med['rss'] / med['tl_rss']:.2f}x",
                "<= 150 MB",
            )
        )
    if "c" in results:
        c = results["c"]
        if len(c.get("runs", ())) > 1:
            print(f"(c) pools the ticks of {len(c['runs'])} runs")
        for q, name in ((0.5, "p50"), (0.95, "p95"), (1.0, "max")):
            t, f = p(c["tether_ms"], q), p(c["tail_f_ms"], q)
            rows.append(
                (
                    f"(c) write to screen {name}",
                    f"{t:.0f} ms",
                    f"{f:.0f} ms (tail -f)",
                    f"{t / f:.1f}x" if f > 0 else "-",
                    "p95 <= 250 ms" if name == "p95" else "",
                )
            )
    head = ("measure", "tether", "reference", "ratio", "target")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    for row in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["a", "b", "c"], action="append")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--sessions",
        type=lambda v: [int(n) for n in v.split(",")],
        default=[10_000],
        help="sessions in the list for (a); a comma list measures each (10000)",
    )
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--ticks", type=int, default=150)
    parser.add_argument("--latency-runs", type=int, default=1, help="runs of (c), each --ticks")
    parser.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    parts = args.only or ["a", "b", "c"]
    if not shutil.which("tmux"):
        sys.exit("tmux is needed: the benchmark watches a real terminal")
    OUT.mkdir(parents=True, exist_ok=True)
    pane = Pane()
    results: dict = {}
    try:
        if "a" in parts:
            results["a"] = [bench_first_paint(pane, args.runs, n) for n in args.sessions]
        if "b" in parts:
            results["b"] = bench_big_session(pane, max(1, args.runs // 2), args.lines)
        if "c" in parts:
            runs = [bench_latency(pane, args.ticks) for _ in range(args.latency_runs)]
            results["c"] = {
                "tether_ms": [t for r in runs for t in r["tether_ms"]],
                "tail_f_ms": [t for r in runs for t in r["tail_f_ms"]],
                "runs": runs,
            }
    finally:
        pane.close()
    (OUT / "tui.json").write_text(json.dumps(results, indent=1))
    report(results)
    write_figures(args.summary, summary(results))


def summary(results: dict) -> list:
    """The figures of ``report`` as rows for bench/run.py (medians over the runs)."""
    rows = []
    for a in results.get("a", []):
        rows.append(
            figure(
                4 if a["sessions"] <= 10_000 else 18,
                f"TUI (a) first paint of the list, {a['sessions']:,} sessions",
                [t * 1000 for t in a["tether_s"]],
                "ms",
                reference=(
                    "bare Textual app, 10-row DataTable",
                    [t * 1000 for t in a["bare_datatable_s"]],
                ),
                target="<= 2x the bare app",
                met=lambda v, ratio: ratio <= 2,
            )
        )
    if "b" in results:
        b = results["b"]
        ms = {k: [t * 1000 for t in v] for k, v in b.items() if k.endswith("_s")}
        tl_cold = ("Toolong, the same lines as a file", ms["tl_cold_s"]) if b["tl_cold_s"] else None
        tl_rss = ("Toolong, the same lines as a file", b["tl_rss"]) if b["tl_rss"] else None
        shown = b["tries"] - len(b["failures"])
        ok = 100 * shown / b["tries"]
        share = figure(
            4,
            f"TUI (b) the session's end shown on opening: {shown} of {b['tries']} tries "
            "(cold start and o, warm-up rounds included)",
            [ok],
            "%",
            target="every try (100%)",
            met=ok == 100,
        )
        rows.append(dataclasses.replace(share, runs=b["tries"]))  # one share of N tries
        rows += [
            figure(
                4,
                f"TUI (b) o on a {b['lines']:,}-line session until its end is shown",
                ms["open_big_s"],
                "ms",
                reference=("o on a 10-line session", ms["open_small_s"]),
                target="<= 300 ms",
                met=lambda v, ratio: v <= 300,
            ),
            figure(
                4,
                f"TUI (b) cold start into the {b['lines']:,}-line session, end shown",
                ms["cold_s"],
                "ms",
                reference=tl_cold,
            ),
            figure(
                4,
                "TUI (b) peak RSS while viewing it",
                b["rss"],
                "MB",
                reference=tl_rss,
                target="<= 150 MB",
                met=lambda v, ratio: v <= 150,
            ),
        ]
    if "c" in results:
        runs = results["c"]["runs"]
        for q, name, target in ((0.95, "p95", "<= 250 ms"), (0.5, "p50", None)):
            rows.append(
                figure(
                    4,
                    f"TUI (c) line written to line on screen, {name}",
                    [p(r["tether_ms"], q) for r in runs],
                    "ms",
                    reference=("tail -f of a file", [p(r["tail_f_ms"], q) for r in runs]),
                    target=target,
                    met=lambda v, ratio: v <= 250,
                )
            )
    return rows


if __name__ == "__main__":
    main()
