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
    pane (a real pty) until its last rows show (interpreter start included), beside
    ``tmux attach`` to the same screen the same way, ``--attaches`` times each.
    Each process is timed twice: in the pane (polled every 5 ms, which on 2 CPUs takes
    CPU from the process timed) and in a fresh pty whose output is read as it comes
    into a terminal emulator (pyte) until the full screen shows, no polling. tether's
    bytecode is compiled first, as an install has it. The ``tether`` timed is the
    venv's: an editable install, as the README's quick start (``./dev``) makes it; a
    ``pip install .`` spends about the same CPU before the first screen (its finder's
    imports, pathlib and re, are needed by tether anyway).
    Target: p95 <= 100 ms for the ``tether attach`` process.
(c) Capture throughput of a pty session (a producer writes ``--mb`` MB in 64 KiB
    writes and times itself, first write to last) with no client and with two
    ``tether attach`` clients, each a real process in its own pty (``script``, output
    to /dev/null as fast as it comes), and with two clients that only read the socket
    (the supervisor's own cost, without the terminals' work competing for the CPUs);
    the same producer in a tmux session with no client and with two ``tmux attach``
    clients the same way, as the reference (tmux sends its clients redraws, not the
    stream; so does tether while output floods: screens at most every 20 ms, read off
    the event loop). Rounds alternate. Target: tether with two attach clients >= 0.9x
    without.

The load average is printed with the figures: on a busy machine everything is slower
and noisier.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import re
import select
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness.figures import Figure, figure, write_figures  # noqa: E402
from bench.harness.terminal import SIZE, Pane  # noqa: E402

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


def current_bytecode() -> None:
    """Compile tether's modules first, as installing it does: a source newer than its
    cached bytecode (a working tree, with PYTHONDONTWRITEBYTECODE set) would otherwise be
    compiled again by every ``tether attach`` timed, which no installed tether pays."""
    packages = [str(ROOT / name) for name in ("cli", "home", "runner", "storage", "tui")]
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", *packages], check=True)


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
    current_bytecode()
    env = {"TETHER_HOME": str(home.path)}
    whole_tether = [in_pane(pane, f"{TETHER} attach {sid}", env) for _ in range(attaches)]
    pty_tether = [in_pty([str(TETHER), "attach", str(sid)], env) for _ in range(attaches)]
    home.stop(sid)
    ref = ["tmux", "-L", f"tether-bench-ref-{os.getpid()}", "-f", "/dev/null"]
    subprocess.run(
        [*ref, "new-session", "-d", "-s", "r", "-x", "120", "-y", "36", shlex.join(BASH)],
        check=True,
    )
    subprocess.run([*ref, "send-keys", "-t", "r", "-l", FILL + "; echo MARK-END"], check=True)
    subprocess.run([*ref, "send-keys", "-t", "r", "Enter"], check=True)
    try:
        whole_tmux = [
            in_pane(pane, shlex.join([*ref, "attach", "-t", "r"])) for _ in range(attaches)
        ]
        pty_tmux = [in_pty([*ref, "attach", "-t", "r"], {}) for _ in range(attaches)]
    finally:
        subprocess.run([*ref, "kill-server"], capture_output=True)
    return {
        "in_process": in_process,
        "tether": whole_tether,
        "tmux": whole_tmux,
        "pty_tether": pty_tether,
        "pty_tmux": pty_tmux,
    }


def _full(text: str) -> bool:
    return "MARK-END" in text and "row 34" in text


def in_pane(pane: Pane, command: str, env: dict[str, str] | None = None) -> float:
    """ms from launching ``command`` in the pane until the pane shows the full screen
    (tmux ``capture-pane`` polled every 5 ms: on 2 CPUs that polling competes with the
    process measured, which ``in_pty`` avoids)."""
    start = pane.launch(command, env)
    seen = pane.wait_for(_full)
    pane.stop()
    return (seen - start) * 1000


def in_pty(argv: list[str], env: dict[str, str]) -> float:
    """ms from starting ``argv`` in a fresh 120x36 pty until a terminal emulator (pyte)
    fed what it writes shows the full screen. The output is read as it comes (blocking
    reads, no polling), so measuring takes no CPU from the process measured."""
    import pyte

    cols, rows = SIZE
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, **env},
        start_new_session=True,
    )
    os.close(slave)
    try:
        while True:
            if not select.select([master], [], [], 60)[0]:
                raise TimeoutError(f"{argv}: no full screen after 60 s: {screen.display}")
            stream.feed(os.read(master, 1 << 16))
            if _full("\n".join(screen.display)):
                return (time.perf_counter() - start) * 1000
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        os.close(master)


