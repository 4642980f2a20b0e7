"""Agent kinds: what tether knows about one coding agent, as data.

An ``AgentKind`` says how to recognise the agent in a command (its program names, and
the npm/PyPI packages a wrapper such as ``npx -y @anthropic-ai/claude-code`` runs), how
to start it so that it can be resumed (``start``: arguments added to a new run, with
``{session_id}`` a fresh id tether records), how to resume it (``resume``: the
arguments after the program), where its transcript of a session lives
(``transcript``: a glob), what its prompts look like (``needs_you`` and ``working``:
regular expressions over the last lines of its screen, ``idle``: its input box), and
which keys answer a prompt (``approve``, ``deny``).

The built-in kinds are ``BUILTIN``; config.toml's ``[agents.NAME]`` tables change one
(only the keys given) or add one (``kinds_from_config``).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .shapes import AIDER, CLAUDE, CODEX, GEMINI

__all__ = [
    "BUILTIN",
    "AgentKind",
    "Recognised",
    "kinds_from_config",
    "recognise",
]


@dataclass(frozen=True)
class AgentKind:
    """One coding agent. Patterns are compiled once (``patterns``)."""

    name: str
    programs: tuple[str, ...] = ()  # executable names (basename of argv[0])
    packages: tuple[str, ...] = ()  # what npx/uvx/pipx run (a version suffix is allowed)
    start: tuple[str, ...] = ()  # added to a new run; "{session_id}": a fresh uuid
    resume: tuple[str, ...] = ()  # the program's arguments that resume "{session_id}";
    # "{args}": the arguments it was started with
    session_id_from: str = ""  # "start" (tether picks it), "rollout" (codex writes it), ""
    transcript: str = ""  # glob of the transcript; {session_id}, {cwd_slug}, $VARS, ~
    needs_you: tuple[str, ...] = ()  # regexes: a prompt waiting for the user
    working: tuple[str, ...] = ()  # regexes: the agent says it is busy
    idle: tuple[str, ...] = ()  # regexes: its input box, waiting for a new request
    approve: str = ""  # keys that answer yes to its prompt
    deny: str = ""  # keys that answer no
    hooks: tuple[str, ...] = ()  # added at start: the agent reports its state (agents/hooks.py)
    _compiled: dict[str, tuple[re.Pattern[str], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def patterns(self, which: str) -> tuple[re.Pattern[str], ...]:
        """The compiled regexes of ``needs_you``, ``working`` or ``idle``."""
        found = self._compiled.get(which)
        if found is None:
            found = self._compiled[which] = tuple(re.compile(p) for p in getattr(self, which))
        return found

    def start_args(self, session_id: str) -> list[str]:
        return [a.replace("{session_id}", session_id) for a in self.start]

    def resume_args(self, session_id: str, args: Sequence[str] = ()) -> list[str]:
        out: list[str] = []
        for a in self.resume:
            out += list(args) if a == "{args}" else [a.replace("{session_id}", session_id)]
        return out


BUILTIN: dict[str, AgentKind] = {
    "claude": AgentKind(
        name="claude",
        programs=("claude", "claude-code"),
        packages=("@anthropic-ai/claude-code",),
        start=("--session-id", "{session_id}"),
        resume=("--resume", "{session_id}"),
        session_id_from="start",
        transcript="${CLAUDE_CONFIG_DIR:-~/.claude}/projects/{cwd_slug}/{session_id}.jsonl",
        approve="1",  # "1. Yes" of its menu
        deny="\x1b",  # "No, and tell Claude what to do differently (esc)"
        hooks=("--settings", "{claude_settings}"),  # layered over the user's settings
        **CLAUDE,
    ),
    "codex": AgentKind(
        name="codex",
        programs=("codex",),
        packages=("@openai/codex",),
        resume=("resume", "{session_id}"),
        session_id_from="rollout",
        transcript="${CODEX_HOME:-~/.codex}/sessions/*/*/*/rollout-*-{session_id}.jsonl",
        approve="y",
        deny="\x1b",
        hooks=("-c", "notify={hook_argv}"),  # a one-run override of config.toml
        **CODEX,
    ),
    "aider": AgentKind(
        name="aider",
        programs=("aider",),
        packages=("aider-chat", "aider-install"),
        resume=("{args}", "--restore-chat-history"),  # its own arguments kept
        transcript="{cwd}/.aider.chat.history.md",
        approve="y\r",  # it reads a line: (Y)es/(N)o
        deny="n\r",
        **AIDER,
    ),
    "gemini": AgentKind(
        name="gemini",
        programs=("gemini",),
        packages=("@google/gemini-cli",),
        approve="1",  # "1. Yes, allow once"
        deny="\x1b",
        **GEMINI,
    ),
}

# Programs that run another program named in their arguments, and the options of
# theirs that take a value (so the value is not taken for the program).
_WRAPPERS: dict[str, frozenset[str]] = {
    "npx": frozenset({"-p", "--package", "-c", "--call"}),
    "bunx": frozenset({"-p", "--package"}),
    "pnpx": frozenset(),
    "uvx": frozenset({"--from", "--with", "--python", "-p"}),
    "pipx": frozenset({"--spec", "--python"}),
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S"}),
    "exec": frozenset(),
    "nohup": frozenset(),
    "node": frozenset({"-r", "--require", "--import"}),
    "time": frozenset(),
    "nice": frozenset({"-n"}),
}
_SUBCOMMANDS = {("pnpm", "dlx"), ("pipx", "run"), ("uv", "run"), ("uv", "tool"), ("yarn", "dlx")}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Recognised:
    """An agent found in a command: its kind, and where its program's arguments start
    in the argv (so a start recipe is added after them, never inside a wrapper's)."""

    kind: AgentKind
    args_at: int
    shell_line: bool = False  # found inside ``sh -c LINE``: tether cannot add to it


def _program_name(word: str) -> str:
    """``claude`` of ``/usr/bin/claude``; ``@openai/codex`` of ``@openai/codex@0.5``;
    ``aider-chat`` of ``aider-chat@latest``."""
    if word.startswith("@"):  # a scoped npm package
        scope, _, rest = word[1:].partition("/")
        return f"@{scope}/{rest.split('@', 1)[0]}"
    return word.rsplit("/", 1)[-1].split("@", 1)[0]


def _kind_of(word: str, kinds: Mapping[str, AgentKind]) -> AgentKind | None:
    name = _program_name(word)
    for kind in kinds.values():
        if name in kind.programs or name in kind.packages:
            return kind
    return None


def recognise(
    argv: Sequence[str], kinds: Mapping[str, AgentKind] = BUILTIN, *, depth: int = 0
) -> Recognised | None:
    """The agent ``argv`` runs, looking through wrappers (``npx -y PKG``, ``env A=1``,
    ``pnpm dlx``, ``uvx``...) and one shell line (``sh -c 'claude ...'``); None when it
    runs no known agent."""
    from storage.models import shell_line

    line = shell_line(tuple(argv))
    if line is not None and depth == 0:
        try:
            words = shlex.split(line)
        except ValueError:
            return None
        found = recognise(words, kinds, depth=1)
        return replace(found, shell_line=True) if found else None
    i = 0
    while i < len(argv):
        word = argv[i]
        name = _program_name(word)
        kind = _kind_of(word, kinds)
        if kind is not None:
            return Recognised(kind, i + 1)
        if _ASSIGNMENT.match(word):
            i += 1  # VAR=value before the program (env, or a shell line)
            continue
        if i + 1 < len(argv) and (name, argv[i + 1]) in _SUBCOMMANDS:
            i += 2
            i = _skip_options(argv, i, _WRAPPERS.get(name, frozenset()))
            continue
        if name in _WRAPPERS:
            i = _skip_options(argv, i + 1, _WRAPPERS[name])
            continue
        return None
    return None


def _skip_options(argv: Sequence[str], i: int, takes_value: frozenset[str]) -> int:
    """Past a wrapper's own options (``-y``, ``--yes``, ``-p PKG``) to its program."""
    while i < len(argv) and argv[i].startswith("-"):
        word = argv[i]
        if word == "--":
            return i + 1
        i += 2 if word in takes_value else 1
    return i


# -- config.toml: [agents.NAME] -------------------------------------------------------------
CONFIG_KEYS = (
    "programs",
    "packages",
    "start",
    "resume",
    "transcript",
    "needs_you",
    "working",
    "idle",
    "approve",
    "deny",
    "hooks",
)


def kinds_from_config(section: Mapping[str, Any] | None) -> dict[str, AgentKind]:
    """The built-in kinds with config.toml's ``[agents.NAME]`` tables applied: a table
    naming a built-in kind changes only the keys it gives; another name adds a kind
    (recognised by its ``programs``, default: its name). Values were checked when the
    file was loaded (home/config_schema.py); a bad regex is a ``ValueError`` here."""
    kinds = dict(BUILTIN)
    for name, table in (section or {}).items():
        given = {k: v for k, v in table.items() if k in CONFIG_KEYS}
        for key in (
            "programs",
            "packages",
            "start",
            "resume",
            "needs_you",
            "working",
            "idle",
            "hooks",
        ):
            if key in given:
                given[key] = tuple(given[key])
        if "start" in given:
            given["session_id_from"] = "start" if given["start"] else ""
        base = kinds.get(name) or AgentKind(name=name, programs=(name,))
        kind = replace(base, **given, _compiled={})
        for which in ("needs_you", "working", "idle"):
            for pattern in getattr(kind, which):
                try:
                    re.compile(pattern)
                except re.error as e:
                    raise ValueError(f"agents.{name}.{which}: bad pattern {pattern!r}: {e}") from e
        kinds[name] = kind
    return kinds


def cwd_slug(cwd: str) -> str:
    """How Claude Code names a project's directory under ``projects/``: the absolute
    path with every character other than a letter, digit or ``-`` made ``-``."""
    return re.sub(r"[^A-Za-z0-9-]", "-", os.path.abspath(cwd))
