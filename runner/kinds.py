"""Session kinds: everything that differs between a pipe session and a terminal one.

A session's ``mode`` names its kind. The supervisor picks the kind once
(``kind_for(spec)``) and from then on asks it, never the mode string: how the command
is started (pipes, or a pty with a window size and ``TERM``), which fds are read and
as which stream (in ``Child.outputs``), what ends an input line, whether resizing
applies, how stopping begins, how the input is closed, and what ``status`` reports.
Clients that only know the stored mode ask ``kind_named(mode)`` (a class: nothing is
started).

A new kind plugs in here: subclass ``SessionKind`` (or ``PipeKind``/``PtyKind``),
override what differs, and register it in ``KINDS`` under its mode name. A kind is
one object per supervisor, so it may keep state: ``on_output`` sees every piece of
output as it is recorded (after capture-time redaction), which is where a pty kind
feeds its screen emulator, or an agent kind watches for its session id.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .child import (
    DEFAULT_TERM,
    Child,
    check_cwd,
    command_env,
    set_window_size,
    spawn_pipes,
    spawn_pty,
)
from .errors import ControlError
from .spec import LaunchSpec

if TYPE_CHECKING:
    from collections.abc import Callable

    from .screen.keeper import ScreenKeeper, ScreenSaver


__all__ = ["KINDS", "PipeKind", "PtyKind", "SessionKind", "kind_for", "kind_named"]


class SessionKind:
    """What one kind of session does differently. Class attributes describe it; the
    methods act for one supervisor's command."""

    name: ClassVar[str]
    input_eol: ClassVar[bytes]  # what ends an input line (pressing Enter)
    records_input: ClassVar[bool]  # input sent is recorded (as stream ``input``)
    resizable: ClassVar[bool]  # ``resize`` means something
    stop_signals: ClassVar[tuple[int, ...]]  # what starts a stop (SIGKILL comes later)

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec

    def env(self) -> dict[str, str]:
        """Variables set before the session's own overrides."""
        return {}

    def spawn(self) -> Child:
        """Start the command. Raises ``StartError`` saying exactly why it cannot."""
        check_cwd(self.spec.cwd)
        return self._start(command_env(self.spec, self.env()))

    def _start(self, env: dict[str, str]) -> Child:
        raise NotImplementedError

    def on_output(self, stream: str, data: bytes) -> None:
        """Output was captured (called once per read, so keep it cheap). Nothing by
        default."""

    async def recording(self, store: Any, run: int) -> None:
        """Run ``run`` is recorded in ``store`` and its output is about to be captured
        (a pty session starts storing its screen's snapshots and transcript)."""

    async def end_recording(self) -> None:
        """The command has exited and its output is stored: store what is left."""

    async def tidy_rest(self, stop: Callable[[], bool]) -> None:
        """After the run, its end recorded: merge what recording it left unmerged (a pty
        session's transcript index), until done or ``stop()``."""

    def resize(self, child: Child, cols: int, rows: int) -> bool:
        """Set the command's window size; False where that means nothing."""
        return False

    def size_line(self, cols: int, rows: int, *, resized: bool = False) -> bytes | None:
        """A system line recording the terminal's size (None: no terminal)."""
        return None

    def screen_state(self, *, styled: bool = False, vt: bool = False) -> dict[str, Any]:
        """The emulated screen (``runner.screen.state.screen_state``); ``ControlError``
        where there is none."""
        raise ControlError(f"a {self.name} session has no terminal, so no screen")

    def close_input(self, fd: int) -> None:
        """The command gets no more input: close what it reads from."""
        os.close(fd)

    def status(self) -> dict[str, Any]:
        """What this kind adds to the supervisor's status reply."""
        return {"mode": self.name}


class PipeKind(SessionKind):
    """stdin, stdout and stderr on pipes: the two output streams are kept apart."""

    name = "pipe"
    input_eol = b"\n"
    records_input = True  # nothing echoes it: record it ourselves
    resizable = False
    stop_signals = (signal.SIGTERM,)

    def _start(self, env: dict[str, str]) -> Child:
        return spawn_pipes(self.spec, env)


