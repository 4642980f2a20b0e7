"""Screen emulator benchmark: throughput and memory of each backend, side by side.

Throughput: a ~50 MB stream made by repeating the recorded agent, top, vim and
other fixtures (tests/fixtures/terminal/), fed in 64 KiB chunks as the
supervisor reads them, draining the rendered transcript after every chunk.
Target for the chosen backend: >= 50 MB/s.

Memory: RSS of a fresh process holding a 200x60 screen that has produced
10 000 lines of transcript (kept in the process, as a supervisor would until
it writes them). Target: <= 40 MB. Measured in a subprocess per backend so
one backend's allocations do not count against the other.

Standalone: `python bench/cases/emulator.py [--mb 50] [--backends ghostty,pyte]`.
pyte runs on a smaller stream by default (it is ~100x slower); its MB/s is a rate.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "terminal"
STREAM_FIXTURES = (
    "claude_first",
    "codex_first",
    "top",
    "htop",
    "vim_edit",
    "less_scroll",
    "bash_readline",
    "python_repl",
    "progress_bar",
    "colours",
)
CHUNK = 64 * 1024


def build_stream(megabytes: float, cols: int = 100, rows: int = 30) -> bytes:
    """Concatenate fixtures recorded at cols x rows until the stream reaches `megabytes`."""
    parts = []
    for name in STREAM_FIXTURES:
        meta_path = FIXTURES / f"{name}.json"
        if not meta_path.exists():
            continue
        # Each part starts from a clean screen, as if a new program started.
        parts.append(
            b"\x1b[?1049l\x1b[0m\x1b[r\x1b[H\x1b[2J" + (FIXTURES / f"{name}.bin").read_bytes()
        )
    unit = b"".join(parts)
    target = int(megabytes * 1_000_000)
    return (unit * (target // len(unit) + 1))[:target]


def throughput(backend: str, megabytes: float, data: bytes | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    from runner.screen import open_screen

    data = build_stream(megabytes) if data is None else data
    screen = open_screen(100, 30, backend)
    transcript = 0
    start = time.perf_counter()
    for i in range(0, len(data), CHUNK):
        screen.feed(data[i : i + CHUNK])
        transcript += len(screen.scrolled_off())
    screen.lines()
    elapsed = time.perf_counter() - start
    return {
        "bytes": len(data),
        "seconds": elapsed,
        "mb_s": len(data) / elapsed / 1e6,
        "transcript_lines": transcript,
    }


def raw_library(megabytes: float, data: bytes | None = None) -> dict:
    """Reference: libghostty-vt alone (pyghostty's Terminal), no transcript, no seam."""
    from pyghostty import Terminal

    data = build_stream(megabytes) if data is None else data
    term = Terminal(100, 30, scrollback=1000)
    start = time.perf_counter()
    for i in range(0, len(data), CHUNK):
        term.feed(data[i : i + CHUNK])
    elapsed = time.perf_counter() - start
    return {"bytes": len(data), "seconds": elapsed, "mb_s": len(data) / elapsed / 1e6}


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory(backend: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from runner.screen import open_screen

    before = _rss_kb()
    screen = open_screen(200, 60, backend)
    kept: list[str] = []
    n = 0
    while len(kept) < 10_000:
        block = b"".join(
            b"\x1b[3%dm%06d\x1b[0m %s\r\n" % (i % 8, n + i, b"transcript text " * 11)
            for i in range(500)
        )
        n += 500
        screen.feed(block)
        kept.extend(screen.scrolled_off())
    screen.lines()
    return {
        "rss_mb": _rss_kb() / 1024,
        "rss_delta_mb": (_rss_kb() - before) / 1024,
        "transcript_lines": len(kept),
    }


def _in_subprocess(kind: str, backend: str, megabytes: float) -> dict:
    args = {
        "throughput": f"{backend!r}, {megabytes!r}",
        "memory": repr(backend),
        "raw_library": repr(megabytes),
    }[kind]
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); import bench.cases.emulator as b; "
        f"print(json.dumps(b.{kind}({args})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="stream size for ghostty")
    parser.add_argument("--pyte-mb", type=float, default=2.0, help="stream size for pyte")
    parser.add_argument("--backends", default="ghostty,pyte")
    args = parser.parse_args(argv)
    rows = []
    for backend in args.backends.split(","):
        mb = args.mb if backend != "pyte" else args.pyte_mb
        t = _in_subprocess("throughput", backend, mb)
        m = _in_subprocess("memory", backend, mb)
        rows.append((backend, t, m))
    print(
        f"{'backend':<9} {'stream MB':>9} {'MB/s':>8} {'target':>7} "
        f"{'RSS MB (200x60, 10k lines)':>27} {'target':>7}"
    )
    for backend, t, m in rows:
        print(
            f"{backend:<9} {t['bytes'] / 1e6:>9.1f} {t['mb_s']:>8.1f} {'>= 50':>7} "
            f"{m['rss_mb']:>27.1f} {'<= 40':>7}"
        )
    if "ghostty" in args.backends:
        raw = _in_subprocess("raw_library", "", args.mb)
        print(f"{'reference: libghostty-vt alone (no transcript)':<36} {raw['mb_s']:>8.1f} MB/s")
    if len(rows) == 2:
        (a, ta, ma), (b, tb, mb_) = rows
        print(
            f"ratio {a}/{b}: throughput x{ta['mb_s'] / tb['mb_s']:.0f}, "
            f"RSS x{ma['rss_mb'] / mb_['rss_mb']:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
