"""Agent conversations are searchable: transcripts in the agents' real formats
(tests/fixtures/agents/transcripts) indexed into a real SQLite file, incrementally.

Work is counted (files read, bytes read), never timed: the cost of re-checking 10 000
unchanged transcripts is measured in bench/cases/transcripts.py.
"""

from __future__ import annotations

import os

from agents.transcripts.importing import find_files, import_transcripts
from agents.transcripts.index import sync
from storage.engine.search import filter_session_ids, search
from storage.query import parse
from tests.agents.transcript_samples import (
    CLAUDE_ID,
    CODEX_ID,
    claude_line,
    claude_transcript,
    codex_transcript,
)


async def _texts(store, words: str) -> list[tuple[int, str, str]]:
    hits = (await search(store, parse(words))).hits
    return [(h.session_id, h.stream, h.text) for h in hits]


async def _import(store, tmp_path, agent: str) -> tuple[int, os.PathLike]:
    home = tmp_path / agent
    make = claude_transcript if agent == "claude" else codex_transcript
    path = make(home, tmp_path)
    var = "CLAUDE_CONFIG_DIR" if agent == "claude" else "CODEX_HOME"
    env = {var: str(home)}
    report = await import_transcripts(store, agent, find_files(agent, None, env), env)
    [item] = report.imported
    return item.id, path


async def test_search_finds_a_prompt_a_reply_and_a_tool_calls_command(store, tmp_path):
    claude, _ = await _import(store, tmp_path, "claude")
    codex, _ = await _import(store, tmp_path, "codex")
    assert await _texts(store, "migrate the users table") == [
        (claude, "agent", "migrate the users table to add an email_verified column")
    ]
    assert await _texts(store, "current schema Alembic") == [
        (claude, "agent", "I'll look at the current schema first, then write an Alembic revision.")
    ]
    assert await _texts(store, '"alembic revision -m"') == [
        (claude, "agent", "Bash: alembic revision -m 'users email_verified'")
    ]
    # codex: the prompt (once: not again from its event_msg copy), the shell call's
    # command line, the reply; never the context codex injects on its own
    assert await _texts(store, "rename orders endpoint") == [
        (codex, "agent", "rename the orders endpoint to purchases and keep a redirect")
    ]
    assert await _texts(store, '"rg -n"') == [
        (codex, "agent", "shell: bash -lc rg -n 'orders' app/routes.py")
    ]
    assert [t for *_, t in await _texts(store, "redirect")] == [
        "Renamed the route to /purchases and added a 308 redirect from /orders.",
        "rename the orders endpoint to purchases and keep a redirect",
    ]
    assert await _texts(store, "approval_policy") == []
    # tool results and thinking are not the conversation's words
    assert await _texts(store, "Generating") == []
    assert await _texts(store, "schema.sql") == []
    # counted per session with the output's lines
    found = await search(store, parse("users"))
    assert [(g.session.id, g.count) for g in found.groups] == [(claude, 3)]


async def test_the_context_gets_the_model_and_token_counts(store, tmp_path):
    claude, _ = await _import(store, tmp_path, "claude")
    codex, _ = await _import(store, tmp_path, "codex")
    # claude writes one reply as several lines with the same usage: counted once
    assert (await store.sessions.require(claude)).context == {
        "model": "claude-opus-4-1-20250805",
        "input_tokens": 4 + 6,
        "output_tokens": 156 + 42,
        "tokens": 208,
    }
    # codex: the last running total
    assert (await store.sessions.require(codex)).context == {
        "model": "gpt-5-codex",
        "input_tokens": 11840,
        "output_tokens": 402,
        "tokens": 12242,
    }
    assert await filter_session_ids(store, parse("ctx.model:claude-opus*")) == [claude]
    assert await filter_session_ids(store, parse("ctx.tokens>10000")) == [codex]


async def test_appended_lines_are_read_on_the_next_check_and_unchanged_files_skipped(
    store, tmp_path
):
    claude, path = await _import(store, tmp_path, "claude")
    await _import(store, tmp_path, "codex")
    again = await sync(store, {})
    assert (again.checked, again.read, again.bytes_read, again.entries) == (2, 0, 0, 0)

    line = claude_line(CLAUDE_ID, tmp_path, "add an index on users.email")
    with open(path, "a") as f:
        f.write(line[:40])  # the agent is still writing it
    half = await sync(store, {})
    assert (half.read, half.entries) == (1, 0)
    assert await _texts(store, "index on users") == []
    assert (await sync(store, {})).read == 0  # the same half line: nothing to read again

    with open(path, "a") as f:
        f.write(line[40:])
    done = await sync(store, {})
    assert (done.read, done.entries) == (1, 1)
    assert done.bytes_read == len(line.encode())  # from the offset, not from the start
    assert await _texts(store, "index on users") == [
        (claude, "agent", "add an index on users.email")
    ]
    assert (await sync(store, {})).read == 0


async def test_a_bad_line_is_skipped_with_a_message_and_nothing_is_lost(store, tmp_path):
    claude, path = await _import(store, tmp_path, "claude")
    with open(path, "a") as f:
        f.write('{"type":"user","message":{"role":"user","content":"cut off he\n')
        f.write("\n")
        f.write(claude_line(CLAUDE_ID, tmp_path, "after the broken line"))
    report = await sync(store, {})
    assert report.problems == [f"{path}:8: not a JSON line; skipped"]
    assert report.entries == 1
    assert await _texts(store, "after the broken line") == [
        (claude, "agent", "after the broken line")
    ]
    assert len(await _texts(store, "users")) == 3  # what was there before is all there


