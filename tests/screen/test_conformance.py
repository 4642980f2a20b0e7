"""Conformance: each screen backend shows what tmux shows for every recorded fixture.

tmux is the reference emulator. Every fixture in tests/fixtures/terminal/ is
cat into a tmux pane of its recorded size and into each backend; the visible
text (trailing spaces stripped), the cursor and the alternate-screen state must
match. The default backend must match on every fixture. Known differences of
the fallback backend are listed below with their reason, as strict xfails: if
pyte starts matching, the test says so.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from runner.screen import DEFAULT_BACKEND, available_backends, open_screen
from tests.screen.tmux_reference import Capture, TmuxReference, tmux_available

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "terminal"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))

# Where pyte (the fallback) is known to differ from tmux, and why.
PYTE_KNOWN_DIFFERENCES: dict[str, str] = {
    "claude_first": "pyte prints the tail of a sequence it does not parse ('uu' on row 26)",
    "wide_chars": "pyte drops zero-width joiners and variation selectors (ZWJ emoji, VS16)",
}

pytestmark = pytest.mark.skipif(not tmux_available(), reason="tmux is not installed")


def load(name: str) -> tuple[bytes, dict]:
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    return (FIXTURES / f"{name}.bin").read_bytes(), meta


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    """tmux captures of every fixture, made once per test run."""
    tmux = TmuxReference(tmp_path_factory.mktemp("tmux"))
    cache: dict[str, Capture] = {}

    def capture(name: str) -> Capture:
        if name not in cache:
            _, meta = load(name)
            cache[name] = tmux.capture(FIXTURES / f"{name}.bin", meta["cols"], meta["rows"])
        return cache[name]

    yield capture
    tmux.close()


def emulate(backend: str, name: str, chunk: int = 4096) -> tuple[list[str], tuple[int, int], bool]:
    data, meta = load(name)
    screen = open_screen(meta["cols"], meta["rows"], backend)
    # Fed in chunks, as the supervisor reads them: sequences cut across feeds must work.
    for i in range(0, len(data), chunk):
        screen.feed(data[i : i + chunk])
    cursor = screen.cursor
    return screen.lines(), (cursor.x, cursor.y), screen.alt_screen


def diff(expected: list[str], actual: list[str]) -> str:
    return "\n".join(difflib.unified_diff(expected, actual, "tmux", "emulator", lineterm="", n=1))


def params():
    for backend in available_backends():
        for name in FIXTURE_NAMES:
            marks = []
            if backend == "pyte" and name in PYTE_KNOWN_DIFFERENCES:
                marks.append(pytest.mark.xfail(reason=PYTE_KNOWN_DIFFERENCES[name], strict=True))
            yield pytest.param(backend, name, id=f"{backend}-{name}", marks=marks)


def test_every_fixture_has_its_recording() -> None:
    assert FIXTURE_NAMES, "no fixtures recorded"
    for name in FIXTURE_NAMES:
        data, meta = load(name)
        assert data, name
        assert len(data) <= 200_000, f"{name} is over the 200 KB cap"
        assert {"cols", "rows", "source", "command", "date"} <= meta.keys(), name


def test_default_backend_loads() -> None:
    assert DEFAULT_BACKEND in available_backends()


@pytest.mark.parametrize(("backend", "name"), list(params()))
def test_screen_matches_tmux(reference, backend: str, name: str) -> None:
    expected = reference(name)
    lines, cursor, alt = emulate(backend, name)
    assert lines == expected.lines, f"{backend} differs from tmux on {name}:\n" + diff(
        expected.lines, lines
    )
    assert cursor == expected.cursor, f"cursor on {name}"
    assert alt == expected.alt_screen, f"alternate screen on {name}"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_chunking_does_not_change_the_screen(name: str) -> None:
    """One byte at a time (every sequence cut) ends on the same screen as one big feed."""
    whole = emulate(DEFAULT_BACKEND, name, chunk=1 << 30)
    data, _ = load(name)
    assert emulate(DEFAULT_BACKEND, name, chunk=7) == whole
    if len(data) < 20_000:
        assert emulate(DEFAULT_BACKEND, name, chunk=1) == whole
