"""Agent kinds are data: recognised from the command through wrappers, chosen by name,
changed or added in config.toml; a claude run gets a session id tether records."""

from __future__ import annotations

import pytest

from agents.kinds import BUILTIN, cwd_slug, kinds_from_config, recognise
from agents.resume import UnknownAgent, prepare


@pytest.mark.parametrize(
    ("argv", "kind", "args_at"),
    [
        (["claude"], "claude", 1),
        (["/usr/local/bin/claude", "-p", "hi"], "claude", 1),
        (["npx", "-y", "@anthropic-ai/claude-code"], "claude", 3),
        (["npx", "--yes", "@anthropic-ai/claude-code@latest", "--model", "opus"], "claude", 3),
        (["npx", "-p", "@openai/codex", "codex"], "codex", 4),
        (["codex", "resume", "abc"], "codex", 1),
        (["env", "OPENAI_API_KEY=x", "codex"], "codex", 3),
        (["OPENAI_API_KEY=x", "codex"], "codex", 2),
        (["uvx", "--from", "aider-chat", "aider", "--model", "gpt-4o"], "aider", 4),
        (["pipx", "run", "aider-chat"], "aider", 3),
        (["aider"], "aider", 1),
        (["pnpm", "dlx", "@google/gemini-cli"], "gemini", 3),
        (["bunx", "@google/gemini-cli@0.1.5"], "gemini", 2),
        (["gemini"], "gemini", 1),
        (["nice", "-n", "5", "claude"], "claude", 4),
    ],
)
def test_an_agent_is_recognised_by_its_program_through_wrappers(argv, kind, args_at):
    found = recognise(argv)
    assert found is not None and (found.kind.name, found.args_at) == (kind, args_at)


@pytest.mark.parametrize(
    "argv",
    [
        ["python", "claude.py"],
        ["npx", "-y", "prettier", "claude"],  # claude is prettier's argument here
        ["make", "codex"],
        ["vim", "aider.md"],
        ["/bin/sh", "-c", "echo claude"],
        ["npx", "-y"],
    ],
)
def test_other_commands_are_not_agents(argv):
    assert recognise(argv) is None


def test_a_shell_line_is_looked_into_but_left_alone():
    found = recognise(["/bin/bash", "-c", "cd web && claude --model opus"])
    assert found is None  # `cd` runs first: the line is not one command
    found = recognise(["/bin/bash", "-c", "claude --model opus"])
    assert found is not None and found.kind.name == "claude" and found.shell_line
    start = prepare(["/bin/bash", "-c", "claude --model opus"])
    assert start.argv == ["/bin/bash", "-c", "claude --model opus"]  # nothing added
    assert (start.kind, start.session_id) == ("claude", None)


def test_claude_gets_a_fresh_session_id_after_its_program_name():
    start = prepare(["npx", "-y", "@anthropic-ai/claude-code", "fix the tests"], new_id="U1")
    assert start.argv == [
        "npx", "-y", "@anthropic-ai/claude-code", "--session-id", "U1", "fix the tests"
    ]  # fmt: skip
    assert (start.kind, start.session_id) == ("claude", "U1")
    fresh = prepare(["claude"])
    assert fresh.session_id and len(fresh.session_id) == 36 and fresh.argv[1] == "--session-id"


def test_a_command_that_names_its_conversation_keeps_it():
    assert prepare(["claude", "--session-id", "mine"]).session_id == "mine"
    kept = prepare(["claude", "--resume", "old"])
    assert kept.argv == ["claude", "--resume", "old"] and kept.session_id is None
    assert prepare(["claude", "-c"]).argv == ["claude", "-c"]


def test_codex_and_others_are_started_as_they_are():
    assert prepare(["codex", "fix it"]) == prepare(["codex", "fix it"])
    start = prepare(["codex", "fix it"])
    assert (start.argv, start.kind, start.session_id) == (["codex", "fix it"], "codex", None)
    assert prepare(["ls", "-l"]).kind is None


def test_an_agent_chosen_by_name():
    start = prepare(["./my-wrapper.sh"], chosen="claude")
    assert (start.argv, start.kind) == (["./my-wrapper.sh"], "claude")
    with pytest.raises(UnknownAgent, match="unknown agent 'cluade'; known: aider, claude"):
        prepare(["x"], chosen="cluade")


def test_config_changes_one_key_of_a_kind_or_adds_a_kind():
    kinds = kinds_from_config(
        {
            "claude": {"approve": "y", "programs": ["claude", "cc"]},
            "goose": {"needs_you": [r"Allow\?"], "approve": "y\r"},
        }
    )
    assert kinds["claude"].approve == "y" and kinds["claude"].deny == BUILTIN["claude"].deny
    assert kinds["claude"].resume == BUILTIN["claude"].resume
    assert recognise(["cc"], kinds).kind.name == "claude"
    assert recognise(["goose", "session"], kinds).kind.name == "goose"
    assert kinds["goose"].patterns("needs_you")[0].search("Allow?")
    assert BUILTIN["claude"].approve == "1"  # the built-in kind is untouched
    with pytest.raises(ValueError, match=r"agents.goose.working: bad pattern '\('"):
        kinds_from_config({"goose": {"working": ["("]}})


def test_config_start_recipe_gives_a_kind_native_ids():
    kinds = kinds_from_config({"gemini": {"start": ["--session", "{session_id}"]}})
    start = prepare(["gemini"], kinds, new_id="G1")
    assert (start.argv, start.session_id) == (["gemini", "--session", "G1"], "G1")


def test_the_project_folder_name_claude_uses():
    assert cwd_slug("/tmp/agrec/proj") == "-tmp-agrec-proj"  # as recorded from claude 2.1
    assert cwd_slug("/home/ana/my.app_2") == "-home-ana-my-app-2"