async def test_a_rewritten_transcript_is_read_again_from_the_start(store, tmp_path):
    claude, path = await _import(store, tmp_path, "claude")
    path.write_text(claude_line(CLAUDE_ID, tmp_path, "a shorter conversation"))
    report = await sync(store, {})
    assert report.entries == 1
    assert await _texts(store, "migrate") == []
    assert await _texts(store, "shorter conversation") == [
        (claude, "agent", "a shorter conversation")
    ]


async def test_a_purged_session_takes_its_conversation_and_index_entries(store, tmp_path):
    claude, _ = await _import(store, tmp_path, "claude")
    await store.sessions.purge([claude])
    assert await _texts(store, "migrate") == []
    assert await store.scalar("SELECT count(*) FROM transcript_entries") == 0
    assert await store.scalar("SELECT count(*) FROM transcript_files") == 0
    # the external-content index agrees with its (now empty) table
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO transcript_words (transcript_words) VALUES ('integrity-check')"
        )


async def test_a_session_tether_ran_is_linked_to_its_transcript_when_it_appears(store, tmp_path):
    home = tmp_path / "claude"
    s = await store.sessions.create(
        ["claude", "--session-id", CLAUDE_ID],
        tmp_path,
        env={"CLAUDE_CONFIG_DIR": str(home)},
        agent_kind="claude",
        agent_session_id=CLAUDE_ID,
    )
    await store.sessions.set_status(s.id, "running")
    assert (await sync(store)).linked == 0  # no transcript yet (nothing was asked)
    claude_transcript(home, tmp_path)
    report = await sync(store)
    assert (report.linked, report.entries) == (1, 4)
    assert await _texts(store, "migrate the users table") == [
        (s.id, "agent", "migrate the users table to add an email_verified column")
    ]
    assert (await sync(store)).read == 0


async def test_a_codex_session_is_linked_through_its_rollout_file(store, tmp_path):
    home = tmp_path / "codex"
    path = codex_transcript(home, tmp_path)
    s = await store.sessions.create(
        ["codex"],
        tmp_path,
        env={"CODEX_HOME": str(home)},
        agent_kind="codex",
        created_at=1795269700.0,
    )
    # ran when the rollout file says its conversation began
    await store.sessions.set_status(s.id, "running", at=1795269720.0)
    await store.sessions.set_status(s.id, "stopped", at=1795269800.0)
    report = await sync(store)
    assert report.linked == 1
    assert [f.path for f in await _files(store)] == [str(path)]
    assert CODEX_ID in path.name


async def _files(store):
    from storage.engine.transcripts import Transcripts

    return await Transcripts(store).files()


async def test_pages_of_output_and_conversation_hits_hold_every_hit_once(store, tmp_path):
    claude, path = await _import(store, tmp_path, "claude")
    with open(path, "a") as f:  # 25 prompts, a minute apart, among 25 output lines
        for i in range(25):
            f.write(
                claude_line(CLAUDE_ID, tmp_path, f"deploy step {i}", f"2026-11-20T11:{i:02d}:00Z")
            )
    await sync(store, {})
    other = await store.sessions.create(["make"], tmp_path)
    for i in range(25):
        at = 1795172400.0 + i * 60 + 30  # 11:00:30 + i minutes: between two prompts
        await store.output.append(other.id, "stdout", f"deploy output {i}\n".encode(), at)
    await store.output.index_pending()
    seen, page = [], None
    for _ in range(20):
        found = await search(store, parse("deploy"), limit=7, page=page)
        seen += [(h.stream, h.text) for h in found.hits]
        page = found.next_page
        if page is None:
            break
    assert len(seen) == len(set(seen)) == 50
    assert seen[:3] == [
        ("stdout", "deploy output 24"),
        ("agent", "deploy step 24"),
        ("stdout", "deploy output 23"),
    ]


async def test_a_codex_run_of_tether_is_not_imported_again(store, tmp_path):
    home = tmp_path / "codex"
    codex_transcript(home, tmp_path)
    s = await store.sessions.create(
        ["codex"], tmp_path, agent_kind="codex", created_at=1795269700.0
    )  # its id not known yet: only its rollout file says it
    await store.sessions.set_status(s.id, "running", at=1795269720.0)
    await store.sessions.set_status(s.id, "stopped", at=1795269800.0)
    env = {"CODEX_HOME": str(home)}
    report = await import_transcripts(store, "codex", find_files("codex", None, env), env)
    assert report.imported == [] and [i.existing for i in report.skipped] == [s.id]
    assert await store.sessions.count() == 1


async def test_two_readers_of_the_same_new_lines_store_them_once(store, tmp_path):
    from agents.transcripts.index import apply, plan

    claude, path = await _import(store, tmp_path, "claude")
    with open(path, "a") as f:
        f.write(claude_line(CLAUDE_ID, tmp_path, "add an index on users.email"))
    # the TUI and a `tether search` looked at the same moment, then both read the line
    first, second = await plan(store, {}), await plan(store, {})
    assert (await apply(store, first)).entries == 1
    assert (await apply(store, second)).entries == 0
    assert await _texts(store, "index on users") == [
        (claude, "agent", "add an index on users.email")
    ]
