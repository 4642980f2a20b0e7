"""Screens benchmark (issue 14): the emulated screen inside the supervisor, what it costs
the command, and how fast a stored screen comes back. Figures beside references
measured in the same run; no asserts.

1. Emulation throughput inside the supervisor: a ~50 MB agent-like stream (the
   recorded agents and full-screen programs drawn in place, between runs of text that
   scroll; ``agent_stream``, 100x30) fed in 64 KiB reads to a ``ScreenKeeper`` as
   capture feeds it, keeping the rendered transcript and taking snapshots, until all is
   fed. References on the same bytes: the emulator seam alone (transcript drained, no
   keeper) and libghostty-vt alone. Target >= 50 MB/s.
2. Capture cost: the same stream written by a producer (it times itself, first write to
   last) as a ``tether`` pty session with the screen on and off (``TETHER_SCREEN=off``),
   rounds alternating; reference ``script -q``. Target: on <= 1.10x off.
3. Opening the screen of that finished session (an on round): ``ScreenReplay`` from the
   nearest snapshot plus the screen's state, in-process with the emulator loaded (as
   the TUI has it), and a whole ``tether screen ID`` process. Reference: the replay from
   the first byte (no snapshots: what opening cost before). Target <= 300 ms.
4. Jump from a search hit, as the user now gets it: the search of a phrase, then
   ``enter``: the TUI's output screen opened at the hit (tui/widgets/screen_place.py
   finds where it was seen) until the view is drawn with the hit's row in it: tether
   in a tmux pane (bench/harness/terminal.py), the search typed in, then ``enter`` on
   the first hit (the newest), timed to the pane showing it; ``escape`` and again. Three
   phrases: of a row of plain text and of an agent's message row (``● step ...``:
   non-ASCII on the row, as agents draw them), both scrolled off (the transcript opens at
   the row), and of a row of the final screen (that screen opens). Beside: the screen as it was
   at the hit's line (``v`` there, ``tether screen --at``: nearest snapshot + replay),
   and the reference, that screen replayed from the first byte. Target <= 500 ms.
5. Supervisor RSS of a pty session at 200x60 that printed 10 000 coloured lines (so a
   10 000-row transcript was made and stored), beside the same with the screen off and a
   pipe session's supervisor with the same command. Target <= 40 MB.

    .venv/bin/python bench/cases/screens.py             # 50 MB, 3 rounds
    .venv/bin/python bench/cases/screens.py --mb 10 --rounds 1
    .venv/bin/python bench/cases/screens.py --only jump  # 3. and 4. (one session made)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.cases.capture import PRODUCER, wait_timing  # noqa: E402
from bench.cases.emulator import (  # noqa: E402
    CHUNK,
    FIXTURES,
    STREAM_FIXTURES,
    raw_library,
    throughput,
)
from bench.harness.figures import figure, write_figures  # noqa: E402

# This script waits on sessions it starts by polling the database, and runs processes
# to time them: both on purpose.
# ruff: noqa: ASYNC110, ASYNC221

TETHER = Path(sys.executable).with_name("tether")
LINES = r"""
import sys
out = sys.stdout
for i in range(10000):
    out.write("\x1b[3%dm%06d\x1b[0m %s\n" % (i % 8, i, "transcript text " * 11))
