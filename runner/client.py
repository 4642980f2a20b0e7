"""Talking to a running session's supervisor over its control socket.

One JSON line out, one back (the requests are listed in runner/server.py). Each call
checks the session's status first and turns an unreachable supervisor into the right
typed error: ``NotRunning`` when the session ended meanwhile, ``SupervisorGone``
when ``reconcile`` judged it gone and marked it lost, ``ControlError`` when it is
alive but does not answer. The socket is the one the run recorded (a supervisor of
another ``TETHER_HOME`` on the same database is reached too); a socket someone
removed is waited for a moment, as its supervisor puts it back.

``stop`` of a ``lost`` session ends what its run left running (found by the pid and
start time it recorded: runner/reconcile.py, ``find_leftovers``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from storage.models import LIVE

from .connect import CONNECT_TIMEOUT, REPLY_TIMEOUT, attach_blocking, socket_of
from .connect import Unreachable as _Unreachable
from .errors import ControlError, NotRunning, SupervisorGone
from .kinds import kind_named
from .locations import is_alive
from .reconcile import end_leftovers, find_leftovers, reconcile

if TYPE_CHECKING:
    from storage import Session, Store

    from .locations import RuntimePaths

REPLY_LIMIT = 64 * 1024 * 1024  # a reply is one line: a screen's styled rows can be long

T = TypeVar("T")


async def _connect(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect, waiting up to ``CONNECT_TIMEOUT`` for a socket that is missing or not
    listening (its supervisor re-creates a removed one within about a second)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        try:
            return await asyncio.wait_for(
                asyncio.open_unix_connection(str(path), limit=REPLY_LIMIT), CONNECT_TIMEOUT
            )
        except (FileNotFoundError, ConnectionRefusedError) as e:
            if time.monotonic() > deadline:
                raise _Unreachable(f"its control socket {path} does not answer: {e}") from None
            await asyncio.sleep(0.1)
        except (OSError, TimeoutError) as e:
            raise _Unreachable(f"its control socket {path} does not answer: {e}") from None


async def _request(path: Path, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    reader, writer = await _connect(path)
    try:
        writer.write(json.dumps(payload).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (OSError, TimeoutError) as e:
        raise _Unreachable(f"no answer on {path}: {e!r}") from None
    finally:
        writer.close()
    if not line:
        raise _Unreachable("it closed the connection without answering")
    reply = json.loads(line)
    if not reply.get("ok"):
        raise ControlError(reply.get("error", "request refused"))
    return reply


async def _control(
    store: Store,
    paths: RuntimePaths,
    session_id: int,
    action: str,
    payload: dict[str, Any],
    *,
    timeout: float = REPLY_TIMEOUT,
    allowed: Collection[str] = LIVE,
) -> dict[str, Any]:
    async def ask(path: Path) -> dict[str, Any]:
        return await _request(path, payload, timeout)

    return await _reach(store, paths, session_id, action, ask, allowed)


async def _reach(
    store: Store,
    paths: RuntimePaths,
    session_id: int,
    action: str,
    ask: Callable[[Path], Awaitable[T]],
    allowed: Collection[str] = LIVE,
) -> T:
    """``ask`` the session's supervisor at its socket, turning an unreachable one into
    the right typed error."""
    session = await store.sessions.require(session_id)
    sid = session.id
    if session.status not in allowed:
        raise NotRunning(sid, session.status, action)
    if not is_alive(paths, sid) and sid in await reconcile(store, paths, {sid}):
        raise SupervisorGone(sid)
    try:
        return await ask(await socket_of(store, paths, sid))
    except ControlError as e:
        raise ControlError(f"session #{sid}: {e}") from None
    except _Unreachable as e:
        session = await store.sessions.require(sid)
        if session.ended:  # it ended between our look and our request
            raise NotRunning(sid, session.status, action) from None
        if not is_alive(paths, sid) and sid in await reconcile(store, paths, {sid}):
            raise SupervisorGone(sid, str(e)) from None
        raise ControlError(
            f"cannot reach session #{sid}'s supervisor ({e}); it is alive but does not "
            f"answer. `tether doctor` shows its errors."
        ) from None


async def _open_stream(
    path: Path, request: dict[str, Any]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]:
    reader, writer = await _connect(path)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
    except (OSError, TimeoutError) as e:
        writer.close()
        raise _Unreachable(f"no answer on {path}: {e!r}") from None
    if not line:
        writer.close()
        raise _Unreachable("it closed the connection without answering")
    hello = json.loads(line)
    if not hello.get("ok"):
        writer.close()
        raise ControlError(hello.get("error", "request refused"))
    return reader, writer, hello


async def attach(
    store: Store, paths: RuntimePaths, session_id: int, request: dict[str, Any]
) -> tuple[socket.socket, dict[str, Any]]:
    """A blocking socket attached to a running session (frames: runner/stream.py) and
    the supervisor's hello (``terminal``, ``size``). ``request`` adds ``cols``,
    ``rows``, ``who``, ``record_input``. For runner/attach.py's loop."""

    async def ask(path: Path) -> tuple[socket.socket, dict[str, Any]]:
        return attach_blocking(path, {**request, "op": "attach"})

    return await _reach(store, paths, session_id, "attach to", ask)


