"""config.toml's schema: one table, ``SCHEMA``, of every setting (its type, default,
range or choices, and a line of help), read both when the file is loaded
(``home.config``) and by ``tether config get/set/unset``.

A name of the table is dotted (``general.stop_grace``); ``*`` stands for a name the user
chooses: a binding id in ``keys.*``, a group in ``groups.*.max_parallel``. A value is
checked by its ``kind``; every error is a ``SettingError`` naming the key and what is
valid (the known names for an unknown one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from storage import units
from storage.frozen import Frozen
from storage.models import ENDED


class SettingError(ValueError):
    """A key that is not in the schema, or a value its kind does not take."""


def _patterns(value: list[str]) -> None:
    from storage.redact import Redactor

    Redactor(value)  # RedactionPatternError (a ValueError) names the pattern and the problem


class Option(Frozen):
    """One setting. ``default`` None means off (no limit); ``inert`` marks a setting
    that is checked and saved but that nothing reads yet."""

    __slots__ = (
        "name",
        "kind",
        "default",
        "help",
        "minimum",
        "choices",
        "check",
        "alias_of",
        "inert",
    )

    name: str
    kind: str  # a key of KINDS
    default: Any
    help: str
    minimum: int | None  # for kind "int"
    choices: tuple[str, ...]  # for the items of kind "strings", the value of "word"
    check: Callable[[Any], None] | None  # more checks; raises ValueError
    alias_of: str | None  # another spelling of that setting (listed only when set)
    inert: bool

    def __init__(
        self,
        name: str,
        kind: str,
        default: Any,
        help: str,
        minimum: int | None = None,
        choices: tuple[str, ...] = (),
        check: Callable[[Any], None] | None = None,
        alias_of: str | None = None,
        inert: bool = False,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "help", help)
        object.__setattr__(self, "minimum", minimum)
        object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "check", check)
        object.__setattr__(self, "alias_of", alias_of)
        object.__setattr__(self, "inert", inert)

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[1]

    def expected(self) -> str:
        """What a value must be, for people."""
        if self.kind == "int" and self.minimum is not None:
            return f"a whole number of at least {self.minimum}"
        if self.kind == "strings" and self.choices:
            return f"a list of some of {', '.join(self.choices)}"
        if self.kind == "word" and self.choices:
            return f"one of {', '.join(self.choices)}"
        return KINDS[self.kind][1]

    def validate(self, value: Any, name: str | None = None) -> Any:
        """``value`` as this setting takes it (numbers of seconds and days as floats), or
        a ``SettingError`` naming ``name`` (the concrete dotted key)."""
        name = name or self.name
        ok = KINDS[self.kind][0](value)
        if ok is _BAD or (self.kind == "int" and self.minimum is not None and ok < self.minimum):
            raise SettingError(f"{name} must be {self.expected()}, not {_literal(value)}")
        if self.choices:
            unknown = [v for v in (ok if isinstance(ok, list) else [ok]) if v not in self.choices]
            if unknown:
                raise SettingError(
                    f"{name}: unknown value {', '.join(map(repr, unknown))}; "
                    f"choices: {', '.join(self.choices)}"
                )
        if self.check is not None:
            try:
                self.check(ok)
            except ValueError as e:
                raise SettingError(f"{name}: {e}") from None
        return ok


_BAD = object()


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _bool(v: Any) -> Any:
    return v if isinstance(v, bool) else _BAD


def _seconds(v: Any) -> Any:
    return float(v) if _number(v) and v > 0 else _BAD


def _int(v: Any) -> Any:
    return v if isinstance(v, int) and not isinstance(v, bool) else _BAD


def _days(v: Any) -> Any:
    return float(v) if _number(v) and v >= 0 else _BAD


def _age(v: Any) -> Any:
    if not (isinstance(v, str) or _number(v)):
        return _BAD
    try:
        units.parse_age(v)
    except units.UnitError:
        return _BAD
    return v


def _size(v: Any) -> Any:
    if not (isinstance(v, str) or _int(v) is not _BAD):
        return _BAD
    try:
        units.parse_size(v)
    except units.UnitError:
        return _BAD
    return v


def _regexes(value: list[str]) -> None:
    import re

    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"bad regular expression {pattern!r}: {e}") from None


def _strings(v: Any) -> Any:
    return list(v) if isinstance(v, list) and all(isinstance(i, str) for i in v) else _BAD


def _word(v: Any) -> Any:
    return v if isinstance(v, str) else _BAD


def _key(v: Any) -> Any:
    return v if isinstance(v, str) and v.isprintable() and v.replace(",", "").strip() else _BAD


# kind -> (check: the value as taken, or _BAD; what it must be; whether a bare word is one)
KINDS: dict[str, tuple[Callable[[Any], Any], str, bool]] = {
    "bool": (_bool, "true or false", False),
    "seconds": (_seconds, "a positive number of seconds", False),
    "int": (_int, "a whole number", False),
    "days": (_days, "a number of days, 0 or more", False),
    "age": (_age, 'an age such as "30d", "12h", "2w" (a bare number is days)', True),
    "size": (_size, 'a size such as "5G" or "500M" (a bare number is bytes)', True),
    "strings": (_strings, 'a list of strings, such as ["a", "b"]', False),
    "word": (_word, "a word", True),
    "key": (_key, 'a key name (or several, comma-separated), such as "a" or "x,ctrl+x"', True),
}

ENDED_STATUSES = tuple(sorted(ENDED))

SCHEMA: tuple[Option, ...] = (
    Option("general.autosave_interval", "seconds", 2.0, "seconds between autosaves of TUI edits"),
    Option(
        "general.reconcile_interval",
        "seconds",
        2.0,
        "seconds between checks for sessions whose supervisor died",
    ),
    Option("general.stop_grace", "seconds", 5.0, "seconds between SIGTERM and SIGKILL on stop"),
    Option("general.bell", "bool", False, "ring the terminal bell when a session ends"),
    Option("general.auto_cleanup", "bool", False, "apply the retention policy when tether starts"),
    Option("retention.max_age", "age", None, "purge sessions that ended longer ago than this"),
    Option(
        "retention.max_age_days",
        "days",
        None,
        "max_age as a number of days",
        alias_of="retention.max_age",
    ),
    Option("retention.keep", "int", None, "keep only the newest N eligible sessions", minimum=0),
    Option("retention.max_size", "size", None, "purge the oldest while all output is over this"),
    Option(
        "retention.statuses",
        "strings",
        list(ENDED_STATUSES),
        "the statuses a cleanup may purge",
        choices=ENDED_STATUSES,
    ),
    Option("retention.protected_tags", "strings", ["keep"], "sessions with these tags are kept"),
    Option("retention.trash_days", "days", 7.0, "empty the trash of sessions older than this"),
    Option("backups.keep", "int", 5, "how many rotating database backups to keep", minimum=1),
    Option(
        "redaction.patterns",
        "strings",
        [],
        "extra regular expressions to redact on export",
        check=_patterns,
    ),
    Option(
        "redaction.on_capture",
        "bool",
        False,
        "also redact while recording (secrets never reach disk)",
    ),
    Option(
        "attach.detach_key",
        "key",
        "ctrl+\\",
        "the key that detaches `tether attach` (ctrl+ a letter or one of \\ ] ^ _)",
    ),
    Option(
        "attach.record_input",
        "bool",
        False,
        "record what attached clients type (off: passwords typed at prompts stay out)",
    ),
    Option(
        "storage.quota",
        "size",
        None,
        'warn at 80% and 100% of this size on disk (database, WAL and backups), e.g. "5GB"',
    ),
    Option(
        "storage.on_quota",
        "word",
        "warn",
        "at 100% of the quota: warn, or cleanup (apply the retention policy)",
        choices=("warn", "cleanup"),
    ),
    # Defaults come from the TUI's bindings (tui.keys, given by the caller).
    Option("keys.*", "key", None, "the key(s) of a binding id (? in the app shows the ids)"),
    # Read by the queue (runner/queue.py, home/queue.py): beyond the limit a new session
    # waits as pending and starts by itself when a slot frees.
    Option(
        "run.max_parallel",
        "int",
        0,
        "sessions running at once (more wait in the queue); 0 = unlimited",
        minimum=0,
    ),
    Option(
        "groups.*.max_parallel",
        "int",
        0,
        "sessions of the group (tether run --group NAME) running at once; 0 = unlimited",
        minimum=0,
    ),
    # Attention and coding agents (issue 16: agents/, runner/attention.py).
    Option(
        "attention.quiet_after",
        "seconds",
        3.0,
        "seconds without output before a running session is no longer 'working'",
    ),
    Option("attention.bell", "bool", True, "ring the terminal bell when a session needs you"),
    Option(
        "notify.desktop",
        "word",
        "off",
        "a desktop notification when a session needs you (auto: notify-send, else OSC 777)",
        choices=("off", "osc9", "osc777", "notify-send", "auto"),
    ),
    # An [agents.NAME] table changes a built-in agent kind (claude, codex, aider, gemini),
    # only the keys it gives, or adds one (agents/kinds.py).
    Option("agents.*.programs", "strings", None, "program names that run this agent"),
    Option("agents.*.packages", "strings", None, "packages npx/uvx/pipx run for it"),
    Option("agents.*.start", "strings", None, "arguments added at start ({session_id})"),
    Option("agents.*.resume", "strings", None, "arguments that resume it ({session_id})"),
    Option("agents.*.transcript", "word", None, "glob of its transcript ({session_id})"),
    Option("agents.*.needs_you", "strings", None, "regexes: it waits for you", check=_regexes),
    Option("agents.*.working", "strings", None, "regexes: it is busy", check=_regexes),
    Option("agents.*.idle", "strings", None, "regexes: its input box", check=_regexes),
    Option("agents.*.approve", "word", None, "keys that answer yes to its prompt (y)"),
    Option("agents.*.deny", "word", None, "keys that answer no to its prompt (n)"),
    Option(
        "agents.*.hooks",
        "strings",
        None,
        "arguments that make it report its state ({claude_settings}, {hook_argv}); [] = off",
    ),
)

OPTIONS: dict[str, Option] = {o.name: o for o in SCHEMA}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(o.section for o in SCHEMA))


def _tree() -> dict[str, Any]:
    """SCHEMA as nested tables: section -> key (or ``*``) -> ... -> Option."""
    tree: dict[str, Any] = {}
    for option in SCHEMA:
        *parents, leaf = option.name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = option
    return tree


TREE = _tree()


# -- names ---------------------------------------------------------------------------------
def split_key(key: str) -> tuple[str, ...]:
    """A dotted key as TOML reads one (``groups."a.b".max_parallel`` too) into its parts."""
    import tomllib  # here: a command run without config.toml never parses TOML

    try:
        data = tomllib.loads(f"{key} = 0") if "\n" not in key and "=" not in key else None
    except tomllib.TOMLDecodeError:
        data = None
    parts: list[str] = []
    while isinstance(data, dict) and len(data) == 1:
        (name, data), *_ = data.items()
        parts.append(name)
    if data != 0 or not parts:
        raise SettingError(f"{key!r} is not a key; keys are dotted, such as general.stop_grace")
    return tuple(parts)


def dotted(parts: tuple[str, ...]) -> str:
    return ".".join(p if p.replace("_", "").replace("-", "").isalnum() else f'"{p}"' for p in parts)


def _known(node: Mapping[str, Any], key_ids: Collection[str] | None) -> list[str]:
    names = [k for k in node if k != "*"]
    if "*" in node and isinstance(node["*"], Option) and key_ids is not None:
        names += sorted(key_ids)
    return names


def _unknown(where: tuple[str, ...], names: list[str], known: list[str]) -> SettingError:
    if not where:
        found = ", ".join(f"[{n}]" for n in names)
        return SettingError(f"unknown section {found}; known: {', '.join(f'[{k}]' for k in known)}")
    table = dotted(where)
    bad = ", ".join(dotted((*where, n)) for n in names)
    import difflib  # only for a wrong name's suggestion

    guess = difflib.get_close_matches(names[0], known, n=1) if len(names) == 1 else []
    hint = f" (did you mean {dotted((*where, guess[0]))}?)" if guess else ""
    noun = "key" if len(names) == 1 else "keys"
    return SettingError(f"unknown {noun} {bad}{hint}; known in [{table}]: {', '.join(known)}")


def find(parts: tuple[str, ...], key_ids: Collection[str] | None = None) -> Option:
    """The option a dotted key names; a ``SettingError`` listing the known names for an
    unknown one. ``key_ids`` are the binding ids ``keys.*`` may name (None: any)."""
    node: Any = TREE
    for depth, part in enumerate(parts):
        if isinstance(node, Option):
            break
        child = node.get(part)
        if child is None and "*" in node:
            child = node["*"]
            if isinstance(child, Option) and key_ids is not None and part not in key_ids:
                child = None
        if child is None and depth == 0:
            leaves = [o.name for o in SCHEMA if o.leaf == part]
            if leaves:
                raise SettingError(f"keys are dotted: section.key; did you mean {leaves[0]}?")
        if child is None:
            raise _unknown(parts[:depth], [part], _known(node, key_ids))
        node = child
    if not isinstance(node, Option) or len(parts) != len(node.name.split(".")):
        if isinstance(node, dict):
            inside = ", ".join(_known(node, key_ids)) or "names of your choice"
            raise SettingError(f"{dotted(parts)} is a table, not a setting; in it: {inside}")
        setting = dotted(parts[: len(node.name.split("."))])
        raise SettingError(f"{dotted(parts)}: {setting} is a setting, not a table")
    return node


def check_document(data: Mapping[str, Any], key_ids: Collection[str] | None = None) -> None:
    """Check a whole parsed config.toml against the schema: every table, key and value."""
    for option, parts, value in _walk(TREE, (), data, key_ids):
        option.validate(value, dotted(parts))


def _walk(
    node: Mapping[str, Any],
    where: tuple[str, ...],
    data: Mapping[str, Any],
    key_ids: Collection[str] | None,
) -> Iterator[tuple[Option, tuple[str, ...], Any]]:
    unknown = []
    for name in data:
        child = node.get(name, node.get("*"))
        if isinstance(child, Option) and name not in node and key_ids is not None:
            child = child if name in key_ids else None
        if child is None:
            unknown.append(name)
    if unknown:
        raise _unknown(where, sorted(unknown), _known(node, key_ids))
    for name, value in data.items():
        child = node.get(name, node.get("*"))
        parts = (*where, name)
        if isinstance(child, Option):
            yield child, parts, value
        elif not isinstance(value, dict):
            raise SettingError(f"[{dotted(parts)}] must be a table, not {_literal(value)}")
        else:
            yield from _walk(child, parts, value, key_ids)


# -- values typed on the command line -------------------------------------------------------
def parse_value(option: Option, text: str, name: str | None = None) -> Any:
    """A value typed after ``config set``: TOML literal syntax (``true``, ``5``, ``"x"``,
    ``["a", "b"]``) where it parses into what the setting takes, else the text itself for
    a setting that takes words (keys, sizes, ages). Checked as loading checks it."""
    parsed: Any = _BAD
    if "\n" not in text and "\r" not in text:
        import tomllib

        try:
            parsed = tomllib.loads(f"v = {text}").get("v", _BAD)
        except tomllib.TOMLDecodeError:
            pass
    takes_words = KINDS[option.kind][2]
    if takes_words and (parsed is _BAD or KINDS[option.kind][0](parsed) is _BAD):
        parsed = text
    if parsed is _BAD:
        raise SettingError(
            f"{name or option.name} must be {option.expected()}, not {text!r} "
            '(values are written as in TOML: true, 5, 2.5, "text", ["a", "b"])'
        )
    option.validate(parsed, name)
    return parsed


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)
