"""A running session's attention (working, idle, needs_you), watched by its supervisor.

Every ``INTERVAL`` seconds the supervisor's ``AttentionWatcher`` judges the session
(``agents.attention.judge``) from what it holds already: the emulated screen of a pty
session (re-read only when output arrived since the last look), how long the output
has been quiet, and, once it is quiet, two facts about the foreground process read
from /proc: is it blocked reading its terminal (``/proc/PID/syscall``), and did it use
CPU since the last look (``/proc/PID/stat``). No subprocess, no database read per look:
a session whose state does not change costs a timer and a few small file reads, and
the database is written only when the state changes.

An agent that reports its own state (its hooks, runner/hooks.py) is heard first: the
watcher stats its signal file on each look and prefers what it says while it is fresh
(``agents.attention.with_hook``).

The agent kind of the session (agents/kinds.py, config.toml's ``[agents]`` applied) is
read once, when the watcher starts.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents.attention import QUIET_AFTER, Signals, judge, with_hook
from agents.kinds import AgentKind, kinds_from_config
from storage.errors import StoreBusy

from . import log
from .errors import ControlError, short_reason
from .hooks import HookSignal, signal_file

Screen = tuple[Sequence[str], int | None]  # the rows, and the cursor's row

INTERVAL = 0.5  # seconds between looks: a change shows within about a second
SETTLE = 0.3  # quiet this long before the process facts are read (mid-burst they vary)

# The number of read(2) in /proc/PID/syscall, per architecture.
_READ = {"x86_64": 0, "aarch64": 63, "riscv64": 63, "i686": 3, "armv7l": 3}.get(platform.machine())


def foreground(fd: int | None, fallback: int) -> int:
    """The foreground process group of the terminal ``fd`` (its leader's pid), else
    ``fallback`` (the command: pipes, or the terminal is gone)."""
    if fd is not None:
        try:
            return os.tcgetpgrp(fd)
        except OSError:
            pass
    return fallback


def reading_terminal(pid: int) -> bool | None:
    """Is ``pid`` blocked in read(2) on a terminal? None when that cannot be told (no
    /proc, another architecture, or the process is gone)."""
    if _READ is None:
        return None
    try:
        words = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return None
    if not words or words[0] == "running":
        return False
    if not words[0].isdigit() or int(words[0]) != _READ or len(words) < 2:
        return False
    try:
        target = os.readlink(f"/proc/{pid}/fd/{int(words[1], 16)}")
    except (OSError, ValueError):
        return None
    return target.startswith(("/dev/pts/", "/dev/tty", "/dev/console"))


def cpu_ticks(pid: int, limit: int = 64) -> int | None:
    """CPU time (clock ticks) of ``pid``, of the children it has waited for, and of its
    live descendants (at most ``limit`` processes): a compiler that ``make`` started
    counts while it runs, not only once it exits."""
    total, todo, seen = None, [pid], 0
    while todo and seen < limit:
        one = todo.pop()
        seen += 1
        try:
            stat = Path(f"/proc/{one}/stat").read_text()
            children = Path(f"/proc/{one}/task/{one}/children").read_text().split()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        try:  # utime stime cutime cstime: fields 14-17 of stat, 11-14 after pid and comm
            total = (total or 0) + sum(int(f) for f in fields[11:15])
        except (ValueError, IndexError):
            continue
        todo += [int(c) for c in children if c.isdigit()]
    return total


def load_settings(name: str | None) -> tuple[AgentKind | None, float]:
    """The agent kind ``name`` with config.toml's ``[agents]`` applied, and
    ``[attention] quiet_after`` (the built-in ones when the file cannot be read: the
    supervisor must not stop for it)."""
    try:
        from home.config import load_config
        from home.paths import resolve_paths

        config = load_config(resolve_paths().config_file)
        kinds = kinds_from_config(config.section("agents"))
        quiet_after = float(config.section("attention").get("quiet_after", QUIET_AFTER))
    except Exception:  # noqa: BLE001 - a broken config.toml: the built-in kinds
        kinds, quiet_after = kinds_from_config(None), QUIET_AFTER
    return (kinds.get(name) if name else None), quiet_after


async def watch(supervisor: Any) -> None:
    """The supervisor's attention task (runner/supervisor.py starts it once the command
    runs and cancels it when the command has exited)."""
    store, sid, child = supervisor.store, supervisor.sid, supervisor.child
    try:
        session = await store.sessions.require(sid)
        name = supervisor.spec.agent_kind or session.agent_kind
        kind, quiet_after = await asyncio.to_thread(load_settings, name)
    except Exception as e:  # noqa: BLE001 - no attention, but the run goes on
        log.write_entry(supervisor.log_path, f"no attention: {e!r}", session_id=sid, level="WARN")
        return
    session_kind = supervisor.kind
    reported = HookSignal(signal_file(supervisor.spec.socket))

    def lines() -> Screen | None:
        if not session_kind.resizable:
            return None  # pipes: no screen
        try:  # the kind's screen API (runner/kinds.py): read under the emulator's lock
            state = session_kind.screen_state()
        except ControlError:
            return None  # no emulator: judged by the process alone
        return state["lines"], state["cursor"]["y"]

    def failed(e: Exception) -> None:
        # The watcher keeps its old state on a failure, so its next look records it again.
        what = (
            f"could not record attention yet ({short_reason(e)}); retrying"
            if isinstance(e, StoreBusy)
            else f"attention not recorded: {e!r}"
        )
        log.write_entry(supervisor.log_path, what, session_id=sid, level="WARN")

    watcher = AttentionWatcher(
        lines=lines,
        last_output=lambda: supervisor.capture.last_output,
        input_fd=child.input_fd if session_kind.resizable else None,
        pid=child.pid,
        kind=kind,
        record=lambda state, since: store.sessions.set_attention(sid, state, since),
        quiet_after=quiet_after,
        failed=failed,
        paused=lambda: supervisor.paused,
        hook=reported.read if kind is not None and kind.hooks else None,
        last_input=lambda: supervisor.last_input,
    )
    try:
        await watcher.run()
    finally:
        reported.clear()


class AttentionWatcher:
    """Judges one session's attention and records it when it changes.

    ``lines`` gives the screen's rows and the cursor's row (None: no screen, a pipe
    session), ``last_output``
    the monotonic time of the latest output, ``input_fd``/``pid`` the terminal and the
    command, ``record(state, since)`` writes it (``store.sessions.set_attention``)."""

    def __init__(
        self,
        *,
        lines: Callable[[], Screen | None],
        last_output: Callable[[], float],
        input_fd: int | None,
        pid: int,
        kind: AgentKind | None,
        record: Callable[[str, float], Any],
        quiet_after: float = QUIET_AFTER,
        failed: Callable[[Exception], None] | None = None,
        paused: Callable[[], bool] = lambda: False,
        hook: Callable[[], tuple[str, float] | None] | None = None,
        last_input: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._lines = lines
        self._last_output = last_output
        self._fd = input_fd
        self._pid = pid
        self.kind = kind
        self._record = record
        self._failed = failed
        self._paused = paused
        self._hook = hook
        self._last_input = last_input
        self.quiet_after = quiet_after
        self.state: str | None = None
        self._seen: float | None = None  # last_output when the screen was last read
        self._screen: Screen = ((), None)
        self._ticks: tuple[int, int | None] | None = None  # (pid, CPU ticks) at the last look
        self._memo: tuple[Any, str] | None = None

    def look(self, now: float | None = None) -> str:
        """The state now (no recording): the screen's, or the agent's own report."""
        now = time.monotonic() if now is None else now
        state = self._judge(now)
        if self._hook is None:
            return state
        wall = time.time()  # the hook's clock
        output_at = wall - (now - self._last_output())
        return with_hook(
            state, self._hook(), last_input=self._last_input(), last_output=output_at, now=wall
        )

    def _judge(self, now: float) -> str:
        """What the screen and the process say."""
        last = self._last_output()
        if last != self._seen:
            self._seen = last
            self._screen = self._lines() or ((), None)
            self._memo = None
        quiet = now - last
        reading = busy = None
        if quiet >= SETTLE:
            pid = foreground(self._fd, self._pid)
            reading = reading_terminal(pid)
            ticks = cpu_ticks(pid)
            before = self._ticks
            self._ticks = (pid, ticks)
            if (
                before is not None
                and before[0] == pid
                and ticks is not None
                and before[1] is not None
            ):
                busy = ticks > before[1]
        key = (last, quiet >= self.quiet_after, quiet >= SETTLE, reading, busy)
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1]
        rows, cursor = self._screen
        signals = Signals(quiet, reading, busy)
        state = judge(rows, signals, self.kind, quiet_after=self.quiet_after, cursor_row=cursor)
        self._memo = (key, state)
        return state

    async def run(self, interval: float = INTERVAL) -> None:
        """Look every ``interval`` seconds until cancelled; record each change."""
        while True:
            if self._paused():
                self.state = None  # paused clears it: record it again once running
            else:
                state = self.look()
                if state != self.state:
                    try:
                        if await self._record(state, time.time()) is not False:
                            self.state = state
                    except Exception as e:  # noqa: BLE001 - attention must never stop the run
                        if self._failed is not None:
                            self._failed(e)
            await asyncio.sleep(interval)
