"""Judging a running session's attention from its screen: ``working``, ``idle`` or
``needs_you``.

``judge`` is pure: it takes the last lines of the screen and a few facts about the
process (``Signals``) and returns the state. The supervisor gathers the facts
(runner/attention.py); the labelled fixtures in tests/fixtures/agents/ and
bench/cases/attention.py measure it.

An agent that reports its own state (Claude Code hooks, codex ``notify``: agents/hooks.py)
is the first source while that report is fresh (``with_hook``).

For an agent kind, its own shapes decide first: a prompt below its input box (or with
no input box on screen) needs you, its busy line means working, its input box alone
means idle. Otherwise, for any program:

- a prompt-like last line (``[y/N]``, ``Password:``, ``Press Enter``...) needs you;
  a line merely ending in ``:`` or ``?`` does too when the program is reading its
  terminal (``read -p``), since then it is waiting for that answer;
- output within ``quiet_after`` seconds: working;
- quiet, but the foreground process is using the CPU (a long compile): working;
- otherwise idle (a shell or a REPL at its prompt, a server waiting).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .kinds import AgentKind

__all__ = ["ATTENTION", "QUIET_AFTER", "Signals", "judge", "tail", "with_hook"]

ATTENTION = ("working", "idle", "needs_you")
QUIET_AFTER = 3.0  # seconds without output before a session is no longer "working"
TAIL = 15  # the last non-empty lines looked at
HOOK_SETTLE = 2.0  # output this long after an agent's own signal: its screen moved on
HOOK_BUSY_QUIET = 10.0  # an agent that reported working but has drawn nothing this long

# Prompts any program may show, on its last line.
_PROMPT = re.compile(
    r"""(
        [\[(]\s*[yY](es)?\s*/\s*[nN](o)?\s*[\])]        # [y/N] (Y/n) [yes/no]
      | \(yes/no(/\[fingerprint\])?\)\?                  # ssh's host key question
      | \([yY]\)es/\([nN]\)o                              # (Y)es/(N)o
      | \b[Pp]ass(word|phrase)\b[^:]*:\s*$               # Password: / password for ana:
      | \b(PIN|[Vv]erification\ code|OTP|[Tt]oken|[Uu]sername|[Ll]ogin)\b[^:]*:\s*$
      | ^[\w\ .-]+:\ \([^)]*\)\s*$                   # npm init's  name: (default)
      | [Pp]ress\ (any\ key|[Ee]nter|[Rr]eturn)
      | \b(Continue|Proceed|Overwrite|Replace|Retry)\b[^?]*\?\s*$
      | \bAre\ you\ sure\b
    )""",
    re.VERBOSE,
)
# Weaker: a question or a label, counted only while the program reads its terminal.
_ASKING = re.compile(r"\w.*(\?|:)\s*$")  # words, then ? or : (not less's lone ":")
# A REPL's or shell's prompt is not a question: waiting for a new command is idle.
_REPL = re.compile(r"(^|\s)(>>>|\.\.\.|>|\$|#|%|❯|In \[\d+\]:|[\w.-]*[>$#])\s*$")


@dataclass(frozen=True)
class Signals:
    """What the supervisor knows besides the screen. ``reading``: the foreground process
    is blocked reading its terminal (None: unknown); ``busy``: it used CPU since the
    last look (None: unknown)."""

    quiet: float = 0.0  # seconds since the last output
    reading: bool | None = None
    busy: bool | None = None


def tail(lines: Sequence[str], n: int = TAIL) -> list[str]:
    """The last ``n`` non-blank lines of a screen, trailing spaces stripped."""
    out: list[str] = []
    for line in reversed(lines):
        line = line.rstrip()
        if line.strip():
            out.append(line)
            if len(out) == n:
                break
    out.reverse()
    return out


def _any(patterns: Sequence[re.Pattern[str]], lines: Sequence[str]) -> bool:
    return any(p.search(line) for line in lines for p in patterns)


def judge(
    lines: Sequence[str],
    signals: Signals,
    kind: AgentKind | None = None,
    *,
    quiet_after: float = QUIET_AFTER,
    cursor_row: int | None = None,
) -> str:
    """The attention state of a screen whose rows are ``lines``. A generic prompt is
    looked for on the cursor's row (``cursor_row``; unknown: the last non-blank row):
    once answered, the cursor has left it."""
    last = tail(lines)
    if kind is not None:
        state = _by_kind(last, kind)
        if state is not None:
            return state
    if cursor_row is not None and 0 <= cursor_row < len(lines):
        final = lines[cursor_row].rstrip()
    else:
        final = last[-1] if last else ""
    if _PROMPT.search(final):
        return "needs_you"
    if signals.reading and _ASKING.search(final) and not _REPL.search(final):
        return "needs_you"
    if signals.quiet < quiet_after or signals.busy:
        return "working"
    return "idle"


def _by_kind(last: list[str], kind: AgentKind) -> str | None:
    idle = kind.patterns("idle")
    box = max((i for i, line in enumerate(last) if _any(idle, [line])), default=-1)
    # A question shows where the input box would be: what is above the box is history.
    if _any(kind.patterns("needs_you"), last[box + 1 :]):
        return "needs_you"
    if _any(kind.patterns("working"), last):
        return "working"
    if box >= 0:
        return "idle"
    return None


def with_hook(
    screen: str,
    hook: tuple[str, float] | None,
    *,
    last_input: float,
    last_output: float,
    now: float,
    settle: float = HOOK_SETTLE,
) -> str:
    """The state, given what the screen says (``screen``) and what the agent last
    reported itself (``hook``: the state and its wall-clock time). The report wins while
    it is fresh: no input reached the agent since (an answer, a new request); for
    ``needs_you`` and ``idle``, no output came more than ``settle`` seconds after it
    (the agent moved on without telling); for ``working``, the agent drew something in
    the last ``HOOK_BUSY_QUIET`` seconds (its spinner runs while it works: a turn that
    ended without a report, such as an API error, does not stay "working"). A prompt on
    the screen is never hidden by a report of ``working`` or ``idle`` (the agent's report
    of it may lag); the agent saying it needs you is enough even when its screen shows
    nothing like a prompt."""
    if hook is None:
        return screen
    state, at = hook
    if last_input > at or (state != "working" and last_output > at + settle):
        return screen
    if state == "working" and now - max(at, last_output) > HOOK_BUSY_QUIET:
        return screen
    if screen == "needs_you" and state != "needs_you":
        return screen
    return state
