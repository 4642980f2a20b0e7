"""Where the benchmarks, their data and their output live."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parents[1]  # bench/
ROOT = HERE.parent
OUT = HERE / "out"
DATA = HERE / "data"
CASES = HERE / "cases"
PYTHON = ROOT / ".venv" / "bin" / "python"
