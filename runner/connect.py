"""Reaching a supervisor's control socket without an event loop: where its socket is,
and a blocking connection that asks to attach (runner/client.py's ``attach`` and the
fast start of ``tether attach``, which imports no asyncio).
"""

from __future__ import annotations

import _socket
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ControlError
from .locations import is_alive, socket_path

if TYPE_CHECKING:
    from storage import Store

    from .locations import RuntimePaths

CONNECT_TIMEOUT = 5.0
REPLY_TIMEOUT = 30.0
# storage.models.LIVE, without importing storage.models (a test checks they agree)
LIVE = frozenset({"running", "paused"})


class BlockingSocket(_socket.socket):
    """The C socket itself, usable in ``with``: all the attach loop calls (``sendall``,
    ``recv``, ``fileno``, ``shutdown``, ``close``) is there. ``socket.py``'s wrapper
    imports selectors, array and its enum conversions, ~3 ms of ``tether attach``'s
    start for nothing it uses."""

    __slots__ = ()

    def __enter__(self) -> BlockingSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Unreachable(Exception):
    """The socket is missing, refuses, or closed without answering."""


async def socket_of(store: Store, paths: RuntimePaths, session_id: int) -> Path:
    """The socket the session's latest run recorded (a supervisor of another
    ``TETHER_HOME`` on the same database too), else the one under ``paths``. Runs on a
    ``Store`` or a read-only ``Reader``."""
    run = await store.runs.latest(session_id)
    if run is not None and run.socket:
        return Path(run.socket)
    return socket_path(paths, session_id)


def live_socket(paths: Any, ref: str) -> Path | None:
    """The socket of session ``ref`` (``42`` or ``#42``) when it is live and a
    supervisor holds its lock, from plain rows of the database opened for reading; None
    for anything else (a uid prefix, another state, no such session), which the full
    path looks at and explains. No ``Session`` is built: ``storage.models`` and
    ``dataclasses`` cost more than the rest of ``tether attach``'s start together
    (tests/cli/test_cli_startup.py)."""
    ref = ref.strip().removeprefix("#")
    if not ref.isascii() or not ref.isdigit():
        return None
    session_id = int(ref)
    from home.store import open_reader

    with open_reader(paths) as reader:
        found = reader.status_and_socket(session_id)
    if found is None or found[0] not in LIVE or not is_alive(paths, session_id):
        return None
    return Path(found[1]) if found[1] else socket_path(paths, session_id)


def attach_blocking(path: Path, request: dict[str, Any]) -> tuple[BlockingSocket, dict[str, Any]]:
    """Connect and read the hello byte by byte, so that no frame after it is read
    ahead into a buffer the blocking loop would not see. A missing or refusing socket
    is waited for up to ``CONNECT_TIMEOUT`` (its supervisor puts a removed one back)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        sock = BlockingSocket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(str(path))
            break
        except (FileNotFoundError, ConnectionRefusedError) as e:
            sock.close()
            if time.monotonic() > deadline:
                raise Unreachable(f"its control socket {path} does not answer: {e}") from None
            time.sleep(0.1)
        except OSError as e:
            sock.close()
            raise Unreachable(f"its control socket {path} does not answer: {e}") from None
    try:
        sock.settimeout(REPLY_TIMEOUT)
        sock.sendall(json.dumps(request).encode() + b"\n")
        line = bytearray()
        while not line.endswith(b"\n"):
            got = sock.recv(1)
            if not got:
                raise Unreachable("it closed the connection without answering")
            line += got
        sock.settimeout(None)
    except OSError as e:
        sock.close()
        raise Unreachable(f"no answer on {path}: {e!r}") from None
    hello = json.loads(line)
    if not hello.get("ok"):
        sock.close()
        raise ControlError(hello.get("error", "request refused"))
    return sock, hello
