"""Keeping agent transcripts indexed: ``sync`` reads what was appended since the last
look, and nothing else.

Each known file (``transcript_files``) has the size and mtime of the last look and the
offset read up to (whole lines only: a line the agent is still writing waits for its
newline). A look at a file whose size and mtime are unchanged is one ``os.stat``; a
grown file is read from its offset; a file shorter than what was read was rewritten and
is read again from the start (its old entries replaced). Agent sessions with no file
known yet (a claude session tether started, a codex one whose rollout appeared) are
linked to their transcript first, where the agent's kind says it is
(``agents.resume.transcripts``; codex: the rollout file of that run).

``sync`` is ``plan`` (reading only: it runs on the read-only ``Reader`` of ``tether
search`` too, so nothing is opened for writing when nothing changed) then ``apply``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.transcripts.parse import AGENTS, context_of, read_lines

if TYPE_CHECKING:
    from agents.kinds import AgentKind
    from storage.engine.store import Store
    from storage.engine.transcripts import TranscriptFile, Transcripts

__all__ = ["SyncReport", "Work", "apply", "plan", "sync"]

READ_MAX = 8 * 1024 * 1024  # bytes read from one file in one step (the rest: next step)


@dataclass
class SyncReport:
    """What one ``sync`` did: files looked at, files read (and their bytes), entries
    added, and the lines it skipped (``problems``)."""

    checked: int = 0
    read: int = 0
    bytes_read: int = 0
    entries: int = 0
    linked: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class Work:
    """What a ``sync`` has to do (``plan``): the files that changed, with their stat,
    and the transcripts found for sessions with none known (session id, agent, path)."""

    checked: int = 0
    changed: list[tuple[TranscriptFile, os.stat_result]] = field(default_factory=list)
    links: list[tuple[int, str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.links)


async def plan(
    db: Any,
    kinds: Mapping[str, AgentKind] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    session_ids: Sequence[int] | None = None,
) -> Work:
    """What is new on disk (of ``session_ids`` only, when given), asking ``db`` (a
    ``Store`` or a read-only ``Reader``) only to read. ``kinds`` and ``env`` say where
    transcripts of sessions with no file known yet are (default: the built-in kinds,
    this process's environment); ``kinds={}`` only re-checks the files known. Files are
    looked at here, in this thread: one stat each."""
    from storage.engine.transcripts import Transcripts

    t = Transcripts(db)
    if kinds is None:
        from agents.kinds import BUILTIN as kinds
    work = Work()
    if kinds:
        work.links = await _links(t, kinds, os.environ if env is None else env, session_ids)
    files = await t.files(session_ids)
    work.checked = len(files)
    work.changed = _changed(files)
    return work


async def apply(store: Store, work: Work) -> SyncReport:
    """Do ``work``: link the transcripts found, read what was appended."""
    from storage.engine.transcripts import Transcripts

    t = Transcripts(store)
    report = SyncReport(checked=work.checked, linked=len(work.links))
    changed = list(work.changed)
    for session_id, agent, path in work.links:
        file = await t.add_file(path, session_id, agent)
        st = _stat(path)
        if st is not None and file.size == 0 and file.offset == 0:
            changed.append((file, st))
    for file, st in changed:
        await _read(t, file, st, report)
    return report


async def sync(
    store: Store,
    kinds: Mapping[str, AgentKind] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    session_ids: Sequence[int] | None = None,
) -> SyncReport:
    """Bring the index up to date with the transcripts on disk: ``plan`` then
    ``apply``."""
    return await apply(store, await plan(store, kinds, env, session_ids=session_ids))


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _changed(files: list[TranscriptFile]) -> list[tuple[TranscriptFile, os.stat_result]]:
    """The files whose size or mtime moved since the last look (one stat each)."""
    out: list[tuple[TranscriptFile, os.stat_result]] = []
    for f in files:
        st = _stat(f.path)  # gone: what was read stays searchable
        if st is not None and (st.st_size != f.size or st.st_mtime_ns != f.mtime_ns):
            out.append((f, st))
    return out


async def _read(
    t: Transcripts, file: TranscriptFile, st: os.stat_result, report: SyncReport
) -> None:
    import asyncio

    restart = st.st_size < file.offset
    start = 0 if restart else file.offset
    data = await asyncio.to_thread(_read_bytes, file.path, start, min(st.st_size, start + READ_MAX))
    if data is None:
        return
    end = data.rfind(b"\n") + 1  # whole lines only
    report.read += 1
    report.bytes_read += len(data)
    whole = start + len(data) >= st.st_size  # read to the end (else: more next step)
    if end == 0:
        if whole:  # a line still being written: wait for its end
            await t.touch(file, st.st_size, st.st_mtime_ns)
            return
        end = len(data)  # one line longer than a step: taken (and refused) as it is
    state = {} if restart else dict(file.state)
    entries, problems = read_lines(file.agent, data[:end].splitlines(), state, where=file.path)
    # A file read partly (longer than a step) is not marked as seen: the next look goes
    # on. One read to its end is, even with a line not ended yet (it grows when it ends).
    taken = await t.record(
        file,
        size=st.st_size if whole else -1,
        mtime_ns=st.st_mtime_ns,
        offset=start + end,
        entries=entries,
        state=state,
        context=context_of(state),
        restart=restart,
    )
    if taken:  # (else another process took these lines since the look: they are said there)
        report.entries += len(entries)
        report.problems += problems


def _read_bytes(path: str, start: int, end: int) -> bytes | None:
    try:
        with open(path, "rb") as f:
            f.seek(start)
            return f.read(max(0, end - start))
    except OSError:
        return None


async def _links(
    t: Transcripts,
    kinds: Mapping[str, AgentKind],
    env: Mapping[str, str],
    session_ids: Sequence[int] | None,
) -> list[tuple[int, str, str]]:
    """The transcripts of agent sessions that have none known yet, where they now are."""
    from agents.resume import codex_session, transcripts

    wanted = set(session_ids) if session_ids is not None else None
    found = []
    for s in await t.unlinked_sessions([k for k in kinds if k in AGENTS]):
        if wanted is not None and s.id not in wanted:
            continue
        kind = kinds[s.agent_kind]
        where = {**env, **s.env}
        native = s.agent_session_id
        if native is None and kind.session_id_from == "rollout" and s.started_at:
            native = codex_session(s.cwd, s.started_at, s.ended_at, where)
        if native is not None:
            found += [(s.id, s.agent_kind, str(p)) for p in transcripts(kind, native, s.cwd, where)]
    return found
