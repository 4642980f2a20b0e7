"""Transcript exports: ``md`` (readable, metadata then fenced output per run), ``txt``
(plain output) and ``jsonl`` (one object per output line, for other tools).

All three show text, not bytes: decoded, escape sequences and control characters
removed, carriage returns collapsed the way a terminal shows the line (so a
transcript is also safe to print to a terminal). Called by ``export.export_sessions``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage.models import OutputChunk, Run, Session
from storage.text import plain
from storage.transfer.redaction import Redaction, output_chunks
from storage.transfer.sink import Sink, dumps
from storage.units import format_duration_spaced

if TYPE_CHECKING:
    from storage.engine.store import Store

# Anything ``plain`` would change: C0 controls but tab and newline, DEL, C1, and ESC.
_NEEDS_PLAIN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BACKTICKS = re.compile(r"`+")


# Bytes that never need cleaning: printable ASCII, tab, newline, and UTF-8 bytes (the
# C1 controls U+0080-U+009F are encoded as \xc2\x80-\xc2\x9f: checked apart).
_FINE_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n" + bytes(range(0x80, 0x100))


def plain_block(data: bytes) -> str:
    """The plain text of whole lines (the last may be unterminated)."""
    text = data.decode("utf-8", "replace")
    if not data.translate(None, _FINE_BYTES) and (
        b"\xc2" not in data or not _NEEDS_PLAIN.search(text)
    ):
        return text  # the common case, found without a regex over the text
    return "\n".join(plain(line) for line in text.split("\n"))


def _longest_backticks(text: str) -> int:
    return max((len(m) for m in _BACKTICKS.findall(text)), default=0) if "`" in text else 0


def _break(last: OutputChunk | None, chunk: OutputChunk) -> bytes:
    """A newline after an unterminated line, unless ``chunk`` continues that same line
    (a line longer than a chunk); output of another stream starts a line of its own."""
    if last is None or not last.open_end:
        return b""
    return b"" if (last.stream, last.run) == (chunk.stream, chunk.run) else b"\n"


def _safe(text: str) -> str:
    """One line of metadata: no controls, no line breaks."""
    return " ".join(plain(part) for part in text.splitlines()) if text else ""


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def md_code(text: str) -> str:
    """Inline code that survives backticks inside it."""
    text = _safe(text)
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _outcome(status: str | None, exit_code: int | None, signal: int | None) -> str:
    parts = [status or "unknown"]
    if exit_code is not None:
        parts.append(f"exit {exit_code}")
    if signal is not None:
        parts.append(f"signal {signal}")
    return ", ".join(parts)


async def write_transcript(
    store: Store,
    sessions: list[Session],
    sink: Sink,
    fmt: str,
    redaction: Redaction,
    on_chunk: Callable[[int], Any],
) -> int:
    """Write ``sessions`` as ``md``, ``txt`` or ``jsonl``; returns the chunks written."""
    chunks = 0
    for i, session in enumerate(sessions):
        redaction.learn(session)
        if fmt == "md":
            chunks += await _markdown(store, session, sink, redaction, on_chunk, i == 0)
        elif fmt == "txt":
            if len(sessions) > 1:
                label = _safe(redaction.text(session.label))
                sink.line(("\n" if i else "") + f"==> #{session.id} {label} <==")
            chunks += await _text(store, session, sink, redaction, on_chunk)
        else:
            chunks += await _jsonl(store, session, sink, redaction, on_chunk)
    return chunks


async def _text(
    store: Store, session: Session, sink: Sink, redaction: Redaction, on_chunk: Any
) -> int:
    n = 0
    last: OutputChunk | None = None
    async for chunk in output_chunks(store, session.id, redaction, on_chunk):
        sink.write(_break(last, chunk) + plain_block(chunk.data).encode("utf-8", "surrogatepass"))
        last, n = chunk, n + 1
    if last is not None and last.open_end:
        sink.write(b"\n")
    return n


async def _jsonl(
    store: Store, session: Session, sink: Sink, redaction: Redaction, on_chunk: Any
) -> int:
    n = 0
    uid = json.dumps(session.uid)
    async for chunk in output_chunks(store, session.id, redaction, on_chunk):
        # One line per object: the fixed fields once per chunk, the text per line.
        head = f'{{"session":{uid},"line":'
        tail = f',"run":{chunk.run},"stream":"{chunk.stream}","ts":{dumps(chunk.first_at)},"text":'
        lines = plain_block(chunk.data).split("\n")
        if not chunk.open_end:
            lines.pop()
        first = chunk.first_line + 1  # 1-based, as tether shows it
        sink.write(
            "".join(
                f"{head}{first + i}{tail}{dumps(text)}}}\n" for i, text in enumerate(lines)
            ).encode("utf-8", "surrogatepass")
        )
        n += 1
    return n


def _header(session: Session, redaction: Redaction) -> list[str]:
    r = redaction
    command = shlex.join(r.argv(session.argv))
    title = _safe(r.text(session.name)) or command
    out = [f"# #{session.id} {_safe(title)}", ""]
    out.append(f"- **Command:** {md_code(command)}")
    out.append(f"- **Directory:** {md_code(session.cwd)}")
    out.append(f"- **Status:** {_outcome(session.status, session.exit_code, session.signal)}")
    out.append(f"- **Mode:** {session.mode}")
    out.append(f"- **Created:** {_when(session.created_at)}")
    if session.started_at is not None:
        # How long the latest run took, as everywhere else (not since the first start).
        took = ""
        if session.ended_at is not None:
            took = f" ({format_duration_spaced(session.duration(session.ended_at) or 0.0)})"
        out.append(f"- **Started:** {_when(session.started_at)}")
        out.append(f"- **Ended:** {_when(session.ended_at)}{took}")
    if session.tags:
        out.append("- **Tags:** " + " ".join(md_code(t) for t in session.tags))
    if session.env:
        pairs = [f"{k}={r.env_value(k, v)}" for k, v in session.env.items()]
        out.append("- **Environment:** " + " ".join(md_code(p) for p in pairs))
    if session.resume_argv:
        out.append(f"- **Resume command:** {md_code(shlex.join(r.argv(session.resume_argv)))}")
    if session.context is not None:
        out.append(f"- **Context:** {md_code(json.dumps(r.json_value(session.context)))}")
    if session.pinned:
        out.append("- **Pinned**")
    out.append(f"- **uid:** {md_code(session.uid)}")
    notes = r.text(session.notes).strip()
    if notes:
        out += ["", "## Notes", ""]
        out += ["> " + plain(line) if line.strip() else ">" for line in notes.splitlines()]
    return out


def _run_heading(number: int, run: Run | None, redaction: Redaction) -> str:
    if number == 0 or run is None:
        return "## Output before the first run" if number == 0 else f"## Run {number}"
    parts = [f"## Run {number}", _when(run.started_at)]
    parts.append(md_code(shlex.join(redaction.argv(run.argv))))
    parts.append(_outcome(run.status or "running", run.exit_code, run.signal))
    if run.ended_at is not None:
        parts.append(format_duration_spaced(run.ended_at - run.started_at))
    return " · ".join(parts)


async def _markdown(
    store: Store,
    session: Session,
    sink: Sink,
    redaction: Redaction,
    on_chunk: Any,
    first: bool,
) -> int:
    # Pass 1: the longest backtick run of each group of chunks (a run's output), so
    # that each fence is longer than anything inside it. A scratch Redaction: the
    # same text, without counting its secrets twice.
    fences: list[int] = []
    seen, current = 0, None
    scratch = redaction.scratch()
    async for chunk in output_chunks(store, session.id, scratch, lambda n: None):
        if chunk.run != current:
            fences.append(3)
            current = chunk.run
        fences[-1] = max(fences[-1], _longest_backticks(plain_block(chunk.data)) + 1)
        seen += 1

    lines = ([] if first else ["", "---", ""]) + _header(session, redaction)
    sink.line("\n".join(lines))
    runs = {r.number: r for r in await store.runs.list(session.id)}
    group, current, fence, n = -1, None, "", 0
    last: OutputChunk | None = None
    async for chunk in output_chunks(store, session.id, redaction, on_chunk):
        if n == seen:
            continue  # a live session grew since pass 1: stop where fences were measured
        if chunk.run != current:
            if fence:
                sink.write(("\n" if last and last.open_end else "").encode() + fence.encode())
                sink.write(b"\n")
            group, current = group + 1, chunk.run
            fence = "`" * fences[group]
            sink.line("\n" + _run_heading(chunk.run, runs.get(chunk.run), redaction) + "\n")
            sink.line(fence + "text")
        elif last is not None:
            sink.write(_break(last, chunk))
        sink.write(plain_block(chunk.data).encode("utf-8", "surrogatepass"))
        last, n = chunk, n + 1
    if fence:
        sink.line(("\n" if last and last.open_end else "") + fence)
    else:
        sink.line("\n_No output._")
    return n
