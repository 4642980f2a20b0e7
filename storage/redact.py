"""Secret redaction for exports (and, optionally, capture).

A ``Redactor`` holds the built-in patterns (``storage.secret_patterns``) plus the
user's own (regex strings from config). It replaces each secret with
``[REDACTED:<kind>]``, keeping the context a reader needs: the key of an assignment
(``API_KEY=[REDACTED:assignment]``), the scheme, user and host of a URL (``https://user:[REDACTED:url-password]@host``).

Everything works on raw bytes, so anything that is not a secret (invalid UTF-8,
NUL, ANSI escapes) comes out byte for byte. Matching is line based: a match never
spans a line break, except PEM private key blocks, which a small per-line state
machine follows (header, optional ``Proc-Type:``-style fields, base64 lines, footer).
That is what makes ``StreamRedactor`` exact: it holds back at most the current
unterminated line (bounded by ``max_line``; longer lines are cut at a point chosen
from their content alone), so its output for any split of the input equals
``redact_bytes`` of the whole, with bounded memory.

User patterns are matched against the UTF-8 bytes of one line at a time: ``^`` and
``$`` mean line start and end, ``.`` matches one byte. If a pattern has a group
named ``secret`` only that group is replaced, otherwise the whole match.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from storage.secret_patterns import BUILTIN, PEM_BEGIN, PEM_END, Rule, group_span, rule_starts

MAX_LINE = 64 * 1024
"""Longest line matched whole; longer lines are cut (see ``_cut_point``)."""

MAX_PEM_BODY = 32 * 1024
"""Body bytes after a PEM header still swallowed without a footer (an RSA-16384
key is about 13 KiB). Past this the block ends and later lines are released."""

CUSTOM_KIND = "custom"


class RedactionPatternError(ValueError):
    """A user redaction pattern is not a usable regular expression."""


_PEM_HEADER_AT_END = re.compile(PEM_BEGIN + rb"(?P<trail>[ \t\r]*)\Z")
_PEM_FOOTER = re.compile(rb"[ \t]*" + PEM_END)
_PEM_BODY = re.compile(rb"=?[A-Za-z0-9+/]+={0,2}")
_PEM_FIELD = re.compile(rb"(?:Proc-Type|DEK-Info|Version|Comment|Hash|Charset|MessageID): .*")


def _compile_user(pattern: str) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Compile a user pattern for one line, and a MULTILINE twin to probe blocks."""
    if not isinstance(pattern, str):
        raise RedactionPatternError(f"redaction pattern {pattern!r} must be a string")
    try:
        source = pattern.encode("utf-8")
        line = re.compile(source)
        probe = re.compile(source, re.MULTILINE)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise RedactionPatternError(
            f"invalid redaction pattern {pattern!r}: {exc.msg}{where}; "
            "fix or remove it in config.toml"
        ) from exc
    if line.fullmatch(b"") is not None:
        raise RedactionPatternError(
            f"redaction pattern {pattern!r} matches the empty string, so it would "
            "redact everywhere; make it require at least one character"
        )
    return line, probe