out.flush()
sys.stdin.readline()
"""


def agent_stream(megabytes: float) -> bytes:
    """What an agent session looks like to its terminal: screens drawn in place (the
    recorded agents and programs, each from a clean screen) between runs of text that
    scroll (its messages and tool output), so there is a transcript to keep."""
    parts = []
    for n, name in enumerate(STREAM_FIXTURES):
        prose = b"".join(
            b"\x1b[1m\xe2\x97\x8f\x1b[0m step %d.%d: read src/module_%d.py, %d lines changed "
            b"in the parser and its tests\r\n" % (n, i, i % 17, i * 3)
            for i in range(300)
        )
        screen = (FIXTURES / f"{name}.bin").read_bytes()
        parts.append(b"\x1b[?1049l\x1b[0m\x1b[r\x1b[H\x1b[2J" + screen + b"\x1b[0m\r\n" + prose)
    unit = b"".join(parts)
    target = int(megabytes * 1_000_000)
    return (unit * (target // len(unit) + 1))[:target]


def keeper_throughput(data: bytes) -> dict:
    from runner.screen.keeper import ScreenKeeper

    keeper = ScreenKeeper(100, 30, session_id=1)
    keeper.start_recording(1, 0)
    start = time.perf_counter()
    for i in range(0, len(data), CHUNK):
        keeper.feed(data[i : i + CHUNK])
    derived = keeper.take(final=True)  # feeds what is queued, then the final screen
    elapsed = time.perf_counter() - start
    keeper.close()
    rows = sum(len(r.rows) for r in derived.rows)
    return {"mb_s": len(data) / elapsed / 1e6, "rows": rows, "snapshots": len(derived.snapshots)}


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


async def capture_rounds(
    work: Path, stream: Path, rounds: int, *, only_on: bool = False
) -> tuple[dict, int, Path]:
    from home.paths import resolve_paths
    from runner import control
    from storage import open_store

    paths = resolve_paths(env={"TETHER_HOME": str(work / "home")})
    took: dict[str, list[float]] = {"on": [], "off": [], "script": []}
    keep_sid = 0
    async with open_store(paths.db) as store:
        for n in range(rounds):
            for mode in ("on",) if only_on else ("on", "off"):
                timing = work / f"t-{mode}-{n}"
                os.environ["TETHER_SCREEN"] = mode
                try:
                    s = await control.start_session(
                        store,
                        paths,
                        argv=[sys.executable, "-c", PRODUCER, str(stream), str(timing)],
                        cwd=work,
                        name=f"agent-{mode}-{n}",  # short: the TUI's lines show all of it
                        mode="pty",
                        size=(100, 30),
                    )
                finally:
                    os.environ.pop("TETHER_SCREEN", None)
                took[mode].append(wait_timing(timing)[0])
                while not (await store.sessions.require(s.id)).ended:
                    await asyncio.sleep(0.05)
                if mode == "on":
                    keep_sid = s.id
            if only_on:
                continue
            timing = work / f"t-script-{n}"
            prod = f"{sys.executable} -c {_q(PRODUCER)} {stream} {timing}"
            subprocess.run(
                f"script -q -c {_q(prod)} /dev/null > /dev/null < /dev/null", shell=True, check=True
            )
            took["script"].append(wait_timing(timing)[0])
        while not (await store.scalar(
            "SELECT complete FROM screen_renders WHERE session_id = ?", (keep_sid,)
        )):  # fmt: skip
            await asyncio.sleep(0.05)
    return took, keep_sid, paths.db


def _q(s: str) -> str:
    import shlex

    return shlex.quote(s)


def _phrase(words: list[str]) -> str:
    return '"' + " ".join(words).replace('"', "") + '"'


async def open_and_jump(db: Path, sid: int, rounds: int) -> dict:
    from cli.screen import replay
    from runner.screen import restore_screen, screen_class
    from runner.screen.replay import ScreenReplay
    from runner.screen.state import screen_state, shown_lines
    from storage import open_store
    from storage.engine import screens
    from storage.engine.search import search
    from storage.query import parse
    from tui.widgets.screen_place import HitPlace, locate

    screen_class()  # loaded, as the TUI loads it in a thread when it starts
    out: dict[str, Any] = {"open": [], "open_ref": [], "jumps": {}}
    async with open_store(db) as store:
        session = await store.sessions.require(sid)
        # What to search for: rows of the transcript half way through it, one of plain
        # text and one of an agent's messages (its first words, after the ``●``), and a
        # row of the screen the run ended on (its newest hit is there).
        rows = await screens.rendered_rows(store, sid)
        middle = [r for r in rows[len(rows) // 2 :] if len(r.split()) >= 5]
        plain = next(r for r in middle if r.isascii()).split()[:4]
        agent = next(r for r in middle if r.startswith("●")).split()[1:5]
        end = await screens.nearest_snapshot(store, sid)
        assert end is not None and end.final, "the session's run ended without its screen"
        last = [r for r in shown_lines(restore_screen(end.data).lines()) if len(r.split()) >= 5]
        final = last[-1].split()
        final = final[1:5] if final[0] == "●" else final[:4]
        phrases = {"plain": _phrase(plain), "agent": _phrase(agent), "final": _phrase(final)}
        for _ in range(max(3, rounds)):
            t0 = time.perf_counter()
            r = await replay(store, session)
            screen_state(r.screen, styled=True)
            out["open"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        full = ScreenReplay(sid)
        await full.catch_up(store)
        screen_state(full.screen, styled=True)
        out["open_ref"].append((time.perf_counter() - t0) * 1000)
        for kind, phrase in phrases.items():
            searched: list[float] = []
            at_line: list[float] = []
            for _ in range(max(3, rounds)):
                t0 = time.perf_counter()
                found = await search(store, parse(phrase), session_id=sid, counts=False)
                # The newest: the first hit the search screen lists (the stream repeats,
                # so a row from half way through is found near the end too).
                hit = found.hits[0]
                searched.append((time.perf_counter() - t0) * 1000)
                where = (await locate(store, sid, HitPlace.of(hit))).where
                t0 = time.perf_counter()
                r = await replay(store, session, until=hit.line + 1)
                screen_state(r.screen, styled=True)
                at_line.append(searched[-1] + (time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            full = ScreenReplay(sid)
            await full.catch_up(store, until=hit.line + 1)
            screen_state(full.screen, styled=True)
            ref = [(time.perf_counter() - t0) * 1000]
            out["jumps"][kind] = {"phrase": phrase, "hit": hit, "search": searched, "where": where,
                                  "at_line": at_line, "ref": ref}  # fmt: skip
        # The reference for enter: a pipe session's hit, which opens the stream at its
        # line (what enter did for every hit before).
        pipe = await store.sessions.create(["make"], cwd="/", name="pipe-ref", mode="pipe")
        await store.runs.start(pipe.id)
        lines = b"".join(b"pipe reference row %d: compiled module %d\n" % (i, i % 17)
                         for i in range(20000))  # fmt: skip
        await store.output.append(pipe.id, "stdout", lines)
        await store.runs.finish(pipe.id, exit_code=0)
        await store.output.index_pending()
        phrase = '"pipe reference row 17777"'
        searched = []
        for _ in range(max(3, rounds)):
            t0 = time.perf_counter()
            hit = (await search(store, parse(phrase), counts=False)).hits[0]
            searched.append((time.perf_counter() - t0) * 1000)
        out["jumps"]["pipe"] = {"phrase": phrase, "hit": hit, "search": searched,
                                "where": "stream"}  # fmt: skip
    env = {**os.environ, "TETHER_DB": str(db)}
    procs = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([str(TETHER), "screen", str(sid)], env=env, capture_output=True, check=True)
        procs.append((time.perf_counter() - t0) * 1000)
    out["process"] = procs
    return out


def tui_jumps(home: Path, jumps: dict[str, dict], rounds: int) -> None:
    """``enter`` on each hit in tether itself, in a tmux pane (bench/harness/terminal.py,
    120x36): from the key to the pane showing the view at the hit (its header saying
    where, and the hit's row). The search screen is typed into once per phrase; then
    enter, escape twice (the find bar, back to the results), enter again... The first
    enter of each tether also loads the emulator: kept apart as ``cold``."""
    from bench.harness.terminal import Pane

    pane = Pane()
    try:
        for j in jumps.values():
            hit = j["hit"]
            row = hit.text.strip()[:60]
            pane.launch(str(TETHER), {"TETHER_HOME": str(home)})
            pane.wait_for(lambda t: "screen" in t or "stream" in t or "#" in t, 60)
            time.sleep(0.5)
            pane.keys("C-f")
            pane.wait_for(lambda t: "Search the output" in t or "Recent" in t, 30)
            pane.keys("-l", j["phrase"])
            # Results, counted: the count goes on after the first page is shown, and an
            # enter meanwhile would share the CPU with it.
            pane.wait_for(lambda t: "enter opens" in t and "counting" not in t, 60)
            pane.keys("Down")  # from the session's header to its first hit
            time.sleep(0.3)
            took = []
            for _ in range(rounds + 1):
                press = time.perf_counter()
                pane.keys("Enter")
                at = pane.wait_for(lambda t, r=row: r in t and _at_hit(t), 30)
                took.append((at - press) * 1000)
                pane.keys("Escape", "Escape")
                pane.wait_for(lambda t: "enter opens" in t, 30)
                time.sleep(0.3)
            j["cold"], j["tui"] = took[0], took[1:]
            j["ms"] = [a + b for a, b in zip(j["search"], j["tui"], strict=False)]
            pane.stop()
    finally:
        pane.close()


def _at_hit(text: str) -> bool:
    """The output screen is up (its find bar holds the hit's words; the header may be
    too narrow for where it shows the hit, after a long command)."""
    return " find  " in text and "enter opens" not in text


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def supervisor_rss(work: Path) -> dict:
    from home.paths import resolve_paths
    from runner import control
    from storage import open_store
    from storage.engine import screens

    paths = resolve_paths(env={"TETHER_HOME": str(work / "rss")})
    out = {}
    async with open_store(paths.db) as store:
        for mode in ("pty", "pty-off", "pipe"):
            os.environ["TETHER_SCREEN"] = "off" if mode == "pty-off" else "on"
            try:
                s = await control.start_session(
                    store,
                    paths,
                    argv=[sys.executable, "-c", LINES],
                    cwd=work,
                    mode=mode.removesuffix("-off"),
                    size=(200, 60),
                )
            finally:
                os.environ.pop("TETHER_SCREEN", None)
            while await store.output.line_count(s.id) < 10000:
                await asyncio.sleep(0.1)
            if mode == "pty":
                while await screens.rendered_count(store, s.id) < 10000 - 60:
                    await asyncio.sleep(0.1)
                out["rows"] = await screens.rendered_count(store, s.id)
            await asyncio.sleep(1.5)  # a save or two later
            run = await store.runs.get(s.id, 1)
            out[mode] = _rss_mb(run.supervisor_pid)
            await control.stop(store, paths, s.id)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only", choices=("jump",), help="jump: only 3. and 4. (one session recorded once)"
    )
    parser.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    only_jump = args.only == "jump"
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, {os.cpu_count()} CPUs")
    data = agent_stream(args.mb)
    from runner.screen import screen_class

    screen_class()  # load libghostty-vt first: its C declarations take a moment to parse
    figures = []
    if not only_jump:
        kt = [keeper_throughput(data) for _ in range(args.rounds)]
        seam = [throughput("ghostty", args.mb, data) for _ in range(args.rounds)]
        raw = [raw_library(args.mb, data) for _ in range(args.rounds)]
        k_mbs = [k["mb_s"] for k in kt]
        print(f"\n1. emulation, {len(data) / 1e6:.0f} MB agent stream (MB/s, median of "
              f"{args.rounds})")  # fmt: skip
        print(f"   ScreenKeeper (supervisor: transcript + snapshots)  {_median(k_mbs):7.1f}  >= 50")
        seam_mbs, raw_mbs = [s["mb_s"] for s in seam], [r["mb_s"] for r in raw]
        print(f"   emulator seam alone (transcript drained)          {_median(seam_mbs):7.1f}")
        print(f"   libghostty-vt alone                               {_median(raw_mbs):7.1f}")
        print(f"   ({kt[0]['rows']} transcript rows, {kt[0]['snapshots']} snapshots)")
        figures.append(
            figure(14, "emulation in the supervisor (ScreenKeeper)", k_mbs, "MB/s",
                   reference=("libghostty-vt alone", raw_mbs),
                   target=">= 50 MB/s", met=lambda v, r: v >= 50)
        )  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="tether-screens-") as tmp:
        work = Path(tmp)
        stream = work / "stream.bin"
        stream.write_bytes(data)
        took, sid, db = asyncio.run(
            capture_rounds(work, stream, 1 if only_jump else args.rounds, only_on=only_jump)
        )
        if not only_jump:
            on, off, script = (_median(took[k]) for k in ("on", "off", "script"))
            print(f"\n2. pty capture, producer wall time (s, median of {args.rounds})")
            print(f"   screen on {on:.3f}   off {off:.3f}   script -q {script:.3f}")
            print(f"   on / off = {on / off:.2f}x  (target <= 1.10)")
            figures.append(
                figure(14, "pty capture producer time, screen on / off", [on / off], "x",
                       reference=("script -q / off", [script / off]), target="<= 1.10x",
                       met=lambda v, r: v <= 1.10)
            )  # fmt: skip
        oj = asyncio.run(open_and_jump(db, sid, args.rounds))
        tui_jumps(db.parent, oj["jumps"], max(3, args.rounds))
        print("\n3. screen of the finished session (ms, median)")
        print(f"   from the nearest snapshot {_median(oj['open']):8.1f}  (target <= 300)")
        print(f"   replay from the first byte {_median(oj['open_ref']):7.1f}  (reference)")
        print(f"   whole `tether screen ID` process {_median(oj['process']):6.1f}")
        print("\n4. search a phrase, enter on its hit: the view drawn at the hit (ms, median)")
        for kind, j in oj["jumps"].items():
            hit = j["hit"]
            row = f"row {hit.row + 1}, " if hit.row is not None else ""
            print(f"   {kind} row: search {j['phrase']} -> {j['where']} "
                  f"({row}line {hit.line + 1})")  # fmt: skip
            print(f"     search {_median(j['search']):6.1f} + enter {_median(j['tui']):6.1f}"
                  f" = {_median(j['ms']):6.1f}  (target <= 500)")  # fmt: skip
            print("       enter, each: " + " ".join(f"{v:.0f}" for v in j["tui"]))
            if kind == "pipe":
                print("     (reference: a pipe session's hit opens its stream, as every hit did)")
                continue
            print(f"     search + screen at the hit's line (v) {_median(j['at_line']):7.1f}")
            print(f"     replay from the first byte {_median(j['ref']):7.1f}  (reference)")
        colds = ", ".join(f"{j['cold']:.0f}" for j in oj["jumps"].values())
        print(f"   (the first enter of each tether, loading the emulator: {colds})")
        load = os.getloadavg()
        print(f"   load average now {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        figures += [
            figure(14, "screen of a finished session opens", oj["open"], "ms",
                   reference=("replay from the first byte", oj["open_ref"]),
                   target="<= 300 ms", met=lambda v, r: v <= 300),
            *(
                figure(14, f"search + enter on a hit ({name}) to the TUI's view of it",
                       oj["jumps"][kind]["ms"], "ms",
                       reference=("replay from the first byte", oj["jumps"][kind]["ref"]),
                       target="<= 500 ms", met=lambda v, r: v <= 500)
                for kind, name in (("plain", "a row of text"), ("agent", "an agent's row"),
                                   ("final", "the final screen"))
            ),
            figure(14, "search + enter on a pipe session's hit (its stream, as before)",
                   oj["jumps"]["pipe"]["ms"], "ms"),
            figure(14, "search hit to the screen at its line (v, screen --at)",
                   oj["jumps"]["plain"]["at_line"], "ms",
                   reference=("replay from the first byte", oj["jumps"]["plain"]["ref"]),
                   target="<= 500 ms", met=lambda v, r: v <= 500),
        ]  # fmt: skip
        if not only_jump:
            rss = asyncio.run(supervisor_rss(work))
            print(f"\n5. supervisor RSS, 200x60, {rss.get('rows')} transcript rows stored")
            print(
                f"   pty session {rss['pty']:.1f} MB (target <= 40)   screen off "
                f"{rss['pty-off']:.1f} MB   pipe session {rss['pipe']:.1f} MB"
            )
            figures.append(
                figure(14, "supervisor RSS, 200x60 + 10 000 transcript rows", [rss["pty"]],
                       "MB", reference=("the same, screen off", [rss["pty-off"]]),
                       target="<= 40 MB", met=lambda v, r: v <= 40)
            )  # fmt: skip
    write_figures(args.summary, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
