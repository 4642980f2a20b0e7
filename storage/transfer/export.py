"""Export sessions: a complete JSON document, or a transcript (md, txt, jsonl).

    from storage.transfer.export import export_sessions
    from storage.redact import Redactor

    with open("out.json", "wb") as f:
        result = await export_sessions(store, [3, 4], f, fmt="json", redactor=Redactor())
    result.redactions  # {"jwt": 2, ...}

Everything streams: output is read a batch of chunks at a time and written as it is
read, so a 2 GB session needs no more memory than a small one. Redaction (on unless
``redactor`` is None) covers the output and the metadata (argv, env, notes, context...).

The ``json`` format, ``tether.export/1``, is one valid JSON document laid out one
record per line, so that a reader can check and import it line by line::

    {"format":"tether.export/1","schema_version":1,"exported_at":...,"sessions":[
    {"session":{...metadata...},"chunks":[
    {"run":1,"stream":"stdout","first_line":0,...,"text":"..."}
    ,{"run":1,"stream":"stderr",...,"base64":"..."}
    ],"runs":[...],"summary":{"chunks":2,"lines":7,"bytes":120}}
    ,{"session":{...},"chunks":[
    ],"runs":[],"summary":{"chunks":0,"lines":0,"bytes":0}}
    ],"summary":{"sessions":2,"chunks":2,"bytes":120,"redacted":true,"redactions":{}},
    "checksum":"sha256:<hex>"}

A chunk's bytes are in ``text`` when they are valid UTF-8, else in ``base64``. The
checksum is the SHA-256 of every byte before the last line. Runs come after the
chunks because redaction can drop lines (a PEM key block) and so renumber them; a
chunk's numbering always matches its own data. ``storage.transfer.importer`` reads it.
"""

from __future__ import annotations

import base64
import errno
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from storage.engine.schema import SCHEMA_VERSION
from storage.models import OutputChunk, Run, Session
from storage.transfer.redaction import Redaction, output_chunks
from storage.transfer.sink import Sink, dumps
from storage.transfer.transcript import write_transcript

if TYPE_CHECKING:
    from storage.engine.store import Store
    from storage.redact import Redactor