class Redactor:
    """Built-in secret patterns plus the user's own; immutable and shareable."""

    def __init__(self, user_patterns: Iterable[str] = (), *, builtin: bool = True) -> None:
        self._rules: tuple[Rule, ...] = BUILTIN if builtin else ()
        users = [(p, *_compile_user(p)) for p in user_patterns]
        self._user = tuple((line, probe) for _, line, probe in users)
        self.user_patterns: tuple[str, ...] = tuple(p for p, _, _ in users)

    def redact_bytes(self, data: bytes) -> tuple[bytes, int]:
        """Return ``data`` with every secret replaced, and how many were replaced."""
        out, counts = self.redact_bytes_by_kind(data)
        return out, sum(counts.values())

    def redact_bytes_by_kind(self, data: bytes) -> tuple[bytes, dict[str, int]]:
        """Like ``redact_bytes`` but with the number of redactions of each kind."""
        stream = self.stream()
        out = stream.feed(data) + stream.flush()
        return out, stream.counts

    def redact_text(self, text: str) -> tuple[str, int]:
        """Redact a string (through its UTF-8 bytes; lone surrogates survive)."""
        out, n = self.redact_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            return out.decode("utf-8", "surrogatepass"), n
        except UnicodeDecodeError:  # a user pattern cut a character in two
            return out.decode("utf-8", "replace"), n

    def stream(
        self, *, max_line: int = MAX_LINE, max_pem_body: int = MAX_PEM_BODY
    ) -> StreamRedactor:
        """A ``StreamRedactor`` for one output stream using these patterns."""
        return StreamRedactor(self, max_line=max_line, max_pem_body=max_pem_body)

    def _find(self, buf: bytes) -> list[tuple[int, int, int, str]]:
        """Secret spans in ``buf`` (whole lines) as ``(start, priority, end, kind)``."""
        spans: list[tuple[int, int, int, str]] = []
        lower = buf.lower()  # ASCII only: same length, same offsets
        hits: dict[bytes, list[int]] = {}
        for prio, rule in enumerate(self._rules):
            if rule.triggers:
                found = (rule.regex.match(buf, pos) for pos in rule_starts(buf, lower, rule, hits))
            else:
                found = rule.regex.finditer(buf)
            for m in found:
                if m is None or (rule.accept is not None and not rule.accept(m)):
                    continue
                s, e = group_span(m, rule.groups)
                if e > s:
                    spans.append((s, prio, e, rule.kind))
        prio = len(self._rules)
        for line_re, probe in self._user:
            if probe.search(buf) is None:
                continue
            offset = 0
            for line in buf.split(b"\n"):
                for m in line_re.finditer(line):
                    s, e = (
                        group_span(m, ("secret",)) if "secret" in line_re.groupindex else m.span()
                    )
                    if e > s:
                        spans.append((offset + s, prio, offset + e, CUSTOM_KIND))
                offset += len(line) + 1
        return spans

    def _redact(self, buf: bytes, counts: Counter[str]) -> bytes:
        spans = self._find(buf)
        if not spans:
            return buf
        # At one start the most specific kind wins; overlaps merge into one span
        # (never leaving a tail of a secret behind).
        spans.sort()
        merged: list[list] = []
        for s, _, e, kind in spans:
            if merged and s < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e, kind])
        parts, pos = [], 0
        for s, e, kind in merged:
            parts += (buf[pos:s], b"[REDACTED:", kind.encode(), b"]")
            pos = e
            counts[kind] += 1
        parts.append(buf[pos:])
        return b"".join(parts)


@dataclass
class _PemBlock:
    lead: bytes  # what came before ``-----BEGIN`` on the header line
    body_bytes: int = 0
    seen_body: bool = False


def _cut_point(window: bytes) -> int:
    """Where to cut an over-long line: after its last CR, else its last blank, in
    the second half of the window; else at the window end. Depends only on content."""
    half = len(window) // 2
    for sep in (b"\r", b" ", b"\t"):
        i = window.rfind(sep, half)
        if i >= 0:
            return i + 1
    return len(window)


