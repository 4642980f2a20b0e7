"""``tether`` as a real subprocess with a given TETHER_HOME (the ``tether`` fixture)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.supervisors import stop_leftover_supervisors

_SCRIPT = Path(sys.executable).with_name("tether")
TETHER = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]
)


class Tether:
    """Runs ``tether`` in a subprocess with ``TETHER_HOME`` set to ``home``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "TETHER_HOME": str(home), "NO_COLOR": "1"}
        self.env.pop("TETHER_DB", None)

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = 60, cwd: Any = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*TETHER, *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def ok(self, *args: str, **kw: Any) -> str:
        """Run and insist on exit 0; return stdout."""
        done = self(*args, **kw)
        assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr)
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def popen(self, *args: str, **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen([*TETHER, *args], env=self.env, text=True, **kw)

    def wait_status(self, session: str, statuses: tuple[str, ...], timeout: float = 30) -> dict:
        """Poll ``show --json`` until the session has one of ``statuses`` (a deadline
        for a broken build, not a timing assertion)."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.json("show", session)
            if shown["status"] in statuses and not (
                shown["status"] not in ("running", "paused") and shown["supervisor_alive"]
            ):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"#{session} stayed {shown['status']}")
            time.sleep(0.1)

    def wait_output(
        self, session: str, needle: str, timeout: float = 30, *, stream: str | None = None
    ) -> str:
        deadline = time.monotonic() + timeout
        while True:
            out = self.ok("logs", session, *(("--stream", stream) if stream else ()))
            if needle in out:
                return out
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never showed up in #{session}: {out[-500:]}")
            time.sleep(0.1)

    def stop_leftovers(self) -> None:
        """Stop the supervisors of every session still running in this home."""
        stop_leftover_supervisors(self.home / "run", "*/*.lock")