# -- (c) capture throughput with clients -------------------------------------------------
def attached_client(command: str) -> subprocess.Popen:
    """A real client in a real terminal: ``command`` under ``script`` (a pty of 120x36
    whose output goes to /dev/null as fast as it comes); stdin stays open and silent."""
    inner = f"stty cols 120 rows 36; exec {command}"
    return subprocess.Popen(
        ["script", "-qfec", inner, "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def bench_throughput(home: Home, mb: int, rounds: int) -> dict:
    """The producer's own MB/s as a tether pty session and, as the reference, in a tmux
    session, each with no client and with two ``attach`` clients; rounds alternate."""
    producer = home.path / "producer.py"
    producer.write_text(PRODUCER)
    argv = [str(PYTHON), str(producer), str(mb)]
    results: dict[str, list[float]] = {
        "none": [],
        "two": [],
        "drains": [],
        "tmux_none": [],
        "tmux_two": [],
    }
    for _ in range(rounds):
        results["none"].append(_tether_round(home, argv, mb, clients=""))
        results["two"].append(_tether_round(home, argv, mb, clients="attach"))
        results["drains"].append(_tether_round(home, argv, mb, clients="drain"))
        results["tmux_none"].append(_tmux_round(argv, mb, clients=False))
        results["tmux_two"].append(_tmux_round(argv, mb, clients=True))
    return results


# A client that only reads its socket: what two clients cost the supervisor itself,
# without the terminals' work (a tether attach process writing into a pty, ``script``
# reading it), which competes with the producer for the same CPUs.
DRAIN = (
    "import json, socket, sys\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "s.connect(sys.argv[1])\n"
    "s.sendall(json.dumps({'op': 'attach', 'cols': 120, 'rows': 36}).encode() + b'\\n')\n"
    "while s.recv(1 << 20):\n"
    "    pass\n"
)


def _client(home: Home, sid: int, how: str) -> subprocess.Popen:
    if how == "drain":
        from runner.locations import socket_path

        return subprocess.Popen([str(PYTHON), "-c", DRAIN, str(socket_path(home.paths, sid))])
    env = f"TETHER_HOME={shlex.quote(str(home.path))}"
    return attached_client(f"env {env} {TETHER} attach {sid}")


def _tether_round(home: Home, argv: list[str], mb: int, *, clients: str) -> float:
    """MB/s with two clients of the kind ``clients`` names (``attach``, ``drain``), or
    none (``""``)."""
    sid = home.start(argv)
    procs = [_client(home, sid, clients) for _ in range(2 if clients else 0)]
    try:
        # Both clients are attached (the supervisor has recorded them) before the start.
        home.call(lambda store: _wait_attached(store, sid, len(procs)))
        home.send(sid, "go")
        took = home.call(lambda store: _took(store, sid))
        home.send(sid, "")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        home.stop(sid)
    return mb / took


def _tmux_round(argv: list[str], mb: int, *, clients: bool) -> float:
    # A server of its own each round: one being killed may still answer for a moment.
    ref = ["tmux", "-L", f"tether-bench-tp-{os.getpid()}-{time.monotonic_ns()}", "-f", "/dev/null"]
    subprocess.run(
        [*ref, "new-session", "-d", "-s", "r", "-x", "120", "-y", "36", shlex.join(argv)],
        check=True,
    )
    subprocess.run([*ref, "set-option", "-g", "status", "off"], check=True)
    procs = [attached_client(shlex.join([*ref, "attach", "-t", "r"])) for _ in range(2 * clients)]
    try:
        while _tmux_clients(ref) < len(procs):
            time.sleep(0.02)
        subprocess.run([*ref, "send-keys", "-t", "r", "go", "Enter"], check=True)
        while True:
            shown = subprocess.run(
                [*ref, "capture-pane", "-p", "-t", "r"], capture_output=True, text=True
            ).stdout
            m = re.search(r"TOOK (\d+\.\d+)", shown)
            if m:
                return mb / float(m.group(1))
            time.sleep(0.05)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        subprocess.run([*ref, "kill-server"], capture_output=True)


def _tmux_clients(ref: list[str]) -> int:
    out = subprocess.run([*ref, "list-clients"], capture_output=True, text=True).stdout
    return len(out.splitlines())


async def _wait_attached(store, sid: int, n: int) -> None:  # type: ignore[no-untyped-def]
    while True:
        system = await store.output.read_bytes(sid, stream="system")
        if system.count(b"tether: attached: ") >= n:
            return
        await asyncio.sleep(0.02)


async def _took(store, sid: int) -> float:  # type: ignore[no-untyped-def]
    while True:
        lines = await store.output.tail(sid, 3, stream="stdout")
        for line in lines:
            m = re.search(rb"TOOK (\d+\.\d+)", line.raw)
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
    parts = args.only or ["a", "b", "c"]
    if not shutil.which("tmux") or not shutil.which("script"):
        sys.exit("tmux and script are needed: the benchmark drives real terminals")
    OUT.mkdir(parents=True, exist_ok=True)
    home = Home(OUT / "attach-home")
    print(f"load average at start {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(f"{'':34}{'p50':>9}{'p95':>9}")
    rows: list[Figure] = []
    pane = Pane()
    try:
        if "a" in parts:
            keys = bench_keys(pane, home, args.keys)
            print(row("(a) key -> echo, tether attach", keys["tether"]))
            print(row("(a) key -> echo, tmux attach", keys["tmux"]))
            print(f"    ratio p95 {pct(keys['tether'], 0.95) / pct(keys['tmux'], 0.95):.2f}x")
            rows += key_figures(keys)
        if "b" in parts:
            first = bench_first_screen(pane, home, args.attaches)
            print(row("(b) attach -> screen, in process", first["in_process"]))
            print(row("(b) tether attach process", first["tether"]))
            print(row("(b) tmux attach process", first["tmux"]))
            print(row("(b) tether attach process, pty", first["pty_tether"]))
            print(row("(b) tmux attach process, pty", first["pty_tmux"]))
            rows += first_screen_figures(first)
    finally:
        pane.close()
    if "c" in parts:
        tp = bench_throughput(home, args.mb, args.rounds)
        for name, none, two in (("tether", "none", "two"), ("tmux", "tmux_none", "tmux_two")):
            a, b = statistics.median(tp[none]), statistics.median(tp[two])
            print(f"(c) {name:6} capture, no client   {a:9.1f} MB/s (median of {len(tp[none])})")
            print(f"(c) {name:6} capture, two clients {b:9.1f} MB/s  ratio {b / a:.2f}x")
        a, d = statistics.median(tp["none"]), statistics.median(tp["drains"])
        print(f"(c) tether capture, two drains  {d:9.1f} MB/s  ratio {d / a:.2f}x")
        rows += throughput_figures(tp)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    write_figures(args.summary, rows)


def key_figures(keys: dict) -> list[Figure]:
    tmux = ("tmux attach", [pct(keys["tmux"], 0.95)])
    return [
        figure(
            15,
            "key to echo p50, tether attach",
            [statistics.median(keys["tether"])],
            "ms",
            reference=("tmux attach", [statistics.median(keys["tmux"])]),
        ),
        figure(
            15,
            "key to echo p95, tether attach",
            [pct(keys["tether"], 0.95)],
            "ms",
            reference=tmux,
            target="p95 <= 1.5x tmux",
            met=lambda _v, r: r <= 1.5,
        ),
    ]


def first_screen_figures(first: dict) -> list[Figure]:
    tmux = ("tmux attach process", [pct(first["tmux"], 0.95)])
    return [
        figure(
            15,
            "attach to first full screen p95, tether attach process",
            [pct(first["tether"], 0.95)],
            "ms",
            reference=tmux,
            target="p95 <= 100 ms",
            met=lambda v, _r: v <= 100,
        ),
        figure(
            15,
            "attach to first full screen p95, tether attach process, in a pty read unpolled",
            [pct(first["pty_tether"], 0.95)],
            "ms",
            reference=(
                "tmux attach process, in a pty read unpolled",
                [pct(first["pty_tmux"], 0.95)],
            ),
            target="p95 <= 100 ms",
            met=lambda v, _r: v <= 100,
        ),
        figure(
            15,
            "attach to first screen frame p95, in process",
            [pct(first["in_process"], 0.95)],
            "ms",
        ),
    ]


def throughput_figures(tp: dict) -> list[Figure]:
    return [
        figure(
            15,
            "pty capture with two tether attach clients",
            tp["two"],
            "MB/s",
            reference=("no client", tp["none"]),
            target=">= 0.9x with none",
            met=lambda _v, r: r >= 0.9,
        ),
        figure(
            15,
            "pty capture with two clients that only read the socket",
            tp["drains"],
            "MB/s",
            reference=("no client", tp["none"]),
        ),
        figure(
            15,
            "tmux pane throughput with two tmux attach clients",
            tp["tmux_two"],
            "MB/s",
            reference=("no client", tp["tmux_none"]),
        ),
    ]


if __name__ == "__main__":
    main()