class PtyKind(SessionKind):
    """A terminal: colours and interactive programs; one output stream."""

    name = "pty"
    input_eol = b"\r"  # what the Enter key sends
    records_input = False  # the terminal echoes input by itself
    resizable = True
    stop_signals = (signal.SIGHUP, signal.SIGTERM)  # SIGHUP: what closing a terminal does

    def __init__(self, spec: LaunchSpec) -> None:
        super().__init__(spec)
        self.size = (spec.cols, spec.rows)
        self.keeper: ScreenKeeper | None = None  # the emulated screen (runner/screen/keeper.py)
        self.saver: ScreenSaver | None = None  # stores what the keeper derives
        # TETHER_SCREEN=off (for benchmarks: capture with and without the emulator)
        # keeps no screen: the output is recorded all the same.
        self.screen_on = os.environ.get("TETHER_SCREEN", "on") != "off"

    @property
    def screen_error(self) -> str | None:
        """Why there is no screen (the emulator failed), or None."""
        return self.keeper.error if self.keeper is not None else None

    def env(self) -> dict[str, str]:
        return {"TERM": DEFAULT_TERM}

    def _start(self, env: dict[str, str]) -> Child:
        child = spawn_pty(self.spec, env)
        # Loading the emulator takes a few hundred ms (its C declarations are parsed):
        # do it beside the database opening rather than before the command may start.
        # The command is forked already, so a thread is safe now.
        threading.Thread(target=_load_emulator, name="load-emulator", daemon=True).start()
        return child

    def _keeper(self) -> ScreenKeeper:
        if self.keeper is None:
            from .screen.keeper import ScreenKeeper

            self.keeper = ScreenKeeper(*self.size, session_id=self.spec.session_id)
        return self.keeper

    async def recording(self, store: Any, run: int) -> None:
        if not self.screen_on:
            return
        from . import log
        from .screen.keeper import ScreenSaver

        def warn(message: str) -> None:
            sid = self.spec.session_id
            log.write_entry(Path(self.spec.log), message, session_id=sid, level="WARN")

        self.saver = await ScreenSaver.begin(store, self._keeper(), run, warn)

    async def end_recording(self) -> None:
        if self.saver is not None:
            await self.saver.finish()

    async def tidy_rest(self, stop: Callable[[], bool]) -> None:
        if self.saver is not None:
            await self.saver.tidy_rest(stop)

    def on_output(self, stream: str, data: bytes) -> None:
        if not self.screen_on:
            return
        keeper = self.keeper or self._keeper()
        if keeper.error is None:
            keeper.feed(data)  # queued: the emulator runs in the keeper's thread

    def resize(self, child: Child, cols: int, rows: int) -> bool:
        if child.input_fd is None:
            return False
        set_window_size(child.input_fd, cols, rows)
        self.size = (cols, rows)
        self._keeper().resize(cols, rows)
        return True

    def size_line(self, cols: int, rows: int, *, resized: bool = False) -> bytes | None:
        from .screen.state import size_line

        if resized and (cols, rows) == self.size:
            return None  # no change: nothing to record
        return size_line(cols, rows, resized=resized)

    def screen_state(self, *, styled: bool = False, vt: bool = False) -> dict[str, Any]:
        from .screen.state import screen_state

        keeper = self._keeper()
        try:
            with keeper.read() as screen:
                if keeper.error is not None:
                    raise ControlError(keeper.error)
                return screen_state(screen, styled=styled, vt=vt)
        except ControlError:
            raise
        except Exception as e:  # noqa: BLE001 - no screen, but the output is still recorded
            keeper.error = f"no terminal emulator: {e}"
            raise ControlError(keeper.error) from e

    def close_input(self, fd: int) -> None:
        pass  # the terminal's one fd is also the output: closed when that ends


def _load_emulator() -> None:
    from .screen import BackendUnavailable, screen_class

    try:
        screen_class()
    except BackendUnavailable:
        pass  # said when a screen is opened


KINDS: dict[str, type[SessionKind]] = {"pipe": PipeKind, "pty": PtyKind}


def kind_named(mode: str) -> type[SessionKind]:
    """The kind a session's ``mode`` names (pipe for anything unknown)."""
    return KINDS.get(mode, PipeKind)


def kind_for(spec: LaunchSpec) -> SessionKind:
    """The kind of session ``spec`` describes, ready to start its command."""
    return kind_named(spec.mode)(spec)
