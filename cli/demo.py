"""``tether demo``: a separate demo home full of real sessions, then the TUI on it.

Every session is a real command run by a real supervisor: a build that succeeds, a
test run that fails, a chatty server, a paused training loop, a stopped log
follower, an agent whose supervisor is killed with SIGKILL (so it turns ``lost``),
and a pty session with colours. Nothing touches the user's own database: the demo
lives in its own ``TETHER_HOME`` (a temporary directory unless ``--home`` is given).

Commands are small Python programs (standard library only) written into
``<home>/project``, so the demo works wherever tether does. Live sessions end by
themselves within minutes; when the TUI closes, the demo stops them and removes a
temporary home.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.models import LIVE

from .context import Ctx

if TYPE_CHECKING:
    from home.paths import Paths
    from storage import Store


def _python() -> str:
    """``python3`` when there is one on PATH (reads better in the list; the scripts
    need only the standard library), else this interpreter."""
    return "python3" if shutil.which("python3") else sys.executable


BUILD = """
import time
for f in ["main", "net", "db", "ui", "cli"]:
    print(f"cc -O2 -Wall -c src/{f}.c -o build/{f}.o", flush=True)
    time.sleep(0.05)
print("ld -o build/app build/*.o -lpthread", flush=True)
print("build finished: 5 objects, 0 warnings", flush=True)
"""

TESTS = """
import sys, time
print("============ test session starts ============", flush=True)
print("collected 12 items", flush=True)
for name in ["test_login", "test_logout", "test_refresh", "test_expiry"]:
    print(f"tests/test_auth.py::{name} PASSED", flush=True)
    time.sleep(0.02)
print("tests/test_api.py::test_health FAILED", flush=True)
print("Traceback (most recent call last):", file=sys.stderr, flush=True)
print('  File "tests/test_api.py", line 31, in test_health', file=sys.stderr, flush=True)
print("    assert response.status == 200", file=sys.stderr, flush=True)
print("AssertionError: expected 200, got 503", file=sys.stderr, flush=True)
print("======= 1 failed, 4 passed in 0.31s =======", flush=True)
sys.exit(1)
"""

SERVER = """
import random, sys, time
random.seed(7)
print("Serving on http://127.0.0.1:8000 (press CTRL+C to quit)", file=sys.stderr, flush=True)
paths = ["/", "/api/users", "/api/orders", "/static/app.js", "/health", "/login"]
for i in range(3000):
    code = random.choice([200] * 12 + [304, 404, 500])
    ms = random.randint(1, 240)
    line = f'127.0.0.1 - "GET {random.choice(paths)} HTTP/1.1" {code} {ms}ms'
    print(line, file=sys.stderr if code >= 500 else sys.stdout, flush=True)
    time.sleep(0.2)
"""

TRAINING = """
import math, time
for epoch in range(1, 400):
    loss = 2.3 * math.exp(-epoch / 40) + 0.05
    print(f"epoch {epoch:3d}/400  loss={loss:.4f}  lr=3e-4", flush=True)
    time.sleep(0.5)
"""

FOLLOW = """
import time
for i in range(100000):
    print(f"2026-05-28T10:00:{i % 60:02d} INFO worker-{i % 4} processed job {i}", flush=True)
    time.sleep(0.1)
"""

AGENT = """
import time
steps = ["Reading src/auth/session.py", "Reading src/auth/tokens.py",
         "Planning: move token refresh into SessionStore",
         "Editing src/auth/session.py (+42 -17)", "Running tests: pytest tests/auth"]
for step in steps * 200:
    print(step, flush=True)
    time.sleep(0.4)
"""

COLOURS = r"""
import time
R, G, Y, B, M, C, BOLD, END = (f"\x1b[{n}m" for n in (31, 32, 33, 34, 35, 36, 1, 0))
print(f"{BOLD}colour check{END}: {R}red{END} {G}green{END} {Y}yellow{END} {B}blue{END} "
      f"{M}magenta{END} {C}cyan{END}", flush=True)
