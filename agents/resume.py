"""Native resume: starting an agent so that its conversation can be continued, and
continuing it.

``prepare`` turns the command of a new session into what runs: for an agent whose
kind has a ``start`` recipe (claude: ``--session-id {session_id}``) tether picks the id
and adds it after the program's name, unless the command already names a session.
``plan`` says how an ended agent session resumes: its program with the kind's
``resume`` arguments when the agent's transcript of that session exists (claude
``--resume ID``, ``codex resume ID``, aider ``--restore-chat-history``), else why not
(the caller then offers a plain restart). A codex run's id is not chosen by tether:
``codex_session`` finds it in the rollout file codex wrote for that run.
"""

from __future__ import annotations

import glob
import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .kinds import BUILTIN, AgentKind, cwd_slug, recognise

__all__ = ["Plan", "Start", "UnknownAgent", "codex_session", "plan", "prepare", "transcripts"]

# Options with which a command already says which conversation it is.
_NAMES_SESSION = frozenset({"--session-id", "--resume", "-r", "--continue", "-c", "resume"})


class UnknownAgent(ValueError):
    """``--agent NAME`` names no kind."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown agent {name!r}; known: {', '.join(sorted(known))}")


@dataclass(frozen=True)
class Start:
    """What a new session runs: its argv, its agent kind (None: not an agent) and the
    agent's session id where tether chose it (or the command named it)."""

    argv: list[str]
    kind: str | None = None
    session_id: str | None = None


def prepare(
    argv: Sequence[str],
    kinds: Mapping[str, AgentKind] = BUILTIN,
    chosen: str | None = None,
    *,
    new_id: str | None = None,
) -> Start:
    """The start of a session running ``argv``: recognised (or ``chosen``, an agent
    name) and, for a kind with a ``start`` recipe, given a fresh session id."""
    argv = list(argv)
    if chosen is not None and chosen not in kinds:
        raise UnknownAgent(chosen, list(kinds))
    found = recognise(argv, kinds)
    if found is None or (chosen is not None and found.kind.name != chosen):
        # Chosen by name for a program we do not recognise (a wrapper script): the
        # command is left as it is; its kind still judges attention and resume.
        return Start(argv, chosen) if chosen else Start(argv)
    kind, at = found.kind, found.args_at
    if found.shell_line or kind.session_id_from != "start" or not kind.start:
        return Start(argv, kind.name)
    args = argv[at:]
    if any(a in _NAMES_SESSION for a in args):
        named = _option_value(args, "--session-id")
        return Start(argv, kind.name, named)
    session_id = new_id or str(uuid.uuid4())
    return Start(argv[:at] + kind.start_args(session_id) + args, kind.name, session_id)


def _option_value(args: Sequence[str], option: str) -> str | None:
    for i, a in enumerate(args):
        if a == option and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(option + "="):
            return a.split("=", 1)[1]
    return None


# -- where transcripts are ------------------------------------------------------------------
def _expand(pattern: str, env: Mapping[str, str], cwd: str, session_id: str) -> str:
    """``${VAR:-default}``, ``$VAR``, ``~`` (``env``'s HOME), ``{cwd}``, ``{cwd_slug}``,
    ``{session_id}`` of a transcript pattern."""
    text = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m[1]) or m[2], pattern)
    text = re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env.get(m[1] or m[2], ""), text)
    if text.startswith("~"):
        text = env.get("HOME", os.path.expanduser("~")) + text[1:]
    return (
        text.replace("{cwd_slug}", cwd_slug(cwd))
        .replace("{cwd}", cwd)
        .replace("{session_id}", glob.escape(session_id))
    )


def transcripts(
    kind: AgentKind, session_id: str | None, cwd: str, env: Mapping[str, str]
) -> list[Path]:
    """The agent's transcript files of that session (none found: an empty list)."""
    if not kind.transcript or ("{session_id}" in kind.transcript and not session_id):
        return []
    pattern = _expand(kind.transcript, env, cwd, session_id or "")
    return sorted(Path(p) for p in glob.glob(pattern) if os.path.isfile(p))


def codex_session(
    cwd: str, started: float, ended: float | None, env: Mapping[str, str]
) -> str | None:
    """The id of the codex session run in ``cwd`` between ``started`` and ``ended``: the
    rollout file ($CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl) whose first line,
    ``session_meta``, has that cwd and a time in the run (the first such)."""
    home = env.get("CODEX_HOME") or os.path.join(env.get("HOME", os.path.expanduser("~")), ".codex")
    until = (ended if ended is not None else datetime.now(UTC).timestamp()) + 5
    day = datetime.fromtimestamp(started, UTC).date() - timedelta(days=1)
    best: tuple[float, str] | None = None
    while day <= datetime.fromtimestamp(until, UTC).date() + timedelta(days=1):
        folder = Path(home, "sessions", f"{day:%Y}", f"{day:%m}", f"{day:%d}")
        for path in folder.glob("rollout-*.jsonl"):
            meta = _session_meta(path)
            if meta is None or meta[1] != cwd or not started - 5 <= meta[0] <= until:
                continue
            if best is None or meta[0] < best[0]:
                best = (meta[0], meta[2])
        day += timedelta(days=1)
    return best[1] if best else None


def _session_meta(path: Path) -> tuple[float, str, str] | None:
    """(time, cwd, id) of a rollout file's first line, None when it is not one."""
    try:
        with path.open("rb") as f:
            first = f.readline(1 << 20)
        data = json.loads(first)
        payload = data["payload"]
        if data.get("type") != "session_meta":
            return None
        when = datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00")).timestamp()
        return when, str(payload["cwd"]), str(payload["id"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


# -- resuming ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """How an agent session resumes: ``argv`` (None: not the native way, ``why``), and
    the agent's session id found on the way (codex)."""

    argv: list[str] | None
    why: str = ""
    session_id: str | None = None


def plan(
    argv: Sequence[str],
    kind: AgentKind,
    session_id: str | None,
    cwd: str,
    env: Mapping[str, str],
    *,
    started: float | None = None,
    ended: float | None = None,
) -> Plan:
    """The native resume of a session that ran ``argv`` as agent ``kind``."""
    if not kind.resume:
        return Plan(None, f"{kind.name} has no way to resume a conversation")
    found = recognise(argv, {kind.name: kind})
    if found is None or found.shell_line:
        return Plan(None, f"tether cannot tell where {kind.name}'s arguments start in the command")
    if kind.session_id_from == "rollout" and session_id is None and started is not None:
        session_id = codex_session(cwd, started, ended, env)
    needs_id = any("{session_id}" in a for a in kind.resume)
    if needs_id and session_id is None:
        return Plan(None, f"{kind.name}'s session id of this run is not known")
    if not transcripts(kind, session_id, cwd, env):
        where = _expand(kind.transcript, env, cwd, session_id or "") if kind.transcript else "-"
        return Plan(None, f"{kind.name}'s transcript is gone ({where})", session_id)
    at = found.args_at
    return Plan(list(argv[:at]) + kind.resume_args(session_id or "", argv[at:]), "", session_id)