FORMAT_ID = "tether.export/1"
FORMATS = ("json", "md", "txt", "jsonl")
EXTENSIONS = {
    ".json": "json",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".log": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
MAX_CHUNK_BYTES = 1024 * 1024
"""Largest chunk a ``tether.export/1`` document may hold (storage writes 64 KiB)."""

Progress = Callable[[int, int], Any]  # (output bytes done, output bytes in all)


def format_for_path(path: str) -> str | None:
    """The export format a file name asks for (``out.md`` -> ``md``), or None."""
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


@dataclass(frozen=True)
class ExportResult:
    sessions: int
    chunks: int
    output_bytes: int  # output bytes read from the store
    written: int  # bytes written
    redacted: bool
    redactions: dict[str, int] = field(default_factory=dict)  # kind -> count

    @property
    def redaction_total(self) -> int:
        return sum(self.redactions.values())

    def redaction_text(self) -> str:
        """``3 secrets redacted (2 aws-access-key-id, 1 jwt)``, for messages."""
        if not self.redacted:
            return "redaction off: secrets in the output were kept"
        n = self.redaction_total
        if n == 0:
            return "no secrets found to redact"
        kinds = ", ".join(f"{count} {kind}" for kind, count in self.redactions.items())
        return f"{n} secret{'s' * (n != 1)} redacted ({kinds})"


def session_record(session: Session, redaction: Redaction) -> dict[str, Any]:
    """The metadata of a session as exported (no local id, pid, counters or trash)."""
    redaction.learn(session)
    env = session.env
    return {
        "uid": session.uid,
        "name": redaction.text(session.name),
        "argv": redaction.argv(session.argv),
        "cwd": session.cwd,
        "env": {k: redaction.env_value(k, v) for k, v in env.items()} if env is not None else None,
        "mode": session.mode,
        "status": session.status,
        "exit_code": session.exit_code,
        "signal": session.signal,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "last_output_at": session.last_output_at,
        "notes": redaction.text(session.notes),
        "context": redaction.json_value(session.context),
        "pinned": session.pinned,
        "tags": list(session.tags),
        "resume_argv": (
            redaction.argv(session.resume_argv) if session.resume_argv is not None else None
        ),
    }


def run_record(run: Run, first_line: int, redaction: Redaction) -> dict[str, Any]:
    return {
        "number": run.number,
        "argv": redaction.argv(run.argv),
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "exit_code": run.exit_code,
        "signal": run.signal,
        "status": run.status,
        "first_line": first_line,
    }


def chunk_record(chunk: OutputChunk, first_line: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "run": chunk.run,
        "stream": chunk.stream,
        "first_line": first_line,
        "line_count": chunk.line_count,
        "open_end": chunk.open_end,
        "first_at": chunk.first_at,
        "last_at": chunk.last_at,
    }
    try:
        record["text"] = chunk.data.decode("utf-8")
    except UnicodeDecodeError:
        record["base64"] = base64.b64encode(chunk.data).decode("ascii")
    return record


async def _write_json_session(
    store: Store, session: Session, sink: Sink, redaction: Redaction, on_chunk: Any, first: bool
) -> tuple[int, int]:
    """One session's lines; returns (chunks, bytes) written."""
    record = dumps(session_record(session, redaction))
    sink.line(("" if first else ",") + '{"session":' + record + ',"chunks":[')
    runs = await store.runs.list(session.id)
    # Where each run starts in the exported numbering (redaction may drop lines).
    starts: dict[int, int] = {}
    pending = list(runs)
    line = chunks = size = 0
    async for chunk in output_chunks(store, session.id, redaction, on_chunk):
        # A run starts a new chunk, at its stored first line.
        while pending and pending[0].first_line <= chunk.first_line:
            starts[pending.pop(0).number] = line
        sink.line(("," if chunks else "") + dumps(chunk_record(chunk, line)))
        line += chunk.line_count
        chunks += 1
        size += len(chunk.data)
    run_list = [run_record(r, starts.get(r.number, line), redaction) for r in runs]
    summary = {"chunks": chunks, "lines": line, "bytes": size}
    sink.line('],"runs":' + dumps(run_list) + ',"summary":' + dumps(summary) + "}")
    return chunks, size


async def export_sessions(
    store: Store,
    session_ids: Iterable[int],
    out: BinaryIO,
    *,
    fmt: str = "json",
    redactor: Redactor | None = None,
    progress: Progress | None = None,
    now: float | None = None,
) -> ExportResult:
    """Write the sessions (in the order given) to ``out`` in ``fmt``, redacting with
    ``redactor`` unless it is None. Raises ``SessionNotFound`` for an unknown id before
    anything is written. ``progress(done, total)`` is called per chunk, in bytes."""
    from storage.errors import SessionNotFound

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    ids = list(dict.fromkeys(session_ids))
    found = {s.id: s for s in await store.sessions.list(ids=ids, include_deleted=True)}
    for sid in ids:
        if sid not in found:
            raise SessionNotFound(sid)
    sessions = [found[sid] for sid in ids]
    total = sum(s.output_bytes for s in sessions)
    done = 0

    def on_chunk(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, max(total, done))

    redaction = Redaction(redactor)
    sink = Sink(out)
    chunks = 0
    if fmt == "json":
        header = {
            "format": FORMAT_ID,
            "schema_version": SCHEMA_VERSION,
            "exported_at": time.time() if now is None else now,
            "redacted": redaction.on,
        }
        sink.line(dumps(header)[:-1] + ',"sessions":[')
        size = 0
        for i, session in enumerate(sessions):
            n, b = await _write_json_session(store, session, sink, redaction, on_chunk, i == 0)
            chunks, size = chunks + n, size + b
        summary = {
            "sessions": len(sessions),
            "chunks": chunks,
            "bytes": size,
            "redacted": redaction.on,
            "redactions": dict(sorted(redaction.counts.items())),
        }
        sink.line('],"summary":' + dumps(summary) + ",")
        sink.hashing = False
        sink.line('"checksum":' + dumps("sha256:" + sink.sha.hexdigest()) + "}")
    else:
        chunks = await write_transcript(store, sessions, sink, fmt, redaction, on_chunk)
    if progress is not None:
        progress(done, max(total, done))
    return ExportResult(
        sessions=len(sessions),
        chunks=chunks,
        output_bytes=done,
        written=sink.written,
        redacted=redaction.on,
        redactions=dict(sorted(redaction.counts.items())),
    )


async def export_to_file(
    store: Store,
    session_ids: Iterable[int],
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    redactor: Redactor | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """``export_sessions`` into ``path``: created 0600, written to a temporary file
    beside it and renamed over it only once complete (a failed export leaves no
    half-written file; see ``storage.files``). A symlink at ``path`` is replaced, never
    written through. A path that is an existing device or pipe (``/dev/stdout``) is
    written into directly. ``fmt`` defaults to the one the file name asks for."""
    import stat

    from storage.files import atomic_write

    target = Path(path).expanduser()
    fmt = fmt or format_for_path(str(target))
    if fmt is None:
        raise ValueError(
            f"cannot tell the format from the name {target.name!r}; use the extension "
            ".json, .md, .txt or .jsonl, or give the format"
        )
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        # /dev/stdout, a pipe, a terminal: write into it (renaming over it would
        # replace the device itself). Never created nor truncated, and refused if it
        # turned into a regular file meanwhile (a link swapped in).
        fd = os.open(target, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise FileExistsError(errno.EEXIST, "it changed into a regular file", str(target))
        with os.fdopen(fd, "wb") as f:
            return await export_sessions(
                store, session_ids, f, fmt=fmt, redactor=redactor, progress=progress
            )
    with atomic_write(target) as f:
        return await export_sessions(
            store, session_ids, f, fmt=fmt, redactor=redactor, progress=progress
        )


async def matching_sessions(store: Store, query: Any) -> list[int]:
    """Ids (oldest first) of the sessions a search query matches: its filters, and its
    words in their output or metadata. ``query`` is a parsed ``storage.query.Query``."""
    from storage.engine.search.core import search
    from storage.engine.search.filters import filter_session_ids

    if not query.has_text:
        return sorted(await filter_session_ids(store, query))
    found: set[int] = set()
    page: str | None = None
    while True:
        results = await search(store, query, limit=500, page=page, counts=False)
        found.update(g.session.id for g in results.groups)
        page = results.next_page
        if page is None:
            return sorted(found)
