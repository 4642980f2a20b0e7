"""The built-in secret patterns: what a secret looks like in output (cloud and service
tokens, private keys, URL passwords, ``Authorization`` headers, ``KEY=value``
assignments), each a ``Rule`` of a kind (``BUILTIN_KINDS``) that ``storage.redact``
applies.

Every rule matches within one line (a PEM block's lines are followed by
``StreamRedactor``). Values that are references, masks, placeholders or code
(``$TOKEN``, ``****``, ``password: str``) are not secrets and are left alone.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

# -- building blocks ---------------------------------------------------------------

_START = rb"(?<![A-Za-z0-9_-])"  # a token starts here, not inside a word
_PEM_LABEL = rb"(?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?-----"
PEM_BEGIN = rb"-----BEGIN " + _PEM_LABEL
PEM_END = rb"-----END " + _PEM_LABEL
# Values that are references or masks, not secrets.
_NOT_A_VALUE = rb"(?!\[REDACTED:|\$|\{\{|<|%[s(])"

_SEP = rb"""\\?["']?[ \t]*(?P<sep>:=|=>|=(?!=)|:(?!:))[ \t]*"""
_VALUE = (
    rb'(?:\\"' + _NOT_A_VALUE + rb'(?P<eq>[^"\\\r\n]+)'  # JSON inside a JSON string
    rb'|"' + _NOT_A_VALUE + rb'(?P<dq>(?:[^"\\\r\n]|\\.)+)"?'
    rb"|'" + _NOT_A_VALUE + rb"(?P<sq>[^'\r\n]+)'?"
    rb"|" + _NOT_A_VALUE + rb"(?P<uq>[^\s\"'`,;&<>()\[\]{}\x00-\x1f\x7f]+))"
)
_VALUE_GROUPS = ("eq", "dq", "sq", "uq")

# Key names that hold secrets. Case-insensitive names may follow a prefix that ends
# in a separator or a camelCase hump (``db.password``, ``myApiKey``); upper-case env
# style ``*_KEY`` / ``*_TOKEN`` / ``*_SECRET`` is taken whatever the prefix.
_SECRET_NAMES = (
    rb"pass(?:word|wd)"
    rb"|api[_-]?(?:key|token|secret)"
    rb"|(?:secret|private|access|signing|encryption|master|client)[_-]?key"
    rb"|(?:access|auth|refresh|session|bearer|oauth|id|bot|webhook|private"
    rb"|personal[_-]?access)[_-]?token"
    rb"|(?:client|app|jwt|webhook|signing|shared)[_-]?secret"
)
_KEY = (
    rb"(?<![A-Za-z0-9_.$\{-])(?P<key>"
    rb"(?:[A-Za-z0-9_.-]{0,200}[_.-]|[A-Za-z0-9_.-]{0,200}[a-z0-9](?=[A-Z]))?"
    rb"(?i:" + _SECRET_NAMES + rb")|[A-Z0-9_]{0,200}_(?:KEY|TOKEN|SECRET)|SECRET|APIKEY)"
)
_DOTTED_NAME = re.compile(rb"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
# Placeholders, type names, and words that follow ``password:`` / ``api_key:`` in messages
# about a secret rather than before the secret itself.
_NON_VALUES = frozenset(
    b"none null nil true false undefined redacted missing required invalid expired empty"
    b" unset unknown present hidden masked provided configured ok yes no not is was must"
    b" should will from for incorrect wrong rejected accepted changed updated set default"
    b" string str int number boolean bool bytes any object optional".split()  # type names
)
_HAS_WORD_CHAR = re.compile(rb"[A-Za-z0-9\x80-\xff]")
_MASK = re.compile(rb"\[[A-Za-z _:-]*\]")  # [FILTERED], [REDACTED:jwt]
_COUNT_WITH_UNIT = re.compile(rb"[ \t]+[A-Za-z]")  # kubectl: "password:  24 bytes"
_ANNOTATION_TAIL = re.compile(rb"[ \t]*(?:\||=(?!=))")  # password: str | None = None


def group_span(m: re.Match[bytes], groups: tuple[str, ...]) -> tuple[int, int]:
    for g in groups:
        if m.group(g) is not None:
            return m.span(g)
    return m.span()


def _plausible_value(m: re.Match[bytes]) -> bool:
    """Reject assignment values that are code, placeholders or masks."""
    start, end = group_span(m, _VALUE_GROUPS)
    value = m.string[start:end]
    low = value.lower()
    if low in _NON_VALUES or not _HAS_WORD_CHAR.search(value):
        return False
    if not value.strip(b"*xX.#-_ ") or _MASK.fullmatch(value):  # ****, [FILTERED]
        return False
    if m.group("uq") is not None:
        key = m.group("key") or b""
        if value.lower() == key.lower().rsplit(b".", 1)[-1]:  # api_key=api_key
            return False
        if m.string[end : end + 1] in (b"(", b"[", b"<"):  # getpass(), Option<String>
            return False
        if _DOTTED_NAME.fullmatch(value):  # token=self.token
            return False
        if value.isdigit() and (len(value) < 4 or _COUNT_WITH_UNIT.match(m.string, end)):
            return False
        if m.group("sep") == b":" and (
            start == m.end("sep")  # user:pass@, host:port
            or _ANNOTATION_TAIL.match(m.string, end)  # a type annotation
        ):
            return False
    return True


@dataclass(frozen=True)
class Rule:
    """One built-in pattern. ``regex`` never matches a line break, so running it
    over many lines equals running it per line.

    Searches led by a lookbehind are about a hundred times slower in ``re`` than
    ones led by a literal, so a rule with ``triggers`` (literal-led regexes over the
    lowercased text, one hit inside every match) is only tried where a match can
    start: ``regex`` begins with a lookbehind refusing the bytes in ``boundary``, so
    a match holding a hit starts exactly where the run of ``boundary`` bytes before
    the hit starts."""

    kind: str
    regex: re.Pattern[bytes]
    triggers: tuple[re.Pattern[bytes], ...] = ()
    boundary: bytes = b""
    groups: tuple[str, ...] = ()
    accept: Callable[[re.Match[bytes]], bool] | None = None


_ALNUM = (string.ascii_letters + string.digits).encode()
_TOKEN_CHARS = _ALNUM + b"_-"  # what _START refuses


def _rule(
    kind: str,
    pattern: bytes,
    *triggers: bytes,
    boundary: bytes = _TOKEN_CHARS,
    groups: tuple[str, ...] = (),
    accept: Callable[[re.Match[bytes]], bool] | None = None,
) -> Rule:
    compiled = tuple(re.compile(t) for t in triggers)
    return Rule(kind, re.compile(pattern), compiled, boundary, groups, accept)


_REACH = 256
"""Most bytes from a match start to its trigger hit (key names are capped at 200)."""

_KEY_TRIGGERS = tuple(
    word + rb"""\\?["']?[ \t]*[:=]"""
    for word in (rb"key", rb"token", rb"secret", rb"password", rb"passwd")
)

BUILTIN: tuple[Rule, ...] = (
    _rule("private-key", PEM_BEGIN + rb"(?:(?!-----END)[^\n]){0,32768}" + PEM_END),
    _rule(
        "aws-access-key-id",
        rb"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        rb"akia",
        rb"asia",
        boundary=_ALNUM,
    ),
    _rule(
        "aws-secret-key",
        rb"(?<![A-Za-z0-9])(?i:aws[_-]?secret(?:[_-]?access)?[_-]?key)"
        + _SEP
        + rb"""["']?(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])""",
        rb"aws[_-]?secret",
        boundary=_ALNUM,
        groups=("s",),
    ),
    _rule(
        "github-token",
        _START
        + rb"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{40,251})(?![A-Za-z0-9_])",
        rb"gh[pousr]_",
        rb"github_pat_",
    ),
    _rule(
        "gitlab-token",
        _START
        + rb"gl(?:pat|dt|rt|ptt|oas|soat|cbt|ft|imt)-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]+)*",
        rb"gl[a-z]{2,4}-",
    ),
    _rule(
        "slack-webhook",
        rb"https://hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9_/-]{8,})",
        groups=("s",),
    ),
    _rule(
        "slack-token",
        _START + rb"(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])",
        rb"xox",
        rb"xapp-",
    ),
    _rule("anthropic-key", _START + rb"sk-ant-[A-Za-z0-9_-]{32,}", rb"sk-ant-"),
    _rule(
        "openai-key",
        _START
        + rb"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{32,}|[A-Za-z0-9]{32,}(?![A-Za-z0-9_-]))",
        rb"sk-",
    ),
    _rule(
        "stripe-key",
        _START + rb"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}(?![A-Za-z0-9])",
        rb"k_live_",
        rb"k_test_",
    ),
    _rule("npm-token", _START + rb"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", rb"npm_"),
    _rule("huggingface-token", _START + rb"hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])", rb"hf_"),
    _rule("google-api-key", _START + rb"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", rb"aiza"),
    _rule("pypi-token", _START + rb"pypi-AgE[A-Za-z0-9_-]{50,}", rb"pypi-age"),
    _rule("jwt", _START + rb"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", rb"eyj"),
    _rule(
        "url-password",
        rb"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/?#@:\"'<>\[\]]*:"
        rb"(?!\[REDACTED:|\$|\*+@|<)(?P<s>[^\s/?#@\"'<>]+)@",
        rb"://",
        boundary=_ALNUM + b"+.-",
        groups=("s",),
    ),
    _rule(
        "authorization",
        rb"(?<![A-Za-z0-9_])(?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?"
        rb"(?:(?i:bearer|basic|token|bot|apikey|digest)[ \t]+(?!\[REDACTED:|\$|\*|<|\{)"
        rb"(?P<s>[A-Za-z0-9._~+/:=-]{8,})"
        rb"|(?!\[REDACTED:)(?P<s2>[A-Za-z0-9._~+/=-]{20,}))",
        rb"authorization",
        boundary=_ALNUM + b"_",
        groups=("s", "s2"),
    ),
    _rule(
        "authorization",
        rb"(?<![A-Za-z0-9_-])(?i:bearer)[ \t]+(?!\[REDACTED:)"
        rb"(?P<s>[A-Za-z0-9._~+/-]{20,}=*)",
        rb"bearer",
        groups=("s",),
    ),
    _rule(
        "assignment",
        _KEY + _SEP + _VALUE,
        *_KEY_TRIGGERS,
        boundary=_ALNUM + b"_.$" + b"{-",
        groups=_VALUE_GROUPS,
        accept=_plausible_value,
    ),
)


def rule_starts(buf: bytes, lower: bytes, rule: Rule, hits: dict[bytes, list[int]]) -> list[int]:
    """Where ``rule`` can match in ``buf``, in order. ``hits`` caches trigger hits
    (rules share some triggers)."""
    starts: set[int] = set()
    for trigger in rule.triggers:
        if trigger.pattern not in hits:
            hits[trigger.pattern] = [m.start() for m in trigger.finditer(lower)]
        for pos in hits[trigger.pattern]:
            # No match runs more than _REACH bytes from its start to its hit; a
            # window keeps adversarial lines (sk-sk-sk-...) linear.
            lo = max(0, pos - _REACH)
            lo = buf.rfind(b"\n", lo, pos) + 1 or lo
            starts.add(lo + len(buf[lo:pos].rstrip(rule.boundary)))
    return sorted(starts)


BUILTIN_KINDS: tuple[str, ...] = tuple(dict.fromkeys(rule.kind for rule in BUILTIN))
"""Every kind the built-in patterns report (``[REDACTED:<kind>]``)."""
