"""What a supervisor is told to do, handed over on its stdin as one JSON object.

The spec goes through a pipe rather than the command line, so that env overrides
(which may hold secrets) never show up in ``ps``, and so that the supervisor can
spawn the command before it opens the database (no threads exist yet then, which
makes the fork for a terminal session safe).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields


@dataclass(frozen=True)
class LaunchSpec:
    db: str
    session_id: int
    lock: str  # the lock file: held for the supervisor's whole life
    socket: str  # the control socket
    log: str  # the supervisors' own log
    argv: list[str]
    cwd: str
    env: dict[str, str] = field(default_factory=dict)  # overrides only
    mode: str = "pipe"  # or "pty"
    cols: int = 80
    rows: int = 24
    grace: float = 5.0  # SIGTERM -> SIGKILL when the supervisor itself is signalled
    # Capture tuning (tests and benchmarks change these).
    buffer_limit: int = 16 * 1024 * 1024  # bytes in memory; then the spill file
    spill_dir: str | None = None  # where the spill file goes (None: no spill)
    spill_limit: int = 1024 * 1024 * 1024  # at most this (and a quarter of the free space)
    flush_interval: float = 0.1
    flush_bytes: int = 64 * 1024
    busy_timeout: float = 5.0  # seconds a flush waits for a locked database
    defer_merge_above: int = 16 * 1024 * 1024  # unindexed bytes: index without merging
    lock_wait: float = 5.0  # seconds to wait for the session lock
    # After the command's exit, background writers of its output are recorded until
    # they write nothing for this long (then it goes to /dev/null).
    linger_quiet: float = 600.0
    # After the command's exit: seconds of refused writes (a full disk) before the
    # supervisor gives up on the output it holds and records the end with the loss.
    give_up_after: float = 20.0
    redact: list[str] | None = None  # capture-time redaction: user patterns (None = off)
    # The argv recorded for the run when it differs from ``argv`` (what runs): the
    # session's stored, redacted command line when redaction on capture is on.
    shown_argv: list[str] | None = None
    # Started for a claim of the queue (runner/queue.py): the command runs only while
    # this claim still holds, checked with the session's lock held (never twice).
    claim: str | None = None
    # The coding agent it runs (agents/), so its prompts judge attention from the first
    # look (the session row says it too, but may be written just after the launch).
    agent_kind: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LaunchSpec:
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})