class StreamRedactor:
    """Redacts one output stream fed in chunks of any size.

    ``feed`` returns what can be released so far; ``flush`` ends the stream and
    returns the rest. For any split of the input, the concatenated output equals
    ``Redactor.redact_bytes`` of the whole. At most ``max_line`` bytes (the current
    unterminated line) are held back.
    """

    def __init__(
        self, redactor: Redactor, *, max_line: int = MAX_LINE, max_pem_body: int = MAX_PEM_BODY
    ) -> None:
        if max_line < 2:
            raise ValueError("max_line must be at least 2")
        self._r = redactor
        self._max_line = max_line
        self._max_pem = max_pem_body
        self._tail = b""
        self._pem: _PemBlock | None = None
        self._counts: Counter[str] = Counter()

    @property
    def counts(self) -> dict[str, int]:
        """Redactions so far, by kind."""
        return dict(self._counts)

    @property
    def total(self) -> int:
        """Redactions so far."""
        return sum(self._counts.values())

    @property
    def pending(self) -> int:
        """Bytes held back (never more than ``max_line``)."""
        return len(self._tail)

    def feed(self, data: bytes) -> bytes:
        """Take more input; return the redacted output that is now certain."""
        out: list[bytes] = []
        buf = self._tail + data
        nl = buf.rfind(b"\n")
        if nl >= 0:
            self._block(buf, nl + 1, out)
            buf = buf[nl + 1 :]
        while len(buf) > self._max_line:
            cut = _cut_point(buf[: self._max_line])
            self._line(buf[:cut], b"", out)
            buf = buf[cut:]
        self._tail = buf
        return b"".join(out)

    def flush(self) -> bytes:
        """End of stream: release the held-back tail. The redactor can then be
        fed a new stream; ``counts`` keep adding up."""
        out: list[bytes] = []
        if self._tail:
            self._line(self._tail, b"", out)
        self._tail = b""
        self._pem = None
        return b"".join(out)

    def release(self) -> bytes:
        """Redact and return the held-back partial line now, keeping the stream
        open: for live capture, where a prompt without a newline must not wait.
        Only here the any-split guarantee is given up: a secret straddling this
        point may be missed."""
        out: list[bytes] = []
        if self._tail:
            self._line(self._tail, b"", out)
        self._tail = b""
        return b"".join(out)

    def _block(self, buf: bytes, end: int, out: list[bytes]) -> None:
        """Redact ``buf[:end]``, which is whole lines."""
        pos, limit = 0, self._max_line
        while pos < end:
            if self._pem is None:
                # A run of whole lines, none longer than max_line, in one pass.
                cut = end if end - pos <= limit + 1 else buf.rfind(b"\n", pos, pos + limit + 1) + 1
                if cut > pos:
                    run = buf[pos:cut]
                    begin = run.find(b"-----BEGIN")
                    if begin >= 0:  # stop the run before the line that may open a block
                        run = run[: run.rfind(b"\n", 0, begin) + 1]
                    if run:
                        out.append(self._r._redact(run, self._counts))
                        pos += len(run)
                        continue
            # One line at a time: inside or maybe starting a PEM block, or too long.
            nl = buf.index(b"\n", pos)
            rest = buf[pos:nl]
            while len(rest) > limit:  # cut exactly as feed() cuts an unterminated tail
                c = _cut_point(rest[:limit])
                self._line(rest[:c], b"", out)
                rest = rest[c:]
            self._line(rest, b"\n", out)
            pos = nl + 1

    def _line(self, line: bytes, term: bytes, out: list[bytes]) -> None:
        """Redact one line (or one piece of an over-long line) without its ``\\n``."""
        if self._pem is not None and self._pem_line(line, term, out):
            return
        m = _PEM_HEADER_AT_END.search(line) if b"-----BEGIN" in line else None
        if m is None:
            out += (self._r._redact(line, self._counts), term)
            return
        lead = line[: m.start()]
        redacted = (self._r._redact(lead, self._counts), b"[REDACTED:private-key]")
        out += (*redacted, m.group("trail"), term)  # the trail keeps a CR of CRLF
        self._counts["private-key"] += 1
        self._pem = _PemBlock(lead)

    def _pem_line(self, line: bytes, term: bytes, out: list[bytes]) -> bool:
        """Swallow ``line`` if it continues the open PEM block; False ends the block."""
        block = self._pem
        assert block is not None
        rest = line[len(block.lead) :] if block.lead and line.startswith(block.lead) else line
        footer = _PEM_FOOTER.match(rest)
        if footer is not None:
            self._pem = None
            after = rest[footer.end() :]
            if after.strip():  # a closing quote, more text, even the next header
                self._line(after, term, out)
            return True
        content = rest.strip()
        block.body_bytes += len(line) + len(term)
        if block.body_bytes > self._max_pem:
            self._pem = None
            return False
        if _PEM_BODY.fullmatch(content):
            block.seen_body = True
            return True
        if not block.seen_body and (not content or _PEM_FIELD.fullmatch(content)):
            return True
        self._pem = None
        return False
