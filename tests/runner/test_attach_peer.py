"""Only the session's user may attach: the supervisor checks every connection's peer
credentials (SO_PEERCRED), not only the socket file's 0600 mode.

The socket's mode alone would refuse another user at ``connect()``, so the test
loosens it on purpose (the file made 0666 and linked into a directory anyone may
enter): then only the peer check stands between another uid and the session. A
process running as ``nobody`` is refused, for a plain request and for ``attach``;
the session's own user is served through the very same loosened link. Needs root (to
become ``nobody``).
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from runner import control
from runner.locations import socket_path
from tests.support.supervisors import wait_output

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: the test connects as another user (nobody)"
)

# Imports first (the interpreter's files may not be readable by nobody), then the
# identity is dropped, then one request; the reply line (or the error) is printed.
PROBE = """
import json, os, socket, sys
uid, gid, path, request = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if uid != os.getuid():
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
try:
    s.connect(path)
    try:
        s.sendall(request.encode() + b"\\n")
    except BrokenPipeError:
        pass  # refused before the request was read: the reply is there all the same
    got = b""
    while not got.endswith(b"\\n"):
        part = s.recv(1)
        if not part:
            break
        got += part
    print(json.dumps({"uid": os.getuid(), "reply": got.decode()}))
except OSError as e:
    print(json.dumps({"uid": os.getuid(), "oserror": str(e)}))
"""


def ask_as(uid: int, gid: int, sock: Path, request: dict) -> dict:
    """One request over ``sock`` from a process running as ``uid``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(uid), str(gid), str(sock), json.dumps(request)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["uid"] == uid  # it really ran as that user
    return answer


@pytest.fixture
def open_door():
    """A directory anyone may enter, for a link to the session's socket."""
    d = Path(tempfile.mkdtemp(prefix="tether-peer-"))
    d.chmod(0o755)
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


async def test_another_user_is_refused_even_through_a_loosened_socket(
    store, paths, tmp_path, open_door
):
    s = await control.start_session(
        store, paths, argv=["sh", "-c", "echo UP; exec cat"], cwd=tmp_path, mode="pty"
    )
    await wait_output(store, s.id, b"UP")
    real = socket_path(paths, s.id)
    assert real.stat().st_mode & 0o777 == 0o600
    assert real.stat().st_uid == os.getuid()
    link = open_door / "session.sock"
    os.link(real, link)  # same inode: anyone can reach it now...
    link.chmod(0o666)  # ...and anyone may connect to it

    other = pwd.getpwnam("nobody")
    for request in ({"op": "status"}, {"op": "attach", "cols": 80, "rows": 24}):
        answer = ask_as(other.pw_uid, other.pw_gid, link, request)
        assert "oserror" not in answer, "the loosened socket should let it connect"
        reply = json.loads(answer["reply"])
        assert reply["ok"] is False
        assert "another user" in reply["error"]
        assert f"peer uid {other.pw_uid}" in reply["error"]

    # The session's own user, through the same link, is served.
    mine = ask_as(os.getuid(), os.getgid(), link, {"op": "status"})
    assert json.loads(mine["reply"])["ok"] is True
    # Nothing the refused user sent reached the session: no attach was recorded.
    system = await store.output.read_bytes(s.id, stream="system")
    assert b"attached" not in system
    await control.stop(store, paths, s.id, grace=1)
