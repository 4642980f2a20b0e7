"""Seeded databases and app factories for the TUI tests (list, detail, modals).

Everything on screen is pinned: sessions are created through the storage API with
fixed timestamps and uids, the app's clock is fixed, local time is UTC, the home
directory is ``/home/ana``, input cursors do not blink, and background polling and
reconcile are off unless a test turns them on.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from home.config import Config, General
from home.paths import Paths, resolve_paths
from storage import Store, open_store
from tui.app import TetherApp

NOW = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC
HOME = "/home/ana"


def pin_environment() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    os.environ["HOME"] = HOME


def paths_for(tmp_path: Path) -> Paths:
    return resolve_paths(env={"TETHER_HOME": str(tmp_path / "home")})


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(
    paths: Paths,
    *,
    clock: Callable[[], float] | None = None,
    background: bool = False,
    keys: dict[str, str] | None = None,
    autosave: float = 2.0,
    reconcile: float = 2.0,
    cwd: str = f"{HOME}/src/app",
) -> TetherApp:
    config = Config(
        general=General(autosave_interval=autosave, reconcile_interval=reconcile),
        sections={"keys": keys} if keys else {},
    )
    return TetherApp(
        paths, config, clock=clock or Clock(), background=background, cursor_blink=False, cwd=cwd
    )


def _uid(n: int) -> str:
    return f"0190f000-0000-7000-8000-{n:012x}"


async def _session(
    store: Store,
    n: int,
    argv: list[str],
    *,
    name: str = "",
    cwd: str = f"{HOME}/src/app",
    tags: tuple[str, ...] = (),
    created: float,
    mode: str = "pipe",
    context: object = None,
    origin: str = "local",
) -> int:
    s = await store.sessions.create(
        argv,
        cwd,
        name=name,
        tags=tags,
        created_at=created,
        uid=_uid(n),
        mode=mode,
        context=context,
        origin=origin,
    )
    return s.id


async def _out(store: Store, sid: int, at: float, *lines: tuple[str, str]) -> float:
    for stream, text in lines:
        at += 0.5
        await store.output.append(sid, stream, text.encode() + b"\n", at)
    return at


async def seed_every_status(db: Path) -> dict[str, int]:
    """One session of each status (and a pty one with colours, an imported one and a
    trashed one). Returns ids by a short name."""
    ids: dict[str, int] = {}
    async with open_store(db) as store:
        t = NOW - 3 * 86400
        # succeeded build
        sid = ids["build"] = await _session(
            store, 1, ["make", "-j8", "build"], name="build", tags=("ci",), created=t
        )
        await store.runs.start(sid, at=t)
        end = await _out(
            store,
            sid,
            t,
            ("stdout", "cc -O2 -c src/main.c -o build/main.o"),
            ("stdout", "cc -O2 -c src/net.c -o build/net.o"),
            ("stdout", "ld -o build/app build/main.o build/net.o"),
            ("stdout", "build finished: 3 objects, 0 warnings"),
        )
        await store.runs.finish(sid, exit_code=0, at=end + 81)
        # failed tests
        t = NOW - 2 * 86400
        sid = ids["tests"] = await _session(
            store,
            2,
            ["pytest", "-x", "tests/"],
            name="unit tests",
            tags=("ci", "test"),
            created=t,
        )
        await store.runs.start(sid, at=t)
        end = await _out(
            store,
            sid,
            t,
            ("stdout", "============ test session starts ============"),
            ("stdout", "collected 128 items"),
            ("stdout", "tests/test_api.py ........F"),
            ("stderr", "E   AssertionError: expected 200, got 503"),
            ("stdout", "======= 1 failed, 8 passed in 4.21s ======="),
        )
        await store.runs.finish(sid, exit_code=1, at=end + 3)
        # stopped log follower
        t = NOW - 86400
        sid = ids["stopped"] = await _session(
            store, 3, ["tail", "-f", "/var/log/app.log"], cwd="/var/log", created=t
        )
        await store.runs.start(sid, at=t)
        end = await _out(store, sid, t, ("stdout", "GET /health 200"), ("stdout", "GET / 200"))
        await store.runs.finish(
            sid, signal=15, status="stopped", reason="stopped by the user", at=end + 600
        )
        # lost agent
        t = NOW - 5 * 3600
        sid = ids["lost"] = await _session(
            store,
            4,
            ["claude", "--model", "opus"],
            name="agent: refactor auth",
            tags=("agent",),
            created=t,
            mode="pty",
            context={"model": "opus", "thread": "th_42", "tokens": {"in": 48210, "out": 9120}},
        )
        await store.runs.start(sid, at=t)
        end = await _out(store, sid, t, ("stdout", "Reading src/auth.py…"))
        await store.runs.finish(
            sid, status="lost", reason="lost: the supervisor is gone (machine restarted?)", at=end
        )
        # paused training
        t = NOW - 2 * 3600
        sid = ids["paused"] = await _session(
            store,
            5,
            ["python", "train.py", "--epochs", "50"],
            name="training",
            tags=("ml", "gpu"),
            cwd=f"{HOME}/ml",
            created=t,
        )
        await store.runs.start(sid, at=t)
        epochs = [("stdout", f"epoch {i}/50 loss={1 / i:.4f}") for i in range(1, 13)]
        await _out(store, sid, t, *epochs)
        await store.sessions.set_status(sid, "paused", at=t + 3000)
        # pty session with colours
        t = NOW - 3600
        sid = ids["pty"] = await _session(
            store, 6, ["ls", "--color=always"], name="colours", mode="pty", created=t
        )
        await store.runs.start(sid, at=t)
        end = await _out(
            store,
            sid,
            t,
            ("stdout", "\x1b[1;34msrc\x1b[0m  \x1b[1;32mrun.sh\x1b[0m  README.md"),
            ("stdout", "\x1b[31mred\x1b[0m \x1b[33myellow\x1b[0m \x1b[36mcyan\x1b[0m"),
        )
        await store.runs.finish(sid, exit_code=0, at=end)
        # running dev server, pinned
        t = NOW - 1800
        sid = ids["running"] = await _session(
            store,
            7,
            ["python", "-m", "http.server", "8000"],
            name="dev server",
            tags=("web",),
            created=t,
        )
        await store.runs.start(sid, at=t, pid=4242)
        await _out(
            store,
            sid,
            t,
            ("stderr", "Serving HTTP on 0.0.0.0 port 8000 (http://0.0.0.0:8000/) ..."),
            *[("stderr", f'127.0.0.1 - - "GET /page/{i} HTTP/1.1" 200 -') for i in range(30)],
        )
        await store.sessions.update(sid, pinned=True)
        # imported, ended
        t = NOW - 600
        sid = ids["imported"] = await _session(
            store,
            8,
            ["cargo", "test"],
            name="from laptop",
            cwd=f"{HOME}/src/rust",
            created=t,
            origin="imported",
        )
        await store.runs.start(sid, at=t)
        end = await _out(store, sid, t, ("stdout", "test result: ok. 42 passed"))
        await store.runs.finish(sid, exit_code=0, at=end + 12)
        # pending
        ids["pending"] = await _session(store, 9, ["sleep", "60"], created=NOW - 5)
        # trashed: never listed
        ids["trashed"] = await _session(store, 10, ["echo", "gone"], created=NOW - 4)
        await store.sessions.trash([ids["trashed"]])
    return ids


async def seed_many(db: Path, n: int) -> None:
    """``n`` ended sessions, fast (one transaction per 500)."""
    async with open_store(db) as store:
        for i in range(n):
            s = await store.sessions.create(
                ["echo", str(i)], f"{HOME}/bulk", name=f"job {i}", created_at=NOW - n + i
            )
            await store.runs.start(s.id, at=NOW - n + i)
            await store.runs.finish(s.id, exit_code=0, at=NOW - n + i + 0.5)


def seed(db: Path, fn=seed_every_status):  # type: ignore[no-untyped-def]
    """Run an async seeding function from a sync test (snapshot tests are sync). The
    audit log's times are pinned too: a session's entries a second apart from its
    creation, the others at ``NOW``."""
    ids = asyncio.run(fn(db))
    con = sqlite3.connect(db)
    try:
        with con:
            con.execute(
                "UPDATE audit_log SET at = coalesce((SELECT s.created_at + audit_log.id - "
                "(SELECT min(a.id) FROM audit_log a WHERE a.session_id = s.id) "
                "FROM sessions s WHERE s.id = audit_log.session_id), ?)",
                (NOW,),
            )
    finally:
        con.close()
    return ids


async def read_session(db: Path, session_id: int):  # type: ignore[no-untyped-def]
    """The session as another process sees it (a separate connection)."""
    async with open_store(db) as store:
        return await store.sessions.get(session_id)


async def read_setting(db: Path, key: str):  # type: ignore[no-untyped-def]
    async with open_store(db) as store:
        return await store.settings.get(key)


async def press_to_open(pilot: Any, key: str, screen_type: type, timeout: float = 120.0) -> Any:
    """Press a key that pushes a screen, and wait until that screen is on top and idle
    (right after the press the push may not have happened yet: waiting for "idle" then
    would look at the screen below)."""
    await pilot.press(key)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not isinstance(pilot.app.screen, screen_type):
        if loop.time() > deadline:
            raise TimeoutError(f"{key} did not open {screen_type.__name__}")
        await pilot.pause(0.01)
    await pilot.app.wait_idle()
    return pilot.app.screen
