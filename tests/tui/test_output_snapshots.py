"""Screenshots of the live output screen (120x36, seeded database, fixed timestamps)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.support.output_screen import append, open_output, output_app, seed, settle

SIZE = (120, 36)

SERVER = [
    ("system", b"started: npm run dev (pid 4242)"),
    ("stdout", b"\x1b[36m> app@1.4.0 dev\x1b[0m"),
    ("stdout", b"\x1b[36m> vite --port 5173\x1b[0m"),
    ("stdout", b""),
    ("stdout", b"  \x1b[32m\x1b[1mVITE\x1b[22m v5.2.11\x1b[39m  ready in \x1b[1m412\x1b[22m ms"),
    ("stdout", b"  \x1b[32m\xe2\x9e\x9c\x1b[39m  \x1b[1mLocal\x1b[22m:   http://localhost:5173/"),
]
SERVER += [
    ("stdout", f"12:{i // 60:02d}:{i % 60:02d} [vite] page reload src/views/Page{i}.vue".encode())
    for i in range(50)
]
SERVER += [("stderr", b"[vite] warning: chunk index.js is larger than 500 kB after minification")]
SERVER += [("stdout", f"GET /api/items?page={i} 200 {3 + i % 7} ms".encode()) for i in range(6)]

TRACEBACK = [
    ("system", b"started: pytest -x tests/ (pid 5150)"),
    ("stdout", b"============================= test session starts =============================="),
    ("stdout", b"collected 214 items"),
    ("stdout", b""),
    (
        "stdout",
        b"tests/test_api.py \x1b[32m.........................................\x1b[0m [ 19%]",
    ),
    ("stdout", b"tests/test_models.py \x1b[32m..................\x1b[0m\x1b[31mF\x1b[0m"),
    ("stdout", b""),
    ("stdout", b"=================================== FAILURES ==================================="),
    (
        "stdout",
        b"___________________________ test_price_rounds_half_up ___________________________",
    ),
    ("stderr", b"Traceback (most recent call last):"),
    ("stderr", b'  File "/src/app/tests/test_models.py", line 88, in test_price_rounds_half_up'),
    ("stderr", b"    assert price(2.675) == 2.68"),
    ("stderr", b"AssertionError: assert 2.67 == 2.68"),
    ("stderr", b" +  where 2.67 = price(2.675)"),
    ("stdout", b"=========================== short test summary info ============================"),
    ("stdout", b"FAILED tests/test_models.py::test_price_rounds_half_up - AssertionError"),
    (
        "stdout",
        b"\x1b[31m" + b"!" * 26 + b" stopping after 1 failures " + b"!" * 27 + b"\x1b[0m",
    ),
    (
        "stdout",
        b"\x1b[31m"
        + b"=" * 25
        + b" \x1b[1m1 failed\x1b[22m, 59 passed in 3.41s "
        + b"=" * 25
        + b"\x1b[0m",
    ),
    ("system", b"exited with code 1"),
]

COLOURS = [
    ("stdout", b"16 colours: " + b" ".join(b"\x1b[%dm%d\x1b[0m" % (c, c) for c in range(30, 38))),
    ("stdout", b"bright:     " + b" ".join(b"\x1b[%dm%d\x1b[0m" % (c, c) for c in range(90, 98))),
    ("stdout", b"background: " + b" ".join(b"\x1b[%dm %d \x1b[0m" % (c, c) for c in range(40, 48))),
    (
        "stdout",
        b"\x1b[1mbold\x1b[0m \x1b[3mitalic\x1b[0m \x1b[4munderline\x1b[0m \x1b[2mdim\x1b[0m "
        b"\x1b[7mreverse\x1b[0m \x1b[9mstrike\x1b[0m",
    ),
    ("stdout", b"256: " + b"".join(b"\x1b[48;5;%dm \x1b[0m" % c for c in range(16, 88))),
    (
        "stdout",
        b"truecolour: "
        + b"".join(b"\x1b[38;2;%d;%d;200m\xe2\x96\x88" % (i * 8, 255 - i * 8) for i in range(32))
        + b"\x1b[0m",
    ),
    ("stdout", b"cursor games: \x1b[2J\x1b[H\x1b[10;10Hmoved?\x1b[1A\x1b[K not moved"),
    ("stdout", b"title and clipboard: \x1b]0;pwned\x07\x1b]52;c;c2VjcmV0\x07gone"),
    ("stdout", b"progress: 10%\rprogress: 55%\rprogress: 100% \x1b[32mdone\x1b[0m"),
    ("stdout", b"tabs:\tone\ttwo\tthree"),
    ("stdout", b"invalid utf-8: \xff\xfe ok"),
    ("stderr", b"\x1b[31merror:\x1b[0m colour on stderr keeps its own colours"),
]

FINDING = [("stdout", f"step {i}: fetching shard {i}".encode()) for i in range(40)]
FINDING[12] = ("stderr", b"error: shard 12 timed out, retrying (error budget 3)")
FINDING[25] = ("stdout", b"recovered from error on shard 12")
FINDING[31] = ("stderr", b"ERROR shard 31: checksum mismatch")


def lines(records: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(stream, data + b"\n") for stream, data in records]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def opened(session_id: int, *keys: str, **screen: object):  # type: ignore[no-untyped-def]
    """Open the session's output in the app, press ``keys``, let it settle."""

    async def run_before(pilot: Pilot) -> None:
        await open_output(pilot, session_id, **screen)  # type: ignore[arg-type]
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


