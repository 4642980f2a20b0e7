"""The machine a run happened on: CPU, memory, versions of Python, SQLite and the
reference tools, the commit."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from pathlib import Path

from bench.harness.paths import OUT, PYTHON, ROOT


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine() -> dict[str, str]:
    info: dict[str, str] = {}
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["CPU"] = f"{cpu}, {os.cpu_count()} cores"
    try:
        kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        info["memory"] = f"{kb / 1024**2:.1f} GiB"
    except (OSError, StopIteration):
        info["memory"] = "unknown"
    info["system"] = platform.platform()
    versions = subprocess.run(
        [
            str(PYTHON),
            "-c",
            "import sqlite3, sys, importlib.metadata as m; "
            "print(sys.version.split()[0], sqlite3.sqlite_version, m.version('textual'))",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    if len(versions) == 3:
        info["Python"], info["SQLite"], info["Textual"] = versions
    else:
        info["Python"], info["SQLite"] = platform.python_version(), sqlite3.sqlite_version
    info["grep"] = _first_line(["grep", "--version"])
    info["ripgrep"] = _first_line(["rg", "--version"])
    info["tmux"] = _first_line(["tmux", "-V"])
    info["script"] = _first_line(["script", "--version"])
    toolong = OUT / "toolong-venv" / "bin" / "python"
    if toolong.exists():
        info["Toolong"] = _first_line(
            [
                str(toolong),
                "-c",
                "import importlib.metadata as m; "
                "print(m.version('toolong'), 'with textual', m.version('textual'))",
            ]
        )
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    info["commit"] = commit + (" (with uncommitted changes in the tree)" if dirty else "")
    return info