for i in range(0, 101, 20):
    bar = "#" * (i // 5) + "." * (20 - i // 5)
    print(f"\rdownloading [{G}{bar}{END}] {i:3d}%", end="", flush=True)
    time.sleep(0.05)
print()
print(f"{G}{BOLD}✓{END} 3 packages installed, {Y}1 warning{END}", flush=True)
for n in range(16):
    print("".join(f"\x1b[48;5;{n * 16 + k}m  " for k in range(16)) + END, flush=True)
"""


@dataclass
class DemoSession:
    key: str
    script: str  # file name in <home>/project
    code: str
    name: str
    tags: tuple[str, ...] = ()
    mode: str = "pipe"
    notes: str = ""
    context: Any = None
    pinned: bool = False
    after: str = "end"  # end | stop | pause | lose | run
    delay: float = 0.0  # seconds of output before the "after" action


DEMO = [
    DemoSession("build", "build.py", BUILD, "build", ("ci",), notes="Release build for v1.4."),
    DemoSession("tests", "run_tests.py", TESTS, "unit tests", ("ci", "test")),
    DemoSession(
        "agent",
        "agent.py",
        AGENT,
        "agent: refactor auth",
        ("agent",),
        mode="pty",
        context={"model": "opus", "thread": "th_8f2c", "tokens": {"in": 48210, "out": 9120}},
        after="lose",
        delay=2.5,
    ),
    DemoSession("follow", "worker.py", FOLLOW, "worker log", ("ops",), after="stop", delay=1.5),
    DemoSession(
        "training", "train.py", TRAINING, "training", ("ml", "gpu"), after="pause", delay=2.0
    ),
    DemoSession("colours", "colours.py", COLOURS, "colours", ("pty",), mode="pty"),
    DemoSession(
        "server", "server.py", SERVER, "dev server", ("web",), pinned=True, after="run", delay=1.0
    ),
]


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help_text = "open the TUI on a separate demo home filled with real sessions"
    p = sub.add_parser("demo", parents=[common], help=help_text, description=help_text)
    p.add_argument(
        "--home", metavar="DIR", help="build the demo here and keep it (default: a temp dir)"
    )
    p.add_argument(
        "--no-tui", action="store_true", help="only create the demo data and print its home"
    )
    p.set_defaults(func=cmd_demo, _parser=p)


def cmd_demo(ctx: Ctx) -> int:
    from home.config import load_config
    from home.paths import resolve_paths

    keep = ctx.args.home is not None
    home = Path(ctx.args.home or tempfile.mkdtemp(prefix="tether-demo-")).absolute()
    paths = resolve_paths(env={"TETHER_HOME": str(home)})
    if paths.db.exists():
        print(f"tether: {paths.db} already exists; give --home an empty directory", file=sys.stderr)
        return 1
    paths.ensure()
    print(f"Building the demo in {home} …", file=sys.stderr)
    handed_over = False  # --no-tui: the live sessions are left running for the caller
    try:
        ids = asyncio.run(build_demo(paths))
        print(f"{len(ids)} demo sessions in TETHER_HOME={home}", file=sys.stderr)
        if ctx.args.no_tui:
            print(home)
            handed_over = True
            return 0
        from tui import faster_frames

        faster_frames()
        from tui.app import run_app

        return run_app(paths, load_config(paths.config_file))
    finally:
        if not handed_over:  # after the TUI, or interrupted while building
            asyncio.run(stop_live(paths))
            if not keep:
                shutil.rmtree(home, ignore_errors=True)


async def build_demo(paths: Paths, sessions: list[DemoSession] | None = None) -> dict[str, int]:
    """Run the demo sessions for real; returns their ids by key."""
    from runner import control
    from storage import open_store

    sessions = DEMO if sessions is None else sessions
    from storage.engine.store import make_private_dir
    from storage.files import atomic_write

    project = paths.data_dir / "project"
    make_private_dir(project)
    if project.is_symlink() or project.stat().st_uid != os.geteuid():
        raise PermissionError(
            errno.EPERM, "not created by you; give --home a new directory", str(project)
        )
    for d in sessions:
        # --home may be a shared directory: never write through a planted file or link.
        with atomic_write(project / d.script) as f:
            f.write(d.code.lstrip().encode())
    python = _python()
    ids: dict[str, int] = {}
    async with open_store(paths.db, backup_dir=paths.backups, actor="demo") as store:
        for d in sessions:
            s = await control.start_session(
                store,
                paths,
                argv=[python, d.script],
                cwd=str(project),
                name=d.name,
                tags=d.tags,
                mode=d.mode,
                context=d.context,
                size=(100, 30),
            )
            ids[d.key] = s.id
            fields: dict[str, Any] = {}
            if d.notes:
                fields["notes"] = d.notes
            if d.pinned:
                fields["pinned"] = True
            if fields:
                await store.sessions.update(s.id, **fields)
        await asyncio.gather(*(_settle(store, paths, d, ids[d.key]) for d in sessions))
    return ids


async def _settle(store: Store, paths: Paths, d: DemoSession, sid: int) -> None:
    from runner import control

    if d.after == "end":
        await _wait_for(store, sid, lambda s: s.ended, 30)
        return
    await asyncio.sleep(d.delay)
    if d.after == "stop":
        await control.stop(store, paths, sid, grace=2.0)
    elif d.after == "pause":
        await control.pause(store, paths, sid)
    elif d.after == "lose":
        _kill_supervisor(paths, sid, (await store.sessions.require(sid)).pid)
        await _wait_for_lost(store, paths, sid)


def _kill_supervisor(paths: Paths, sid: int, command_pid: int | None) -> None:
    """What a crash looks like: SIGKILL to the supervisor; its command goes too (so
    the demo leaves nothing behind)."""
    from runner.locations import supervisor_pid

    pid = supervisor_pid(paths, sid)
    if pid:
        os.kill(pid, signal.SIGKILL)
    if command_pid:
        try:
            os.killpg(command_pid, signal.SIGKILL)
        except OSError:
            pass


async def _wait_for_lost(store: Store, paths: Paths, sid: int) -> None:
    from runner import control

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await control.reconcile(store, paths)
        s = await store.sessions.require(sid)
        if s.status == "lost":
            return
        await asyncio.sleep(0.1)


async def _wait_for(store: Store, sid: int, done: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done(await store.sessions.require(sid)):
            return
        await asyncio.sleep(0.1)


async def stop_live(paths: Paths) -> None:
    """Stop what the demo left running (a paused session is continued to stop)."""
    from runner import control
    from storage import open_store

    if not paths.db.exists():
        return
    async with open_store(paths.db, actor="demo") as store:
        live = await store.sessions.list(status=LIVE, include_deleted=True)
        await asyncio.gather(
            *(control.stop(store, paths, s.id, grace=1.0) for s in live),
            return_exceptions=True,
        )
