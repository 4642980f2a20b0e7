"""Fixtures of the reliability suite, and its figures.

Every test adds what it did to ``figures`` (trials run, output lines checked byte for
byte, faults injected: kills, full disks, damaged files, fuzzed inputs). At the end of
the session they go to ``.pytest_cache/d/reliability/figures.json`` (outside git) with
the number of failed tests, and one summary line goes to the terminal, so the README
can quote numbers that a real run produced.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from home.paths import Paths
from tests.support.supervisors import supervised_paths

FIELDS = ("trials", "lines", "faults")


class Figures:
    """Counts per area of the suite (``kill -9 supervisor``, ``fuzz: imports``...)."""

    def __init__(self) -> None:
        self.areas: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
        self.failed: list[str] = []
        self.known_gaps: list[str] = []  # strict xfails: bugs reported, not fixed yet
        self.passed = 0
        self.started = time.time()

    def add(self, area: str, *, trials: int = 0, lines: int = 0, faults: int = 0) -> None:
        row = self.areas[area]
        row["trials"] += trials
        row["lines"] += lines
        row["faults"] += faults

    def totals(self) -> dict[str, int]:
        return {f: sum(row[f] for row in self.areas.values()) for f in FIELDS}

    def to_json(self) -> dict[str, Any]:
        return {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "seconds": round(time.time() - self.started, 1),
            "tests_passed": self.passed,
            "tests_failed": len(self.failed),
            "failed": self.failed,
            "known_gaps": self.known_gaps,
            "totals": self.totals(),
            "areas": dict(sorted(self.areas.items())),
        }


_KEY = pytest.StashKey[Figures]()
_RUN: list[Figures] = []  # this session's figures, for the hooks that get no config


def _ours(nodeid: str) -> bool:
    return nodeid.replace("\\", "/").split("::")[0].startswith("tests/reliability/")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = Figures()
    _RUN[:] = [config.stash[_KEY]]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not _RUN or not _ours(report.nodeid):
        return
    figs = _RUN[0]
    if report.failed and report.nodeid not in figs.failed:
        figs.failed.append(report.nodeid)
    elif report.when == "call" and report.passed:
        figs.passed += 1
    elif report.skipped and hasattr(report, "wasxfail"):
        figs.known_gaps.append(f"{report.nodeid}: {report.wasxfail}")


def figures_path(config: pytest.Config) -> Path | None:
    cache = getattr(config, "cache", None)
    if cache is None:
        return None
    return Path(cache.mkdir("reliability")) / "figures.json"


def pytest_sessionfinish(session: pytest.Session) -> None:
    figs = session.config.stash.get(_KEY, None)
    if figs is None or not (figs.areas or figs.passed or figs.failed):
        return
    path = figures_path(session.config)
    if path is not None:
        path.write_text(json.dumps(figs.to_json(), indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figs = config.stash.get(_KEY, None)
    if figs is None or not (figs.areas or figs.passed or figs.failed):
        return
    t = figs.totals()
    path = figures_path(config)
    terminalreporter.write_line(
        f"reliability: {figs.passed + len(figs.failed)} tests, {t['trials']} trials, "
        f"{t['lines']} lines checked, {t['faults']} faults injected, "
        f"{len(figs.failed)} failed, {len(figs.known_gaps)} known gaps (xfail)"
        + (f"; figures in {path}" if path else "")
    )


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return request.config.stash[_KEY]


# -- homes and paths (``tether`` and ``store`` are the root conftest's) ------------------
@pytest.fixture
def tether_config() -> str:
    """A short stop grace and a fast autosave and reconcile."""
    return "[general]\nstop_grace = 1.0\nautosave_interval = 0.5\nreconcile_interval = 1.0\n"


@pytest.fixture
def home(tether_home: Path) -> Path:
    """A private TETHER_HOME (also in this process's environment): ``tether_home`` with
    this suite's ``tether_config``."""
    return tether_home


@pytest.fixture
def paths(home: Path) -> Paths:
    """The paths of ``home``; supervisors left running there are stopped afterwards."""
    yield from supervised_paths(home)
