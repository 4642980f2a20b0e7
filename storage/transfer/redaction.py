"""Redaction for exports: ``Redaction`` applies a ``Redactor`` to a session's metadata
(argv, env, notes, context...) and learns the values that are secrets only by their
name; ``output_chunks`` streams a session's output chunks through per-stream
redactors. Used by ``storage.transfer.export`` and ``storage.transfer.transcript``."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from storage.engine.chunks import count_lines
from storage.models import OutputChunk, Session

if TYPE_CHECKING:
    from storage.engine.store import Store
    from storage.redact import Redactor, StreamRedactor


class Redaction:
    """Applies one ``Redactor`` (or none) to metadata and output; counts by kind.

    A value that is a secret only because of its name (``DB_PASSWORD`` in env,
    ``--api-key X`` in argv, ``{"token": X}`` in context) is *learned*: from then on
    it is redacted wherever it appears, in output too (a program that echoes its
    arguments, the ``run 2`` separator line that repeats the command)."""

    MIN_LEARNED = 6  # shorter values would be redacted in too many innocent places

    def __init__(self, redactor: Redactor | None, *, learned: set[str] | None = None) -> None:
        self.redactor = redactor
        self.counts: Counter[str] = Counter()
        self.learned: set[str] = set() if learned is None else learned
        self._active = redactor
        self._active_for: frozenset[str] = frozenset()

    @property
    def on(self) -> bool:
        return self.redactor is not None

    def scratch(self) -> Redaction:
        """The same redaction with its own counts (for a pass that writes nothing)."""
        return Redaction(self.redactor, learned=self.learned)

    @property
    def active(self) -> Redactor | None:
        """The redactor plus the learned values, as literal patterns."""
        if self.redactor is None or self.learned == self._active_for:
            return self._active
        from storage.redact import Redactor

        literal = [re.escape(v) for v in sorted(self.learned)]
        self._active = Redactor([*self.redactor.user_patterns, *literal])
        self._active_for = frozenset(self.learned)
        return self._active

    def learn(self, session: Session) -> None:
        """Learn the secret values of a session's env, argv and context."""
        if self.redactor is None:
            return
        from storage.masking import secret_name

        for key, value in (session.env or {}).items():
            if secret_name(key) and len(value) >= self.MIN_LEARNED and "\n" not in value:
                self.learned.add(value)  # echoed in the output: redacted there too
            self._learn(key, value)
        for argv in (session.argv, session.resume_argv or ()):
            for key, value in _option_pairs(argv):
                self._learn(key, value)
        stack = [session.context]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, str):
                        self._learn(str(k), v)
                    else:
                        stack.append(v)
            elif isinstance(value, list):
                stack += value

    def _learn(self, key: str, value: str) -> None:
        if len(value) < self.MIN_LEARNED or "\n" in value or value in self.learned:
            return
        assert self.redactor is not None
        data, kinds = self.redactor.redact_bytes_by_kind(f"{key}={value}".encode())
        if kinds and value.encode() not in data:
            self.learned.add(value)

    def text(self, value: str) -> str:
        redactor = self.active
        if redactor is None or not value:
            return value
        data, kinds = redactor.redact_bytes_by_kind(value.encode("utf-8", "surrogatepass"))
        if not kinds:
            return value
        self.counts.update(kinds)
        return data.decode("utf-8", "replace")

    def pair(self, key: str, value: str) -> str:
        """Redact ``value`` as ``key=value`` (``DB_PASSWORD`` + ``hunter2``), else alone."""
        if self.redactor is None or not value:
            return value
        data, kinds = self.redactor.redact_bytes_by_kind(f"{key}={value}".encode())
        text = data.decode("utf-8", "replace")
        if not kinds or not text.startswith(f"{key}="):
            return self.text(value)
        self.counts.update(kinds)
        return text[len(key) + 1 :]

    def env_value(self, key: str, value: str) -> str:
        """An env override: masked whole when ``storage.masking`` calls it secret (as
        ``tether show`` does), else redacted as ``key=value``."""
        from storage.masking import MASK, secret_name

        if self.redactor is None or not value:
            return value
        redacted = self.pair(key, value)
        if redacted == value and secret_name(key):
            self.counts["env"] += 1
            return MASK
        return redacted

    def argv(self, argv: Iterable[str]) -> list[str]:
        """Each argument, and each ``--option value`` pair (``--api-key abc``)."""
        out: list[str] = []
        prev = ""
        for arg in argv:
            if _is_option(prev) and not arg.startswith("-"):
                out.append(self.pair(prev.lstrip("-"), arg))
            else:
                out.append(self.text(arg))
            prev = arg
        return out

    def json_value(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, str):
            return self.pair(key, value) if key else self.text(value)
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json_value(v, str(k)) for k, v in value.items()}
        return value


def _is_option(arg: str) -> bool:
    return arg.startswith("-") and "=" not in arg and len(arg) > 1


def _option_pairs(argv: Iterable[str]) -> Iterable[tuple[str, str]]:
    prev = ""
    for arg in argv:
        if _is_option(prev) and not arg.startswith("-"):
            yield prev.lstrip("-"), arg
        elif arg.startswith("-") and "=" in arg:
            key, _, value = arg.partition("=")
            yield key.lstrip("-"), value
        prev = arg


async def output_chunks(
    store: Store, session_id: int, redaction: Redaction, on_chunk: Callable[[int], Any]
) -> AsyncIterator[OutputChunk]:
    """A session's chunks in line order, redacted. A redacted chunk's ``line_count``
    and ``open_end`` describe its new data; a chunk redacted to nothing is skipped.

    Each stream has its own streaming redactor, so a secret that spans chunks (a PEM
    block) is still caught. It is flushed after an unterminated line unless the next
    chunk continues that line (a line longer than a chunk), so no text ever moves
    past output of another stream."""
    redactor = redaction.active
    streams: dict[str, StreamRedactor] = {}
    carried: dict[str, float] = {}  # first_at of text held back for the next chunk
    prev: OutputChunk | None = None

    def redact(chunk: OutputChunk, continued: bool) -> OutputChunk | None:
        on_chunk(len(chunk.data))
        if redactor is None:
            return chunk
        sr = streams.get(chunk.stream)
        if sr is None:
            sr = streams[chunk.stream] = redactor.stream()
        data = sr.feed(chunk.data)
        if chunk.open_end and not continued:
            data += sr.flush()
        first_at = carried.pop(chunk.stream, chunk.first_at)
        if sr.pending:
            carried[chunk.stream] = first_at
        if not data:
            return None
        if data == chunk.data:
            return chunk
        return replace(
            chunk,
            data=data,
            first_at=first_at,
            line_count=count_lines(data),
            open_end=not data.endswith(b"\n"),
        )

    async for chunk in store.output.iter_chunks(session_id):
        if prev is not None:
            continued = prev.open_end and chunk.stream == prev.stream and chunk.run == prev.run
            out = redact(prev, continued)
            if out is not None:
                yield out
        prev = chunk
    if prev is not None:
        out = redact(prev, False)
        if out is not None:
            yield out
    for sr in streams.values():
        redaction.counts.update(sr.counts)