async def attach_stream(
    store: Store, paths: RuntimePaths, session_id: int, request: dict[str, Any]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]:
    """``attach`` for an event loop (the TUI's interactive mode): the stream and the
    supervisor's hello. The same request and frames as ``attach``."""

    async def ask(
        path: Path,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]:
        return await _open_stream(path, {**request, "op": "attach"})

    return await _reach(store, paths, session_id, "attach to", ask)


async def watch(
    store: Store, paths: RuntimePaths, session_id: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A live view's wake-ups: a ``W`` frame each time new output is in the database,
    ``E`` at the end of the run (runner/stream.py)."""

    async def ask(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer, _hello = await _open_stream(path, {"op": "watch"})
        return reader, writer

    return await _reach(store, paths, session_id, "watch", ask)


async def stop(
    store: Store, paths: RuntimePaths, session_id: int, *, grace: float = 5.0
) -> Session:
    """SIGTERM to the command's process group, SIGKILL after ``grace`` seconds. Returns
    once the end is recorded (status ``stopped``, unless it ended by itself first).

    A session waiting in the queue is taken out of it instead: it never starts and
    becomes ``stopped`` (runner/queue.py, ``cancel``).

    For a ``lost`` session, ends what its run left running (its command's group,
    identified by pid and start time), with a system line saying so; ``NotRunning``
    when nothing is left."""
    session = await store.sessions.require(session_id)
    if session.status == "lost":
        return await _stop_leftovers(store, session, grace)
    if session.status == "pending" and session_id in await store.queue.positions():
        from .queue import cancel  # waiting in the queue: it never starts

        return await cancel(store, session_id)
    await _control(
        store, paths, session_id, "stop", {"op": "stop", "grace": grace}, timeout=grace + 90
    )
    return await store.sessions.require(session_id)


async def _stop_leftovers(store: Store, session: Session, grace: float) -> Session:
    sid = session.id
    left = find_leftovers(sid, await store.runs.latest(sid))
    if left is None:
        raise NotRunning(sid, session.status, "stop")
    what = left.describe()
    ended = await end_leftovers(left, grace)
    line = (
        f"stopped what run {left.run} left running after its supervisor was lost "
        f"({len(ended)} process{'es' if len(ended) != 1 else ''}: {what})\n"
    )
    await store.output.append(sid, "system", line.encode())
    return await store.sessions.require(sid)


async def pause(store: Store, paths: RuntimePaths, session_id: int) -> Session:
    """SIGSTOP to the command's process group; the session becomes ``paused``."""
    await _control(store, paths, session_id, "pause", {"op": "pause"})
    return await store.sessions.require(session_id)


async def continue_(store: Store, paths: RuntimePaths, session_id: int) -> Session:
    """SIGCONT to the command's process group; the session is ``running`` again."""
    await _control(store, paths, session_id, "continue", {"op": "continue"})
    return await store.sessions.require(session_id)


async def send_input(
    store: Store, paths: RuntimePaths, session_id: int, text: str, *, eol: bool = True
) -> None:
    """Send a line to the command's stdin (pipe mode) or terminal (pty mode, where the
    line ends with Enter, ``\\r``)."""
    await _control(
        store, paths, session_id, "send input to", {"op": "input", "text": text, "eol": eol}
    )


async def resize(store: Store, paths: RuntimePaths, session_id: int, cols: int, rows: int) -> None:
    """Set a pty session's terminal size (the command gets SIGWINCH). A no-op for
    pipe sessions."""
    session = await store.sessions.require(session_id)
    if not kind_named(session.mode).resizable:
        return
    await _control(store, paths, session_id, "resize", {"op": "resize", "cols": cols, "rows": rows})


async def screen(
    store: Store,
    paths: RuntimePaths,
    session_id: int,
    *,
    styled: bool = False,
    vt: bool = False,
) -> dict[str, Any]:
    """A running pty session's screen as its supervisor emulates it (fields in
    runner/server.py); ``ControlError`` for a pipe session."""
    payload = {"op": "screen", "styled": styled, "vt": vt}
    reply = await _control(store, paths, session_id, "read the screen of", payload)
    reply.pop("ok", None)
    return reply


async def status(store: Store, paths: RuntimePaths, session_id: int) -> dict[str, Any]:
    """What the supervisor says about itself: pids, paused, buffered and dropped bytes,
    whether the database is writable."""
    reply = await _control(store, paths, session_id, "ask about", {"op": "status"})
    reply.pop("ok", None)
    return reply
