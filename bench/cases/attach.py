"""Attach benchmark (issue 15), beside tmux in the same run.

    python -m bench.cases.attach --keys 60 --attaches 30 --mb 30 --rounds 3

(a) Keystroke to echo: ``bash --norc -i`` runs as a tether pty session and, as the
    reference, in a tmux session of a second private tmux server. A benchmark pane
    (its own tmux server, 120x36) runs ``tether attach ID`` or ``tmux attach`` to it;
    one key at a time is typed into the pane (``send-keys``) and the pane is polled
    (``capture-pane``, about every 5 ms) until bash's echo of it shows. p50/p95 over
    ``--keys`` keys each, both measured the same way. Target: p95 <= 1.5x tmux.
(b) Attach to first full screen: ``runner.client.attach`` to a session whose screen
    is full of text, until the whole fresh screen (the first frame) has arrived, in
    process (no interpreter start); and the whole ``tether attach`` process in the
    pane until its marker row shows (with interpreter start), beside ``tmux attach``
    the same way. Target: p95 <= 100 ms.
(c) Capture throughput of a pty session (a producer writes ``--mb`` MB in 64 KiB
    writes and times itself, first write to last) with no client and with two
    attached clients reading as fast as they can; rounds alternate. Target: with two
    clients >= 0.9x without.

The load average is printed with the figures: on a busy machine everything is slower
and noisier.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness.terminal import Pane  # noqa: E402

OUT = ROOT / "bench" / "out"
PYTHON = Path(sys.executable)
TETHER = PYTHON.parent / "tether"
BASH = ["env", "PS1=$ ", "bash", "--norc", "--noprofile", "-i"]
PRODUCER = (
    "import os, sys, time\n"
    "input()\n"
    "block = (b'%08d ' % 1 * 7 + b'\\n') * 1024\n"
    "block = block[:65536]\n"
    "n = int(sys.argv[1]) * 1024 * 1024 // len(block)\n"
    "t = time.perf_counter()\n"
    "for _ in range(n):\n"
    "    os.write(1, block)\n"
    "took = time.perf_counter() - t\n"
    "print(f'\\nTOOK {took:.6f}', flush=True)\n"
    "input()\n"
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(name: str, values: list[float], unit: str = "ms") -> str:
    return f"{name:34}{statistics.median(values):9.1f}{pct(values, 0.95):9.1f} {unit}"


class Home:
    """A TETHER_HOME for the benchmark with its store opened per call."""

    def __init__(self, path: Path) -> None:
        from home.paths import resolve_paths

        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        self.path = path
        self.paths = resolve_paths(env={"TETHER_HOME": str(path)})
        self.paths.ensure()

    def call(self, fn):  # type: ignore[no-untyped-def]
        from storage import open_store

        async def go():  # type: ignore[no-untyped-def]
            async with open_store(self.paths.db) as store:
                return await fn(store)

        return asyncio.run(go())

    def start(self, argv: list[str], size: tuple[int, int] = (120, 36)) -> int:
        from runner import control

        async def go(store):  # type: ignore[no-untyped-def]
            s = await control.start_session(
                store, self.paths, argv=argv, cwd=str(self.path), mode="pty", size=size
            )
            return s.id

        return self.call(go)

    def send(self, sid: int, text: str) -> None:
        from runner import control

        self.call(lambda store: control.send_input(store, self.paths, sid, text))

    def stop(self, sid: int) -> None:
        from runner import control

        self.call(lambda store: control.stop(store, self.paths, sid, grace=1))


# -- (a) keystroke to echo ---------------------------------------------------------------
def type_and_time(pane: Pane, keys: int) -> list[float]:
    """Type ``keys`` letters one by one; each one's time until bash's echo shows."""
    out = []
    typed = ""
    for i in range(keys):
        if len(typed) >= 40:
            pane.keys("C-u")
            pane.wait_for(lambda t: _prompt(t) == "")
            typed = ""
        ch = "abcdefghij"[i % 10]
        typed += ch
        want = typed
        start = time.perf_counter()
        pane.keys("-l", ch)
        seen = pane.wait_for(lambda t, w=want: _prompt(t) == w, timeout=30)
        out.append((seen - start) * 1000)
    return out


def _prompt(text: str) -> str | None:
    """What is typed after the last prompt (capture-pane strips the prompt's space)."""
    lines = [ln for ln in text.splitlines() if ln == "$" or ln.startswith("$ ")]
    return lines[-1][2:].rstrip() if lines else None


def bench_keys(pane: Pane, home: Home, keys: int) -> dict:
    sid = home.start(BASH)
    ref = ["tmux", "-L", f"tether-bench-ref-{os.getpid()}", "-f", "/dev/null"]
    subprocess.run(
        [*ref, "new-session", "-d", "-s", "r", "-x", "120", "-y", "36", shlex.join(BASH)],
        check=True,
    )
    subprocess.run([*ref, "set-option", "-g", "status", "off"], check=True)
    try:
        pane.launch(f"{TETHER} attach {sid}", {"TETHER_HOME": str(home.path)})
        pane.wait_for(lambda t: _prompt(t) == "")
        tether = type_and_time(pane, keys)
        pane.stop()
        pane.launch(shlex.join([*ref, "attach", "-t", "r"]))
        pane.wait_for(lambda t: _prompt(t) == "")
        tmux = type_and_time(pane, keys)
        pane.stop()
    finally:
        subprocess.run([*ref, "kill-server"], capture_output=True)
        home.stop(sid)
    return {"tether": tether, "tmux": tmux}


# -- (b) attach to first full screen -----------------------------------------------------
FILL = "for i in $(seq 1 34); do printf 'row %02d %s\\n' $i $(printf 'x%.0s' $(seq 1 100)); done"


def bench_first_screen(pane: Pane, home: Home, attaches: int) -> dict:
    from runner import client
    from runner.stream import SCREEN, FrameReader

    sid = home.start(BASH)
    home.send(sid, FILL + "; echo MARK-END")
    in_process = []

    async def once(store):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        sock, _ = await client.attach(store, home.paths, sid, {"cols": 120, "rows": 36})
        frames = FrameReader()
        with sock:
            while True:
                got = frames.feed(sock.recv(1 << 20))
                if any(k == SCREEN for k, _ in got):
                    return (time.perf_counter() - start) * 1000

    async def many(store):  # type: ignore[no-untyped-def]
        from tests.support.supervisors import wait_output

        await wait_output(store, sid, b"MARK-END\r\n")
        for _ in range(attaches):
            in_process.append(await once(store))

    home.call(many)
    whole_tether = []
    for _ in range(max(3, attaches // 5)):
        start = pane.launch(f"{TETHER} attach {sid}", {"TETHER_HOME": str(home.path)})
        seen = pane.wait_for(lambda t: "MARK-END" in t and "row 34" in t)
        whole_tether.append((seen - start) * 1000)
        pane.stop()
    home.stop(sid)
    ref = ["tmux", "-L", f"tether-bench-ref-{os.getpid()}", "-f", "/dev/null"]
    subprocess.run(
        [*ref, "new-session", "-d", "-s", "r", "-x", "120", "-y", "36", shlex.join(BASH)],
        check=True,
    )
    subprocess.run([*ref, "send-keys", "-t", "r", "-l", FILL + "; echo MARK-END"], check=True)
    subprocess.run([*ref, "send-keys", "-t", "r", "Enter"], check=True)
    whole_tmux = []
    try:
        for _ in range(max(3, attaches // 5)):
            start = pane.launch(shlex.join([*ref, "attach", "-t", "r"]))
            seen = pane.wait_for(lambda t: "MARK-END" in t and "row 34" in t)
            whole_tmux.append((seen - start) * 1000)
            pane.stop()
    finally:
        subprocess.run([*ref, "kill-server"], capture_output=True)
    return {"in_process": in_process, "tether": whole_tether, "tmux": whole_tmux}


# -- (c) capture throughput with clients -------------------------------------------------
def bench_throughput(home: Home, mb: int, rounds: int) -> dict:
    from runner import client

    producer = home.path / "producer.py"
    producer.write_text(PRODUCER)
    results: dict[str, list[float]] = {"none": [], "two": []}
    for _ in range(rounds):
        for variant in ("none", "two"):
            sid = home.start([str(PYTHON), str(producer), str(mb)])
            socks = []
            if variant == "two":
                for n in range(2):
                    req = {"cols": 120, "rows": 36, "who": f"bench {n}"}
                    sock, _ = home.call(lambda s, r=req, i=sid: client.attach(s, home.paths, i, r))
                    socks.append(sock)
            readers = [threading.Thread(target=_drain, args=(s,), daemon=True) for s in socks]
            for t in readers:
                t.start()
            home.send(sid, "go")
            took = home.call(lambda store, s=sid: _took(store, s))
            results[variant].append(mb / took)
            home.send(sid, "")
            for s in socks:
                s.close()
            home.stop(sid)
    return results


def _drain(sock) -> None:  # type: ignore[no-untyped-def]
    try:
        while sock.recv(1 << 20):
            pass
    except OSError:
        pass


async def _took(store, sid: int) -> float:  # type: ignore[no-untyped-def]
    while True:
        lines = await store.output.read_bytes(sid, stream="stdout")
        m = re.search(rb"TOOK (\d+\.\d+)", lines[-200:])
        if m:
            return float(m.group(1))
        await asyncio.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["a", "b", "c"], action="append")
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--attaches", type=int, default=30)
    parser.add_argument("--mb", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    figures: dict = {"load_start": os.getloadavg()[0]}
    parts = args.only or ["a", "b", "c"]
    if not shutil.which("tmux"):
        sys.exit("tmux is needed: the benchmark watches a real terminal")
    OUT.mkdir(parents=True, exist_ok=True)
    home = Home(OUT / "attach-home")
    print(f"load average at start {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(f"{'':34}{'p50':>9}{'p95':>9}")
    pane = Pane()
    try:
        if "a" in parts:
            keys = figures["keys"] = bench_keys(pane, home, args.keys)
            print(row("(a) key -> echo, tether attach", keys["tether"]))
            print(row("(a) key -> echo, tmux attach", keys["tmux"]))
            print(f"    ratio p95 {pct(keys['tether'], 0.95) / pct(keys['tmux'], 0.95):.2f}x")
        if "b" in parts:
            first = figures["first_screen"] = bench_first_screen(pane, home, args.attaches)
            print(row("(b) attach -> screen, in process", first["in_process"]))
            print(row("(b) tether attach process", first["tether"]))
            print(row("(b) tmux attach process", first["tmux"]))
    finally:
        pane.close()
    if "c" in parts:
        tp = figures["throughput_mb_s"] = bench_throughput(home, args.mb, args.rounds)
        none, two = statistics.median(tp["none"]), statistics.median(tp["two"])
        print(f"(c) capture, no client   {none:9.1f} MB/s (median of {len(tp['none'])})")
        print(f"(c) capture, two clients {two:9.1f} MB/s  ratio {two / none:.2f}x")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    if args.summary:
        figures["load_end"] = os.getloadavg()[0]
        args.summary.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
