"""Reading agent transcript lines: Claude Code's and Codex's JSONL, as they write them.

- Claude Code (``projects/<cwd slug>/<session id>.jsonl``): one JSON object a line;
  ``type`` ``user`` or ``assistant`` with ``message.content`` a string or a list of parts
  (``text``, ``tool_use`` with ``name`` and ``input``, ``tool_result``, ``thinking``);
  an assistant line has ``message.model``, ``message.id`` and ``message.usage``
  (``input_tokens``, ``output_tokens``). A reply in several parts is written as several
  lines with the same ``message.id`` and usage: it is counted once.
- Codex (``sessions/YYYY/MM/DD/rollout-*.jsonl``): ``{"timestamp", "type", "payload"}``;
  ``session_meta`` first (id, cwd), ``turn_context`` (``model``), ``response_item``
  (``message`` with ``input_text``/``output_text`` parts, ``function_call`` with JSON
  ``arguments``), ``event_msg`` ``token_count`` (``info.total_token_usage``: running
  totals).

``read_lines`` turns whole lines into ``Entry``s (prompts, replies, tool calls with
their commands; tool results and reasoning are left out) and carries a ``state`` (a
JSON-able dict: model, token counts, the line number) from one read to the next. A line
that is not JSON is skipped and said (``problems``); the others are kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.engine.transcripts import Entry

__all__ = ["AGENTS", "Meta", "context_of", "meta_of", "read_lines"]

AGENTS = ("claude", "codex")
# Text codex adds to the first user message on its own (not the user's prompt).
_CODEX_INJECTED = ("<environment_context>", "<user_instructions>", "# AGENTS.md")
_TOOL_TEXT_MAX = 4000  # a tool call's input kept for search (a file's whole text is not)


@dataclass(frozen=True, slots=True)
class Meta:
    """The conversation a transcript holds: the agent's session id, its cwd, when it began."""

    session_id: str
    cwd: str
    at: float


def _time(value: Any, default: float) -> float:
    if not isinstance(value, str):
        return default
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


def meta_of(agent: str, lines: Iterable[bytes]) -> Meta | None:
    """The conversation a transcript holds (its first lines are enough); None when
    they are not the agent's."""
    for raw in lines:
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if agent == "codex":
            payload = data.get("payload")
            if data.get("type") != "session_meta" or not isinstance(payload, dict):
                return None
            if not payload.get("id") or not payload.get("cwd"):
                return None
            when = _time(payload.get("timestamp") or data.get("timestamp"), 0.0)
            return Meta(str(payload["id"]), str(payload["cwd"]), when)
        if data.get("sessionId") and data.get("cwd"):
            return Meta(str(data["sessionId"]), str(data["cwd"]), _time(data.get("timestamp"), 0))
    return None


def read_lines(
    agent: str, lines: Iterable[bytes], state: dict[str, Any], *, where: str = ""
) -> tuple[list[Entry], list[str]]:
    """The entries of whole transcript ``lines`` (``state`` is updated in place), and
    a message per line skipped."""
    entries: list[Entry] = []
    problems: list[str] = []
    read = _codex_line if agent == "codex" else _claude_line
    for raw in lines:
        state["line"] = number = state.get("line", 0) + 1
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            problems.append(f"{where}:{number}: not a JSON line; skipped")
            continue
        if isinstance(data, dict):
            entries += read(data, state)
    return entries, problems


