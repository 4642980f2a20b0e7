"""Bringing in conversations started outside tether (``tether import --agent``).

``find_files`` lists an agent's transcripts: under ``PATH`` (a file or a folder), else
where the agent keeps them (``${CLAUDE_CONFIG_DIR:-~/.claude}/projects/*/*.jsonl``,
``${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-*.jsonl``). ``import_transcripts``
makes each conversation not here yet a session: imported (it never runs without the
user confirming its command), ended, run as the agent in the conversation's cwd, its
agent kind and native session id recorded so that resuming it continues the
conversation (``claude --resume ID``, ``codex resume ID``: runner/agent_resume.py), and
its transcript indexed. A conversation already here (the same agent session id, or the
same file) is skipped: importing twice adds nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agents.transcripts.parse import AGENTS, meta_of

if TYPE_CHECKING:
    from storage.engine.store import Store

__all__ = ["ImportReport", "agent_home", "find_files", "import_transcripts"]

# The variable that moves each agent's files, and its default.
_HOMES = {"claude": ("CLAUDE_CONFIG_DIR", ".claude"), "codex": ("CODEX_HOME", ".codex")}
_NAME_MAX = 60
_META_LINES = 20  # a claude transcript may open with summary lines before the first turn


def agent_home(agent: str, env: Mapping[str, str]) -> Path:
    """Where ``agent`` keeps its files (its variable honoured)."""
    var, default = _HOMES[agent]
    if env.get(var):
        return Path(env[var]).expanduser()
    return Path(env.get("HOME") or os.path.expanduser("~"), default)


def find_files(agent: str, path: str | None, env: Mapping[str, str]) -> list[Path]:
    """The agent's transcript files under ``path`` (default: its own folder), sorted.
    Raises ``FileNotFoundError`` when ``path`` does not exist."""
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; one of: {', '.join(AGENTS)}")
    if path is not None:
        root = Path(path).expanduser()
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise FileNotFoundError(f"{path}: no such file or directory")
        pattern = "rollout-*.jsonl" if agent == "codex" else "*.jsonl"
        return sorted(p for p in root.rglob(pattern) if p.is_file())
    home = agent_home(agent, env)
    if agent == "codex":
        found = (home / "sessions").glob("*/*/*/rollout-*.jsonl")
    else:
        found = (home / "projects").glob("*/*.jsonl")
    return sorted(p for p in found if p.is_file())


@dataclass(frozen=True)
class Imported:
    """One transcript: imported as session ``id``, or skipped (``existing`` is the
    session that has it already), or not a transcript (``problem``)."""

    path: str
    agent_session_id: str | None = None
    id: int | None = None
    existing: int | None = None
    name: str = ""
    problem: str = ""


@dataclass
class ImportReport:
    agent: str
    dry_run: bool = False
    items: list[Imported] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # lines skipped while indexing

    @property
    def imported(self) -> list[Imported]:
        return [i for i in self.items if i.id is not None or (self.dry_run and i.name)]

    @property
    def skipped(self) -> list[Imported]:
        return [i for i in self.items if i.existing is not None]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _head(path: Path) -> list[bytes]:
    with path.open("rb") as f:
        return [f.readline(1 << 20) for _ in range(_META_LINES)]


def _first_prompt(agent: str, path: Path) -> str:
    """The conversation's first prompt, as its name (one line, shortened)."""
    from agents.transcripts.parse import read_lines

    with path.open("rb") as f:
        for _ in range(200):
            raw = f.readline(1 << 20)
            if not raw:
                break
            entries, _problems = read_lines(agent, [raw], {})
            for e in entries:
                if e.role == "user":
                    text = " ".join(e.text.split())
                    return text if len(text) <= _NAME_MAX else text[: _NAME_MAX - 1] + "…"
    return ""


async def import_transcripts(
    store: Store,
    agent: str,
    files: list[Path],
    env: Mapping[str, str],
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Import ``files`` (``find_files``) of ``agent`` as sessions (see the module)."""
    import asyncio

    from agents.transcripts.index import sync
    from storage.engine.transcripts import Transcripts

    t = Transcripts(store)
    report = ImportReport(agent, dry_run)
    if not dry_run:
        # Sessions tether ran linked to their transcripts first (a codex run's rollout
        # file is found only so), so that none of them is imported a second time.
        report.problems += (await sync(store, None, env)).problems
    var = _HOMES[agent][0]
    # The session runs with the variable the agent found its files by, so that its
    # resume finds the transcript where it was imported from.
    overrides = {var: env[var]} if env.get(var) else None
    new_ids: list[int] = []
    for path in files:
        path = path.resolve()
        try:
            meta = meta_of(agent, await asyncio.to_thread(_head, path))
            name = await asyncio.to_thread(_first_prompt, agent, path) if meta else ""
        except OSError as e:
            report.items.append(Imported(str(path), problem=e.strerror or str(e)))
            continue
        if meta is None:
            why = f"not a {agent} transcript (no session id and cwd in its first lines)"
            report.items.append(Imported(str(path), problem=why))
            continue
        known = await t.file(str(path))
        existing = known.session_id if known else await t.session_of(agent, meta.session_id)
        if existing is not None:
            report.items.append(Imported(str(path), meta.session_id, existing=existing, name=name))
            continue
        label = name or f"{agent} {meta.session_id[:8]}"
        if dry_run:
            report.items.append(Imported(str(path), meta.session_id, name=label))
            continue
        session = await store.sessions.create(
            [agent],
            meta.cwd,
            name=label,
            env=overrides,
            origin="imported",
            created_at=meta.at or None,
            agent_kind=agent,
            agent_session_id=meta.session_id,
        )
        await store.sessions.set_status(
            session.id,
            "stopped",
            reason=f"imported from {agent}'s transcript {path}",
            at=max(_mtime(path), session.created_at),  # its last turn, near enough
        )
        await t.add_file(str(path), session.id, agent)
        new_ids.append(session.id)
        report.items.append(Imported(str(path), meta.session_id, id=session.id, name=label))
    if new_ids:
        done = await sync(store, {}, env, session_ids=new_ids)
        report.problems += done.problems
    return report