def test_following(snap_compare, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = asyncio.run(seed(db, lines(SERVER), name="dev server", status="running"))
    assert snap_compare(output_app(db), terminal_size=SIZE, run_before=opened(sid))


def test_scrolled_up_with_new_lines(snap_compare, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = asyncio.run(seed(db, lines(SERVER), name="dev server", status="running"))

    async def run_before(pilot: Pilot) -> None:
        await open_output(pilot, sid)
        await pilot.press("home", "down", "down")
        await settle(pilot)
        more = b"".join(b"GET /api/health 200 1 ms\n" for _ in range(12))
        await append(db, sid, "stdout", more)
        await settle(pilot, lambda v: v.pending_lines == 12)

    assert snap_compare(output_app(db), terminal_size=SIZE, run_before=run_before)


def test_stderr_with_timestamps_and_line_numbers(snap_compare, tmp_path: Path, utc: None) -> None:
    db = tmp_path / "t.db"
    sid = asyncio.run(
        seed(
            db, lines(TRACEBACK), name="tests", argv=("pytest", "-x"), status="failed", exit_code=1
        )
    )
    assert snap_compare(output_app(db), terminal_size=SIZE, run_before=opened(sid, "T", "L"))


def test_ansi_colours(snap_compare, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = asyncio.run(seed(db, lines(COLOURS), name="colours"))
    assert snap_compare(output_app(db), terminal_size=SIZE, run_before=opened(sid))


def test_find_highlights(snap_compare, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    sid = asyncio.run(seed(db, lines(FINDING), name="fetch", status="failed", exit_code=2))

    async def run_before(pilot: Pilot) -> None:
        await open_output(pilot, sid)
        await pilot.press("slash", *"error", "enter")
        await settle(pilot, lambda v: v.find_status not in ("", "searching…"))
        await pilot.press("n")
        await settle(pilot, lambda v: v.current_match == 25)

    assert snap_compare(output_app(db), terminal_size=SIZE, run_before=run_before)


def test_opened_at_a_search_hit(snap_compare, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    records = [("stdout", f"request {i} ok".encode()) for i in range(400)]
    records[250] = ("stderr", b"request 250 failed: upstream timeout after 30s")
    sid = asyncio.run(seed(db, lines(records), name="api", status="stopped", exit_code=None))
    run_before = opened(sid, line=250, highlight="timeout")
    assert snap_compare(output_app(db), terminal_size=SIZE, run_before=run_before)
