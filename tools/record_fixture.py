# ruff: noqa: E501  (the embedded shell scripts keep one printf per line)
"""Record real terminal programs into static fixtures for the screen emulator.

Each fixture is the raw bytes a pty gave while a program ran at a fixed size,
driven by timed key writes, plus a JSON sidecar saying where it came from:

    tests/fixtures/terminal/NAME.bin    raw output bytes
    tests/fixtures/terminal/NAME.json   {cols, rows, source, command, date, ...}

Timing lives only here: tests replay the static files and never sleep. The
recorder answers the program's terminal queries (cursor position, device
attributes) through a libghostty-vt terminal, as a real terminal would, so
programs such as codex that ask where the cursor is do not stall.

Usage: python tools/record_fixture.py [NAME ...]   (no names: record all)
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import struct
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "terminal"
CAP_BYTES = 200_000


@dataclass(frozen=True)
class Step:
    """Wait `after` seconds (or until output has been quiet `quiet` seconds), then send `keys`."""

    keys: bytes
    after: float = 0.5
    quiet: float = 0.0


@dataclass(frozen=True)
class Recipe:
    name: str
    argv: list[str]
    source: str
    cols: int = 100
    rows: int = 30
    steps: list[Step] = field(default_factory=list)
    settle: float = 1.0  # quiet time after the last step before stopping
    timeout: float = 20.0
    env: dict[str, str] = field(default_factory=dict)
    setup: str = ""  # shell snippet run in the work dir first


PY = sys.executable

COLOURS = r"""
printf 'basic: \033[31mred\033[0m \033[1;32mbold green\033[0m \033[4munder\033[0m \033[7minverse\033[0m\n'
printf '256 semicolon: '; for i in 16 52 88 124 160 196 202 226 46 21 93 201; do printf '\033[38;5;%dm#%d \033[0m' $i $i; done; printf '\n'
printf '256 colon:     '; for i in 16 52 88 124 160 196 202 226 46 21 93 201; do printf '\033[38:5:%dm#%d \033[0m' $i $i; done; printf '\n'
printf 'bg 256:        '; for i in 17 54 91 128 165 202; do printf '\033[48;5;%dm bg%d \033[0m' $i $i; done; printf '\n'
printf 'truecolour ;:  \033[38;2;255;100;0morange\033[0m \033[48;2;0;80;160m blue bg \033[0m\n'
printf 'truecolour ::  \033[38:2::255:100:0morange\033[0m \033[48:2::0:80:160m blue bg \033[0m \033[38:2:0:200:0mno-colourspace\033[0m\n'
printf 'underline styles: \033[4:3mcurly\033[0m \033[4:2mdouble\033[0m \033[58:2::255:0:0mred-ul\033[0m\n'
printf 'gradient: '; for i in $(seq 0 8 255); do printf '\033[48;2;%d;0;%dm \033[0m' $i $((255-i)); done; printf '\n'
"""

WIDE = r"""
printf 'CJK: 日本語のテキスト 中文 한국어\n'
printf 'emoji: 🙂 🚀 👍🏽 🇫🇷 ✅ ⚠️\n'
printf 'zwj: 👩‍💻 👨‍👩‍👧\n'
printf 'combining: e\xcc\x81 a\xcc\x80 n\xcc\x83\n'
printf 'box: ┌──┬──┐\n     │ab│cd│\n     └──┴──┘\n'
printf 'wide at edge: %076d日本\n' 0
"""

PROGRESS = r"""
import sys, time
for i in range(0, 101, 5):
    bar = "#" * (i // 5) + "-" * (20 - i // 5)
    sys.stdout.write(f"\rdownloading [{bar}] {i:3d}%")
    sys.stdout.flush()
    time.sleep(0.02)
sys.stdout.write("\ndone\n")
for i in range(30):
    sys.stdout.write(f"\x1b[2K\rstep {i}/30 \x1b[33m{'.' * (i % 4)}\x1b[0m")
    sys.stdout.flush()
    time.sleep(0.01)
print("\nall steps finished")
"""

ALTSCREEN = r"""
import sys, time
w = sys.stdout.write
w("before the alternate screen\r\nline two on main\r\n")
w("\x1b[?1049h\x1b[H\x1b[2J\x1b[?25l")
for y in range(1, 8):
    w(f"\x1b[{y};{y * 3}Halt row {y}")
w("\x1b[10;5H\x1b[1;35mfull-screen app\x1b[0m")
w("\x1b[3;20r\x1b[20;1H" + "\r\n".join(f"scroll {i}" for i in range(25)))
w("\x1b[r")
sys.stdout.flush()
time.sleep(0.2)
w("\x1b[?25h\x1b[?1049l")
w("after the alternate screen\r\n")
sys.stdout.flush()
"""


def _recipes() -> list[Recipe]:
    vim_keys = [
        Step(b"", after=1.0, quiet=0.5),
        Step(b"Go", after=0.3),
        Step(b"added by the recorder: hello vim\x1b", after=0.3),
        Step(b"gg", after=0.3),
        Step(b"/def\r", after=0.3),
        Step(b"cwfunc\x1b", after=0.3),
        Step(b":set number\r", after=0.3),
        Step(b":split\r", after=0.3),
        Step(b"\x17j", after=0.3),
    ]
    return [
        Recipe(
            "vim_edit",
            ["vim", "-N", "-u", "NONE", "-i", "NONE", "--cmd", "syntax on", "sample.py"],
            "vim (Debian 9.0) editing a Python file: insert, search, change word, "
            ":set number, :split",
            cols=100,
            rows=30,
            steps=vim_keys,
            setup=_SAMPLE_PY,
        ),
        Recipe(
            "less_scroll",
            ["less", "sample.txt"],
            "less paging a 300-line file: space, b, /search, G",
            cols=80,
            rows=24,
            steps=[
                Step(b"", after=0.8, quiet=0.3),
                Step(b" ", after=0.3),
                Step(b" ", after=0.3),
                Step(b"b", after=0.3),
                Step(b"/line 150\r", after=0.4),
                Step(b"G", after=0.4),
            ],
            setup="seq -f 'line %g of the sample text, with some words after it' 300 > sample.txt",
        ),
        Recipe(
            "less_quit",
            ["bash", "--norc", "--noprofile", "-c", "less sample.txt; echo back-in-shell"],
            "less in the alternate screen, quit with q: the main screen comes back",
            cols=80,
            rows=24,
            steps=[Step(b"", after=0.8, quiet=0.3), Step(b" ", after=0.3), Step(b"q", after=0.3)],
            setup="seq -f 'row %g' 200 > sample.txt",
        ),
        Recipe(
            "top",
            ["top", "-d", "0.5"],
            "procps top, refreshing every 0.5 s, four refreshes",
            cols=100,
            rows=30,
            steps=[Step(b"", after=2.2)],
            settle=0.1,
            timeout=5,
        ),
        Recipe(
            "htop",
            ["htop", "-d", "5", "--no-mouse"],
            "htop 3.x, refresh 0.5 s, a few refreshes, then F2 setup screen",
            cols=100,
            rows=30,
            steps=[Step(b"", after=1.6), Step(b"\x1bOQ", after=0.6)],
            settle=0.1,
            timeout=6,
        ),
        Recipe(
            "python_repl",
            [PY, "-q", "-i"],
            "CPython 3.11 interactive REPL: expressions, a for loop, a traceback",
            cols=80,
            rows=24,
            steps=[
                Step(b"", after=0.5, quiet=0.3),
                Step(b"1 + 2\r", after=0.3),
                Step(b"for i in range(3):\r", after=0.3),
                Step(b"    print('row', i * i)\r", after=0.2),
                Step(b"\r", after=0.3),
                Step(b"{'a': [1, 2, 3], 'b': 'x' * 90}\r", after=0.3),
                Step(b"1 / 0\r", after=0.3),
                Step(b"exit()\r", after=0.3),
            ],
        ),
        Recipe(
            "bash_readline",
            ["bash", "--norc", "--noprofile", "-i"],
            "bash -i with readline editing: type, ctrl-a, insert, ctrl-e, ctrl-w, "
            "history recall, long wrapped line",
            cols=80,
            rows=24,
            env={"PS1": r"\u@demo:\w\$ "},
            steps=[
                Step(b"", after=0.5, quiet=0.3),
                Step(b"echo world", after=0.2),
                Step(b"\x01", after=0.2),  # ctrl-a
                Step(b"\x1b[C" * 5, after=0.2),
                Step(b"hello ", after=0.2),
                Step(b"\x05 again", after=0.2),  # ctrl-e
                Step(b"\x17\x17", after=0.2),  # ctrl-w twice
                Step(b"twice\r", after=0.3),
                Step(b"\x1b[A", after=0.2),  # history up
                Step(b"\x08\x08\x08\x08\x08once\r", after=0.3),
                Step(b"echo " + b"long-argument-" * 9 + b"end\r", after=0.3),
                Step(b"printf 'a\\tb\\tc\\n'\r", after=0.3),
                Step(b"exit\r", after=0.3),
            ],
        ),
        Recipe(
            "progress_bar",
            [PY, "-c", PROGRESS],
            "a Python progress bar redrawn with \\r and \\e[2K",
            cols=80,
            rows=24,
            settle=0.3,
        ),
        Recipe(
            "alt_screen",
            [PY, "-c", ALTSCREEN],
            "enter the alternate screen (1049), draw with a scroll region, leave it",
            cols=80,
            rows=24,
            settle=0.3,
        ),
        Recipe(
            "colours",
            ["bash", "--norc", "--noprofile", "-c", COLOURS],
            "printf of 16, 256 and truecolour SGR in both ';' and ':' forms",
            cols=100,
            rows=30,
            settle=0.3,
        ),
        Recipe(
            "wide_chars",
            ["bash", "--norc", "--noprofile", "-c", WIDE],
            "printf of CJK, emoji (with ZWJ and skin tones), combining marks, box drawing",
            cols=80,
            rows=24,
            settle=0.3,
        ),
        Recipe(
            "claude_first",
            ["claude"],
            "Claude Code (npm @anthropic-ai/claude-code) first run without network: "
            "its onboarding/login screen",
            cols=100,
            rows=30,
            steps=[Step(b"", after=4.0, quiet=1.0), Step(b"\r", after=2.0), Step(b"\r", after=2.0)],
            settle=1.0,
            timeout=15,
        ),
        Recipe(
            "codex_first",
            ["codex"],
            "OpenAI Codex CLI (npm @openai/codex) first run without network: its login screen",
            cols=100,
            rows=30,
            steps=[
                Step(b"", after=6.0, quiet=1.5),
                Step(b"\x1b[B", after=1.0),
                Step(b"\x1b[B", after=1.0),
            ],
            settle=1.0,
            timeout=20,
        ),
    ]


_SAMPLE_PY = r"""cat > sample.py <<'EOF'
import sys


def greet(name):
    # say hello to someone
    return f"hello, {name}"


def main(argv):
    for arg in argv[1:]:
        print(greet(arg))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
EOF"""


class _Answerer:
    """Answers terminal queries (DSR, DA) the way a real terminal would."""

    def __init__(self, cols: int, rows: int) -> None:
        try:
            from pyghostty import Terminal
        except ImportError:  # recording still works, programs just get no replies
            self.term = None
            return
        self.replies: list[bytes] = []
        self.term = Terminal(cols, rows, scrollback=0, fg=(229, 229, 229), bg=(0, 0, 0))
        self.term.on_reply(self.replies.append)

    def feed(self, data: bytes) -> bytes:
        if self.term is None:
            return b""
        self.term.feed(data)
        out = b"".join(self.replies)
        self.replies.clear()
        return out


def record(recipe: Recipe) -> tuple[bytes, dict]:
    exe = shutil.which(recipe.argv[0]) or recipe.argv[0]
    if not os.path.exists(exe):
        raise SystemExit(f"{recipe.name}: {recipe.argv[0]} is not installed")
    # Not under /tmp: codex refuses to set up its helpers there and says so on screen.
    base = Path.home() / ".cache" / "tether-fixtures"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{recipe.name}-", dir=base))
    home = work / "home"
    home.mkdir()
    if recipe.setup:
        os.system(f"cd {work} && {recipe.setup}")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "COLUMNS": str(recipe.cols),
        "LINES": str(recipe.rows),
        **recipe.env,
    }
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(work)
        os.execvpe(recipe.argv[0], recipe.argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", recipe.rows, recipe.cols, 0, 0))
    answer = _Answerer(recipe.cols, recipe.rows)
    out = bytearray()
    start = time.monotonic()
    last_output = start
    alive = True

    def pump(until: float, quiet: float = 0.0) -> None:
        nonlocal last_output, alive
        while alive:
            now = time.monotonic()
            if now >= until and (quiet <= 0 or now - last_output >= quiet):
                return
            if now - start > recipe.timeout:
                return
            r, _, _ = select.select([fd], [], [], 0.02)
            if not r:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                alive = False
                return
            if not data:
                alive = False
                return
            out.extend(data)
            last_output = time.monotonic()
            if reply := answer.feed(data):
                os.write(fd, reply)

    for step in recipe.steps:
        pump(time.monotonic() + step.after, step.quiet)
        if step.keys and alive:
            os.write(fd, step.keys)
    pump(time.monotonic() + recipe.settle, quiet=min(recipe.settle, 0.5))
    if alive:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    os.close(fd)
    shutil.rmtree(work, ignore_errors=True)
    data = bytes(out)
    trimmed = len(data) > CAP_BYTES
    data = data[:CAP_BYTES]
    meta = {
        "cols": recipe.cols,
        "rows": recipe.rows,
        "source": recipe.source,
        "command": recipe.argv if recipe.argv[0] != PY else ["python3", *recipe.argv[1:]],
        "date": dt.date.today().isoformat(),
        "bytes": len(data),
        "trimmed": trimmed,
        "recorder": "tools/record_fixture.py",
    }
    return data, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="recipes to record (default: all)")
    parser.add_argument("--out", type=Path, default=FIXTURES)
    args = parser.parse_args(argv)
    recipes = {r.name: r for r in _recipes()}
    names = args.names or list(recipes)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        recipe = recipes[name]
        data, meta = record(recipe)
        (args.out / f"{name}.bin").write_bytes(data)
        (args.out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(f"{name}: {len(data)} bytes{' (trimmed)' if meta['trimmed'] else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
