"""Reading a ``tether.export/1`` document (see ``storage.transfer.export``), line by line.

``ExportReader.events()`` yields the header, each session's metadata, its chunks and
its runs, checking everything as it goes: the layout, JSON types, sizes, uids,
statuses, streams, line numbering, run numbers, the summaries and finally the
checksum. Any problem raises ``ImportRejected`` naming it and where it is (line,
byte offset, session uid). Memory stays bounded: one line at a time, and no line
may be longer than ``MAX_LINE``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn

from storage.engine.chunks import count_lines
from storage.engine.schema import SCHEMA_VERSION
from storage.errors import ImportRejected
from storage.models import STATUSES, STREAMS
from storage.transfer.export import FORMAT_ID, MAX_CHUNK_BYTES

MAX_LINE = 16 * 1024 * 1024  # a session's metadata, or one chunk (escaped or base64)
MAX_HEADER = 64 * 1024
MAX_TEXT = 1024 * 1024  # any one string of metadata
MAX_ITEMS = 100_000  # argv, tags, runs, env entries
MAX_INT = 2**63 - 1
MAX_TIME = 1e11  # seconds since 1970: the year 5138

_UID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
_FORMAT = re.compile(r'\{\s*"format"\s*:\s*"([^"\\]{0,100})"')
_CHECKSUM = re.compile(r"sha256:[0-9a-f]{64}")
_HEADER_END = ',"sessions":['
_SESSION_END = ',"chunks":['

SESSION_KEYS = (
    "uid",
    "name",
    "argv",
    "cwd",
    "env",
    "mode",
    "status",
    "exit_code",
    "signal",
    "created_at",
    "updated_at",
    "started_at",
    "ended_at",
    "last_output_at",
    "notes",
    "context",
    "pinned",
    "tags",
    "resume_argv",
)
CHUNK_KEYS = ("run", "stream", "first_line", "line_count", "open_end", "first_at", "last_at")
RUN_KEYS = (
    "number",
    "argv",
    "started_at",
    "ended_at",
    "exit_code",
    "signal",
    "status",
    "first_line",
)


@dataclass(frozen=True)
class Header:
    schema_version: int
    exported_at: float
    redacted: bool


@dataclass(frozen=True)
class SessionRecord:
    uid: str
    name: str
    argv: tuple[str, ...]
    cwd: str
    env: dict[str, str] | None
    mode: str
    status: str
    exit_code: int | None
    signal: int | None
    created_at: float
    updated_at: float
    started_at: float | None
    ended_at: float | None
    last_output_at: float | None
    notes: str
    context: Any
    pinned: bool
    tags: tuple[str, ...]
    resume_argv: tuple[str, ...] | None

    @property
    def label(self) -> str:
        import shlex

        return self.name or shlex.join(self.argv)


@dataclass(frozen=True)
class ChunkRecord:
    run: int
    stream: str
    first_line: int
    line_count: int
    open_end: bool
    first_at: float
    last_at: float
    data: bytes


@dataclass(frozen=True)
class RunRecord:
    number: int
    argv: tuple[str, ...]
    started_at: float
    ended_at: float | None
    exit_code: int | None
    signal: int | None
    status: str | None
    first_line: int


@dataclass(frozen=True)
class SessionEnd:
    record: SessionRecord
    runs: tuple[RunRecord, ...]
    chunks: int
    lines: int
    bytes: int


@dataclass(frozen=True)
class End:
    sessions: int
    chunks: int
    bytes: int
    redactions: dict[str, int]


Event = Header | SessionRecord | ChunkRecord | SessionEnd | End


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice")
        out[key] = value
    return out


class ExportReader:
    """Reads and checks one export, line by line (see the module doc)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.line_no = 0
        self.offset = 0  # where the current line starts
        self.pos = 0  # bytes read so far
        self.uid: str | None = None
        self.sha = hashlib.sha256()

    # -- errors and raw lines -------------------------------------------------------------
    def where(self) -> str:
        place = f"line {self.line_no} (byte {self.offset})"
        return place + (f", session {self.uid}" if self.uid else "")

    def reject(self, message: str) -> NoReturn:
        raise ImportRejected(message, self.where())

    def _line(self, *, hashed: bool = True, limit: int = MAX_LINE) -> str | None:
        data = self.f.readline(limit + 1)
        self.line_no += 1
        self.offset = self.pos
        self.pos += len(data)
        if not data:
            return None
        if len(data) > limit:
            self.reject(
                f"the line is longer than {limit} bytes: this is not a tether export, "
                "or it is damaged"
            )
        if data.endswith(b"\n"):
            data = data[:-1]
        elif hashed:
            self.reject("the file ends in the middle of this line: it is truncated")
        if hashed:
            self.sha.update(data + b"\n")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            self.offset += e.start
            self.reject("this is not UTF-8 text: the file is binary or damaged")

    def _need(self, line: str | None, what: str) -> str:
        if line is None:
            self.reject(f"the file ends here, where {what} should be: it is truncated")
        return line

    def _json(self, text: str, shift: int = 0) -> Any:
        """Parse ``text``; ``shift`` is how many characters of it are not on the line."""
        try:
            return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as e:
            col = max(1, e.pos - shift + 1)
            self.reject(f"invalid JSON at column {col}: {e.msg}")
        except ValueError as e:
            self.reject(f"invalid JSON: {e}")
        except RecursionError:
            self.reject("invalid JSON: nested too deeply")

    # -- the document -----------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Every record of the document in order; the last is ``End``, yielded only
        once the checksum matched."""
        header = self._header()
        yield header
        sessions = chunks = size = 0
        seen: set[str] = set()
        while True:
            line = self._need(self._line(), "a session or the end of the session list")
            if line.startswith("],"):
                break
            prefix = '{"session":' if sessions == 0 else ',{"session":'
            if not (line.startswith(prefix) and line.endswith(_SESSION_END)):
                self.reject(
                    f"expected a session record ({prefix}...) or the end of the session list"
                )
            meta = self._json(line[len(prefix) : -len(_SESSION_END)], -len(prefix))
            record = self._session(meta)
            if record.uid in seen:
                self.reject(f"the session uid {record.uid} appears twice in the file")
            seen.add(record.uid)
            self.uid = record.uid
            yield record
            end = yield from self._chunks(record)
            yield end
            sessions += 1
            chunks += end.chunks
            size += end.bytes
            self.uid = None
        summary = self._obj(self._json("{" + line[2:].removesuffix(",") + "}", -1), ("summary",))
        redactions = self._summary(summary["summary"], sessions, chunks, size, header.redacted)
        if not line.endswith(","):
            self.reject('the end of the session list must end with "," before the checksum')
        self._checksum()
        yield End(sessions, chunks, size, redactions)

    def _header(self) -> Header:
        line = self._need(self._line(limit=MAX_HEADER), "the header")
        m = _FORMAT.match(line)
        if m is None:
            hint = (
                " (an export that was reformatted cannot be read; export it again)"
                if line.lstrip().startswith(("{", "["))
                else ""
            )
            self.reject('this is not a tether export: it does not start with {"format":...' + hint)
        found = m.group(1)
        if found != FORMAT_ID:
            version = found.removeprefix("tether.export/")
            if found.startswith("tether.export/") and version.isdigit() and int(version) > 1:
                self.reject(
                    f"this export has format {found}, made by a newer tether; this one "
                    f"reads {FORMAT_ID}. Upgrade tether to import it"
                )
            self.reject(f"unknown export format {found!r}; expected {FORMAT_ID}")
        if not line.endswith(_HEADER_END):
            self.reject(f"the header does not end with {_HEADER_END!r}: the layout was changed")
        head = self._obj(
            self._json(line[: -len(_HEADER_END)] + "}"),
            ("format", "schema_version", "exported_at", "redacted"),
            "header",
        )
        version = self._int(head["schema_version"], "schema_version", 1, MAX_INT)
        # Any older version is read: the layout is the format's (tether.export/1), and a
        # schema step that changes what an export holds must change the format too (v3
        # added who supervises a run: local, never exported).
        if version > SCHEMA_VERSION:
            self.reject(
                f"exported from a newer database (schema version {version}); this tether "
                f"understands up to {SCHEMA_VERSION}. Upgrade tether to import it"
            )
        return Header(
            version,
            self._time(head["exported_at"], "exported_at"),
            self._bool(head["redacted"], "redacted"),
        )

    def _chunks(self, record: SessionRecord) -> Iterator[ChunkRecord | SessionEnd]:
        n = lines = size = top_run = 0
        while True:
            line = self._need(self._line(), "a chunk or the end of the session")
            if line.startswith('],"runs":'):
                break
            text = line if n == 0 else (line[1:] if line.startswith(",") else None)
            if text is None or not text.startswith("{"):
                self.reject("expected an output chunk ({...}) or the end of the session's chunks")
            chunk = self._chunk(self._json(text, len(text) - len(line)), lines)
            yield chunk
            n += 1
            lines += chunk.line_count
            size += len(chunk.data)
            top_run = max(top_run, chunk.run)
        tail = self._obj(self._json("{" + line[2:], -1), ("runs", "summary"), "session end")
        runs = self._runs(tail["runs"], lines)
        if top_run > len(runs):
            self.reject(f"output belongs to run {top_run}, but the session has {len(runs)} runs")
        self._totals(tail["summary"], {"chunks": n, "lines": lines, "bytes": size}, "session")
        return SessionEnd(record, runs, n, lines, size)

    def _checksum(self) -> None:
        expected = "sha256:" + self.sha.hexdigest()
        line = self._need(self._line(hashed=False, limit=MAX_HEADER), "the checksum")
        value = self._obj(self._json("{" + line, 1), ("checksum",), "checksum")["checksum"]
        if not isinstance(value, str) or not _CHECKSUM.fullmatch(value):
            self.reject('the checksum must be "sha256:" and 64 lowercase hex digits')
        if value != expected:
            self.reject(
                "the checksum does not match the content: the file was changed or damaged "
                f"after it was exported (it says {value}, the content gives {expected})"
            )
        rest = self.f.read(MAX_HEADER + 1)
        if len(rest) > MAX_HEADER or rest.strip(b" \t\r\n"):
            self.line_no += 1
            self.offset = self.pos
            self.reject("unexpected data after the end of the document")

    # -- records ------------------------------------------------------------------------------
    def _session(self, meta: Any) -> SessionRecord:
        uid = meta.get("uid") if isinstance(meta, dict) else None
        if isinstance(uid, str) and _UID.fullmatch(uid):
            self.uid = uid  # name the session in the messages that follow
        m = self._obj(meta, SESSION_KEYS, "session")
        uid = m["uid"]
        if not isinstance(uid, str) or not _UID.fullmatch(uid):
            self.reject(f"invalid session uid {uid!r}: 1 to 64 letters, digits, '-' or '_'")
        self.uid = uid
        env = m["env"]
        if env is not None:
            if not isinstance(env, dict) or len(env) > MAX_ITEMS:
                self.reject("env must be an object of string overrides, or null")
            for k, v in env.items():
                self._str(k, "an env name", nonempty=True)
                self._str(v, f"env {k}")
        tags = self._strs(m["tags"], "tags", empty_ok=True)
        for tag in tags:
            if not tag or any(c.isspace() for c in tag) or "," in tag:
                self.reject(f"invalid tag {tag!r}: tags are single words without commas")
        if len(set(tags)) != len(tags):
            self.reject("a tag appears twice")
        if m["mode"] not in ("pipe", "pty"):
            self.reject(f"mode must be 'pipe' or 'pty', not {m['mode']!r}")
        if m["status"] not in STATUSES:
            self.reject(f"unknown status {m['status']!r}; expected one of {', '.join(STATUSES)}")
        resume = m["resume_argv"]
        return SessionRecord(
            uid=uid,
            name=self._str(m["name"], "name"),
            argv=self._strs(m["argv"], "argv"),
            cwd=self._str(m["cwd"], "cwd", nonempty=True),
            env=dict(env) if env else None,
            mode=m["mode"],
            status=m["status"],
            exit_code=self._opt_int(m["exit_code"], "exit_code"),
            signal=self._opt_int(m["signal"], "signal"),
            created_at=self._time(m["created_at"], "created_at"),
            updated_at=self._time(m["updated_at"], "updated_at"),
            started_at=self._opt_time(m["started_at"], "started_at"),
            ended_at=self._opt_time(m["ended_at"], "ended_at"),
            last_output_at=self._opt_time(m["last_output_at"], "last_output_at"),
            notes=self._str(m["notes"], "notes"),
            context=m["context"],
            pinned=self._bool(m["pinned"], "pinned"),
            tags=tags,
            resume_argv=self._strs(resume, "resume_argv") if resume is not None else None,
        )

    def _chunk(self, value: Any, expected_line: int) -> ChunkRecord:
        if not isinstance(value, dict):
            self.reject("an output chunk must be a JSON object")
        kinds = [k for k in ("text", "base64") if k in value]
        if len(kinds) != 1:
            self.reject("an output chunk needs exactly one of 'text' and 'base64'")
        c = self._obj(value, (*CHUNK_KEYS, kinds[0]), "output chunk")
        if kinds[0] == "text":
            text = self._str(c["text"], "text", limit=MAX_CHUNK_BYTES)
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:
                self.reject("the chunk's text holds a lone surrogate: it cannot be UTF-8 bytes")
        else:
            raw = self._str(c["base64"], "base64", limit=MAX_CHUNK_BYTES * 2)
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                self.reject("the chunk's base64 is not valid base64")
        if not data:
            self.reject("an output chunk holds no bytes")
        if len(data) > MAX_CHUNK_BYTES:
            self.reject(f"an output chunk holds more than {MAX_CHUNK_BYTES} bytes")
        if c["stream"] not in STREAMS:
            self.reject(f"unknown stream {c['stream']!r}; expected one of {', '.join(STREAMS)}")
        first = self._int(c["first_line"], "first_line", 0, MAX_INT)
        count = self._int(c["line_count"], "line_count", 1, MAX_INT)
        open_end = self._bool(c["open_end"], "open_end")
        if first != expected_line:
            self.reject(
                f"the chunk starts at line {first}, but the previous ends at line "
                f"{expected_line}: lines are missing or repeated"
            )
        if count != count_lines(data):
            self.reject(
                f"the chunk says it holds {count} lines, its data holds {count_lines(data)}"
            )
        if open_end != (not data.endswith(b"\n")):
            self.reject("open_end does not match the data (whether it ends with a newline)")
        return ChunkRecord(
            run=self._int(c["run"], "run", 0, 2**31),
            stream=c["stream"],
            first_line=first,
            line_count=count,
            open_end=open_end,
            first_at=self._time(c["first_at"], "first_at"),
            last_at=self._time(c["last_at"], "last_at"),
            data=data,
        )

    def _runs(self, value: Any, lines: int) -> tuple[RunRecord, ...]:
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            self.reject("runs must be a list")
        runs: list[RunRecord] = []
        for i, item in enumerate(value, 1):
            r = self._obj(item, RUN_KEYS, f"run {i}")
            number = self._int(r["number"], "run number", 1, MAX_INT)
            if number != i:
                self.reject(f"run {i} is numbered {number}: runs are numbered 1, 2, 3...")
            first = self._int(r["first_line"], f"run {i} first_line", 0, lines)
            if runs and first < runs[-1].first_line:
                self.reject(f"run {i} starts before run {i - 1}")
            status = r["status"]
            if status is not None and status not in STATUSES:
                self.reject(f"unknown status {status!r} of run {i}")
            runs.append(
                RunRecord(
                    number=number,
                    argv=self._strs(r["argv"], f"run {i} argv"),
                    started_at=self._time(r["started_at"], f"run {i} started_at"),
                    ended_at=self._opt_time(r["ended_at"], f"run {i} ended_at"),
                    exit_code=self._opt_int(r["exit_code"], f"run {i} exit_code"),
                    signal=self._opt_int(r["signal"], f"run {i} signal"),
                    status=status,
                    first_line=first,
                )
            )
        return tuple(runs)

    def _totals(self, value: Any, counted: dict[str, int], what: str) -> None:
        given = self._obj(value, tuple(counted), f"{what} summary")
        for key, n in counted.items():
            if self._int(given[key], key, 0, MAX_INT) != n:
                self.reject(f"the {what} summary says {given[key]} {key}, the file holds {n}")

    def _summary(
        self, value: Any, sessions: int, chunks: int, size: int, redacted: bool
    ) -> dict[str, int]:
        keys = ("sessions", "chunks", "bytes", "redacted", "redactions")
        s = self._obj(value, keys, "summary")
        counted = {"sessions": sessions, "chunks": chunks, "bytes": size}
        self._totals({k: s[k] for k in counted}, counted, "document")
        if self._bool(s["redacted"], "redacted") != redacted:
            self.reject("the summary and the header disagree on whether it was redacted")
        kinds = s["redactions"]
        if not isinstance(kinds, dict):
            self.reject("redactions must be an object of counts")
        return {k: self._int(v, f"redactions {k}", 0, MAX_INT) for k, v in kinds.items()}

    # -- types --------------------------------------------------------------------------------
    def _obj(self, value: Any, keys: tuple[str, ...], what: str = "record") -> dict[str, Any]:
        if not isinstance(value, dict):
            self.reject(f"the {what} must be a JSON object")
        for key in keys:
            if key not in value:
                self.reject(f"the {what} has no {key!r}")
        for key in value:
            if key not in keys:
                self.reject(f"unknown field {key!r} in the {what}")
        return value

    def _int(self, value: Any, name: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.reject(f"{name} must be a whole number, not {_show(value)}")
        if not lo <= value <= hi:
            self.reject(f"{name} is {value}; it must be between {lo} and {hi}")
        return value

    def _opt_int(self, value: Any, name: str) -> int | None:
        return None if value is None else self._int(value, name, -(2**63), MAX_INT)

    def _time(self, value: Any, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.reject(f"{name} must be a time in seconds, not {_show(value)}")
        if not (math.isfinite(value) and 0 <= value <= MAX_TIME):
            self.reject(f"{name} is {value}, not a plausible time")
        return float(value)

    def _opt_time(self, value: Any, name: str) -> float | None:
        return None if value is None else self._time(value, name)

    def _bool(self, value: Any, name: str) -> bool:
        if not isinstance(value, bool):
            self.reject(f"{name} must be true or false, not {_show(value)}")
        return value

    def _str(self, value: Any, name: str, *, nonempty: bool = False, limit: int = MAX_TEXT) -> str:
        if not isinstance(value, str):
            self.reject(f"{name} must be a string, not {_show(value)}")
        if nonempty and not value:
            self.reject(f"{name} must not be empty")
        if len(value) > limit:
            self.reject(f"{name} is longer than {limit} characters")
        return value

    def _strs(self, value: Any, name: str, *, empty_ok: bool = False) -> tuple[str, ...]:
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            self.reject(f"{name} must be a list of strings")
        if not value and not empty_ok:
            self.reject(f"{name} must not be empty")
        return tuple(self._str(v, f"an item of {name}") for v in value)


def _show(value: Any) -> str:
    text = json.dumps(value)[:40] if not isinstance(value, str) else repr(value[:40])
    return f"{type(value).__name__} {text}"