def context_of(state: dict[str, Any]) -> dict[str, Any]:
    """The session context members a transcript gives: ``model``, ``input_tokens``,
    ``output_tokens`` and their sum ``tokens`` (so ``ctx.tokens>100000`` filters)."""
    out: dict[str, Any] = {}
    if state.get("model"):
        out["model"] = state["model"]
    if "input_tokens" in state or "output_tokens" in state:
        out["input_tokens"] = int(state.get("input_tokens", 0))
        out["output_tokens"] = int(state.get("output_tokens", 0))
        out["tokens"] = out["input_tokens"] + out["output_tokens"]
    return out


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _tool_text(name: str, given: Any) -> str:
    """A tool call as searched and shown: ``Bash: psql -c ...`` (its command, else its
    input as JSON)."""
    if isinstance(given, dict):
        command = given.get("command") or given.get("cmd")
        if isinstance(command, list):
            command = " ".join(str(c) for c in command)
        if isinstance(command, str) and command:
            return f"{name}: {command}"
    text = given if isinstance(given, str) else json.dumps(given, ensure_ascii=False)
    return f"{name}: {text[:_TOOL_TEXT_MAX]}"


# -- Claude Code ----------------------------------------------------------------------------
def _claude_line(data: dict[str, Any], state: dict[str, Any]) -> list[Entry]:
    kind = data.get("type")
    message = data.get("message")
    if kind not in ("user", "assistant") or not isinstance(message, dict):
        return []
    at = _time(data.get("timestamp"), state.get("at", 0.0))
    state["at"] = at
    if kind == "assistant":
        _claude_usage(message, state)
    content = message.get("content")
    if isinstance(content, str):
        parts: list[Any] = [{"type": "text", "text": content}]
    elif isinstance(content, list):
        parts = content
    else:
        return []
    out = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            if part["text"].strip():
                out.append(Entry(at, kind, part["text"]))
        elif part.get("type") == "tool_use":
            out.append(
                Entry(at, "tool", _tool_text(str(part.get("name", "tool")), part.get("input")))
            )
    return out


def _claude_usage(message: dict[str, Any], state: dict[str, Any]) -> None:
    if isinstance(message.get("model"), str) and not message["model"].startswith("<"):
        state["model"] = message["model"]  # "<synthetic>": written by claude itself
    usage = message.get("usage")
    if not isinstance(usage, dict):
        return
    counted = (_number(usage.get("input_tokens")), _number(usage.get("output_tokens")))
    if message.get("id") and message.get("id") == state.get("message"):
        before = state.get("message_usage", [0, 0])  # the same reply again: count it once
        state["input_tokens"] = state.get("input_tokens", 0) - before[0]
        state["output_tokens"] = state.get("output_tokens", 0) - before[1]
    state["message"], state["message_usage"] = message.get("id"), list(counted)
    state["input_tokens"] = state.get("input_tokens", 0) + counted[0]
    state["output_tokens"] = state.get("output_tokens", 0) + counted[1]


# -- Codex ---------------------------------------------------------------------------------
def _codex_line(data: dict[str, Any], state: dict[str, Any]) -> list[Entry]:
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return []
    at = _time(data.get("timestamp"), state.get("at", 0.0))
    state["at"] = at
    kind, inner = data.get("type"), payload.get("type")
    if kind == "turn_context" and isinstance(payload.get("model"), str):
        state["model"] = payload["model"]
    elif kind == "event_msg" and inner == "token_count":
        info = payload.get("info")
        total = info.get("total_token_usage") if isinstance(info, dict) else None
        if isinstance(total, dict):  # running totals: the last one is the session's
            state["input_tokens"] = _number(total.get("input_tokens"))
            state["output_tokens"] = _number(total.get("output_tokens"))
    elif kind == "response_item" and inner == "message":
        role = payload.get("role")
        if role not in ("user", "assistant"):
            return []
        out = []
        for part in payload.get("content") or ():
            text = part.get("text") if isinstance(part, dict) else None
            if not isinstance(text, str) or not text.strip():
                continue
            if role == "user" and text.lstrip().startswith(_CODEX_INJECTED):
                continue
            out.append(Entry(at, role, text))
        return out
    elif kind == "response_item" and inner in ("function_call", "custom_tool_call"):
        given: Any = payload.get("arguments", payload.get("input"))
        if isinstance(given, str):
            try:
                given = json.loads(given)
            except ValueError:
                pass
        return [Entry(at, "tool", _tool_text(str(payload.get("name", "tool")), given))]
    return []
