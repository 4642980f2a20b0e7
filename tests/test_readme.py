"""The README's examples work as written: every ```python block runs as a script, every
``tether`` line of a ```sh block is a valid command line, and the harmless ones run."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cli import build_parser, parse

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
SHELL = [code for lang, code in BLOCKS if lang in ("sh", "shell", "bash", "console")]


def _command_lines() -> list[list[str]]:
    """``tether ...`` lines of the shell blocks, comments cut, and ``a / b / c``
    shorthands (``tether stop 42 / pause 42``) split into one command each."""
    found = []
    for block in SHELL:
        for line in block.splitlines():
            line = re.split(r"\s+#", line, maxsplit=1)[0].strip()
            if not line.startswith("tether"):
                continue
            for part in line.removeprefix("tether").split(" / "):
                found.append(shlex.split(part))
    return found


COMMANDS = _command_lines()


def test_the_readme_has_examples():
    assert PYTHON and len(COMMANDS) >= 10


@pytest.mark.parametrize("code", PYTHON, ids=lambda c: c.strip().splitlines()[-1][:40])
def test_python_examples_run_as_written(code, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    if "store.search(" in code:
        assert done.stdout == "#1 line 1: thinking...\n"


@pytest.mark.parametrize("argv", COMMANDS, ids=shlex.join)
def test_every_tether_line_is_a_valid_command(argv, capsys):
    try:
        args = parse(build_parser(), argv)
    except SystemExit as e:
        pytest.fail(f"tether {shlex.join(argv)}: exit {e.code}: {capsys.readouterr().err}")
    assert argv == [] or args.command is not None


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["ls"], ["config"], ["ls", "--help"]])
def test_harmless_examples_run(tether, argv):
    done = tether(*argv)
    assert done.returncode == 0, done.stderr
