"""Retention policies, cleanup plans, applying them, and purges that give space back.

The policy laws are checked with hypothesis on the pure ``plan_sessions``; the rest
runs on real databases in ``tmp_path``, including a purge killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage import open_store
from storage.engine.cleanup import apply, plan
from storage.engine.purge import db_size, purge_sessions
from storage.models import ACTIVE, ENDED, STATUSES, Session
from storage.retention import (
    DAY,
    PolicyError,
    RetentionPolicy,
    format_age,
    format_size,
    parse_age,
    parse_size,
    plan_sessions,
    session_time,
)
from tests.support.database import assert_output_index_exact, rows, spawn_python

NOW = 1_750_000_000.0


def make_session(
    sid: int,
    *,
    status: str = "succeeded",
    created: float = NOW - 10 * DAY,
    ended: float | None = None,
    pinned: bool = False,
    tags: tuple[str, ...] = (),
    deleted_at: float | None = None,
    size: int = 100,
) -> Session:
    if ended is None and status in ENDED:
        ended = created + 60
    return Session(
        id=sid,
        uid=f"uid-{sid}",
        name="",
        argv=("x",),
        cwd="/",
        env=None,
        mode="pipe",
        status=status,
        exit_code=0,
        signal=None,
        pid=None,
        created_at=created,
        updated_at=ended or created,
        started_at=created,
        ended_at=ended,
        notes="",
        context=None,
        pinned=pinned,
        deleted_at=deleted_at,
        origin="local",
        resume_argv=None,
        run_count=1,
        output_bytes=size,
        output_lines=1,
        last_output_at=None,
        tags=tags,
    )


# -- parsing ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5G", 5 << 30),
        ("500M", 500 << 20),
        ("1.5GiB", int(1.5 * (1 << 30))),
        ("2048", 2048),
        ("10 kb", 10 << 10),
        (4096, 4096),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "5X", "G", "-1G", "1.2.3M", True, -5])
def test_parse_size_rejects(bad):
    with pytest.raises(PolicyError, match="max_size"):
        parse_size(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", 30 * DAY), ("12h", 12 * 3600), ("90m", 5400), ("2w", 14 * DAY), ("45s", 45),
     ("7", 7 * DAY), (1.5, 1.5 * DAY)],
)  # fmt: skip
def test_parse_age(text, expected):
    assert parse_age(text) == expected


@pytest.mark.parametrize("bad", ["", "30x", "d", "-3d", float("nan"), False])
def test_parse_age_rejects(bad):
    with pytest.raises(PolicyError, match="max_age"):
        parse_age(bad)


def test_format_helpers():
    assert format_size(512) == "512 B"
    assert format_size(3 << 30) == "3.0 GiB"
    assert format_age(45) == "45s"
    assert format_age(3 * DAY) == "3d"
    assert format_age(36 * 3600) == "1.5d"


def test_override_keeps_unset_values():
    base = RetentionPolicy(max_age=DAY, keep_newest=5)
    changed = base.override(keep_newest=3, max_total_bytes=None)
    assert changed.keep_newest == 3 and changed.max_age == DAY
    with pytest.raises(PolicyError):
        base.override(statuses=frozenset({"paused"}))


# -- the plan: examples ----------------------------------------------------------------
def test_plan_reasons_and_protection():
    sessions = [
        make_session(1, created=NOW - 40 * DAY),  # old: age
        make_session(2, created=NOW - 40 * DAY, pinned=True),  # old but pinned
        make_session(3, created=NOW - 40 * DAY, tags=("keep",)),  # old but protected
        make_session(4, created=NOW - 40 * DAY, status="running", ended=None),
        make_session(5, created=NOW - 1 * DAY),  # recent
        make_session(6, created=NOW - 20 * DAY, deleted_at=NOW - 8 * DAY),  # trash: expired
        make_session(7, created=NOW - 20 * DAY, deleted_at=NOW - 2 * DAY),  # trash: recent
    ]
    p = plan_sessions(sessions, RetentionPolicy(max_age=30 * DAY, trash_days=7), NOW)
    assert p.ids == (1, 6)
    rules = {i.session.id: (i.rule, i.reason) for i in p.items}
    assert rules[1][0] == "age" and "over 30d" in rules[1][1]
    assert rules[6][0] == "trash" and "over 7d" in rules[6][1]
    assert p.bytes == 200 and p.total_bytes == 700 and p.sessions == 7


def test_plan_size_cap_takes_trash_first_then_oldest():
    sessions = [
        make_session(1, created=NOW - 5 * DAY, size=400),
        make_session(2, created=NOW - 4 * DAY, size=400),
        make_session(3, created=NOW - 3 * DAY, size=400, deleted_at=NOW - DAY),
        make_session(4, created=NOW - 2 * DAY, size=400, pinned=True),
    ]
    p = plan_sessions(sessions, RetentionPolicy(max_total_bytes=900, trash_days=None), NOW)
    assert set(p.ids) == {3, 1}  # trash first, then the oldest eligible
    assert all(i.rule == "size" for i in p.items)
    assert not p.warnings
    tight = plan_sessions(sessions, RetentionPolicy(max_total_bytes=100, trash_days=None), NOW)
    assert set(tight.ids) == {1, 2, 3}  # the pinned one stays
    assert tight.warnings and "400 B of output stays" in tight.warnings[0]


def test_plan_statuses_filter():
    sessions = [
        make_session(1, status="failed"),
        make_session(2, status="succeeded"),
        make_session(3, status="lost"),
    ]
    p = plan_sessions(sessions, RetentionPolicy(keep_newest=0, statuses=frozenset({"failed"})), NOW)
    assert p.ids == (1,)


# -- the plan: laws --------------------------------------------------------------------
session_lists = st.lists(
    st.builds(
        dict,
        status=st.sampled_from(STATUSES),
        age=st.one_of(
            st.sampled_from([0.0, DAY - 1, DAY, DAY + 0.001, 2 * DAY]),
            st.floats(0, 60 * DAY),
        ),
        pinned=st.booleans(),
        tag=st.sampled_from([(), ("keep",), ("other",), ("keep", "other")]),
        trashed=st.sampled_from([None, 0.5 * DAY, 7 * DAY, 7 * DAY + 1, 30 * DAY]),
        size=st.integers(0, 1000),
    ),
    max_size=40,
)
policies = st.builds(
    RetentionPolicy,
    max_age=st.one_of(st.none(), st.sampled_from([DAY, 3 * DAY]), st.floats(0, 40 * DAY)),
    keep_newest=st.one_of(st.none(), st.integers(0, 45)),
    max_total_bytes=st.one_of(st.none(), st.integers(0, 40_000)),
    statuses=st.frozensets(st.sampled_from(sorted(ENDED)), min_size=1),
    protected_tags=st.sampled_from([frozenset(), frozenset({"keep"})]),
    trash_days=st.one_of(st.none(), st.sampled_from([0.0, 7.0])),
)


def build(specs: list[dict]) -> list[Session]:
    out = []
    for i, spec in enumerate(specs, 1):
        active = spec["status"] in ACTIVE
        created = NOW - spec["age"] - (0 if active else 60)
        out.append(
            make_session(
                i,
                status=spec["status"],
                created=created - (i % 3),  # some equal creation times, ids break ties
                ended=None if active else NOW - spec["age"],
                pinned=spec["pinned"],
                tags=spec["tag"],
                deleted_at=NOW - spec["trashed"] if spec["trashed"] is not None else None,
                size=spec["size"],
            )
        )
    return out


@settings(max_examples=300, deadline=None)
@given(session_lists, policies)
def test_plan_never_selects_protected(specs, policy):
    sessions = build(specs)
    selected = set(plan_sessions(sessions, policy, NOW).ids)
    for s in sessions:
        if s.pinned or s.status in ACTIVE or policy.protected_tags & set(s.tags):
            assert s.id not in selected
        if not s.trashed and s.status not in policy.statuses:
            assert s.id not in selected


@settings(max_examples=300, deadline=None)
@given(session_lists, st.integers(0, 45))
def test_keep_n_keeps_exactly_the_newest_n_eligible(specs, n):
    sessions = build(specs)
    policy = RetentionPolicy(keep_newest=n, trash_days=None)
    selected = set(plan_sessions(sessions, policy, NOW).ids)
    eligible = [s for s in sessions if not s.trashed and policy.protects(s) is None and s.ended]
    eligible.sort(key=lambda s: (s.created_at, s.id), reverse=True)
    kept = [s.id for s in eligible if s.id not in selected]
    assert kept == [s.id for s in eligible[:n]]
    assert selected == {s.id for s in eligible[n:]}


@settings(max_examples=300, deadline=None)
@given(session_lists, st.sampled_from([0.0, DAY, DAY - 1, DAY + 0.001, 2 * DAY]))
def test_age_boundary_is_exact(specs, max_age):
    sessions = build(specs)
    policy = RetentionPolicy(max_age=max_age, trash_days=None)
    selected = set(plan_sessions(sessions, policy, NOW).ids)
    for s in sessions:
        eligible = not s.trashed and policy.protects(s) is None and s.ended
        assert (s.id in selected) == (eligible and NOW - session_time(s) > max_age)


@settings(max_examples=300, deadline=None)
@given(session_lists, st.integers(0, 20_000))
def test_size_cap_is_met_or_explained(specs, cap):
    sessions = build(specs)
    p = plan_sessions(sessions, RetentionPolicy(max_total_bytes=cap, trash_days=None), NOW)
    left = sum(s.output_bytes for s in sessions) - p.bytes
    assert left <= cap or p.warnings
    # The rule stops as soon as the cap is met: without the last session it chose (at
    # most the largest), the output would still be over the cap.
    if p.items and not p.warnings:
        assert left + max(i.bytes for i in p.items) > cap
    if not p.items:
        assert sum(s.output_bytes for s in sessions) <= cap or p.warnings


@settings(max_examples=200, deadline=None)
@given(session_lists, st.sampled_from([0.0, 7.0]))
def test_trash_rule(specs, days):
    sessions = build(specs)
    policy = RetentionPolicy(trash_days=days)
    selected = set(plan_sessions(sessions, policy, NOW).ids)
    for s in sessions:
        expired = s.trashed and NOW - s.deleted_at > days * DAY and policy.protects(s) is None
        assert (s.id in selected) == expired


# -- real databases --------------------------------------------------------------------
LINE = b"%d build step %d of mark%dq: compiling module_%d with flags -O2 \x1b[32mok\x1b[0m\n"


async def make_ended(store, *, created, ended, size_lines=50, tags=(), name="", index=True):
    s = await store.sessions.create(["make", name or "x"], cwd="/", created_at=created, tags=tags)
    await store.runs.start(s.id, at=created)
    data = b"".join(LINE % (i, i, s.id, i % 97) for i in range(size_lines))
    await store.output.append(s.id, "stdout", data, at=created + 1, index=index)
    await store.runs.finish(s.id, exit_code=0, at=ended)
    return await store.sessions.require(s.id)


def table_ids(path, sql) -> set[int]:
    return {r[0] for r in rows(path, sql)}


def assert_gone(path: Path, ids: set[int]) -> None:
    q = ",".join(map(str, ids)) or "0"
    assert not table_ids(path, f"SELECT id FROM sessions WHERE id IN ({q})")
    assert not table_ids(path, f"SELECT session_id FROM runs WHERE session_id IN ({q})")
    assert not table_ids(path, f"SELECT session_id FROM session_tags WHERE session_id IN ({q})")
    assert not table_ids(path, f"SELECT session_id FROM output_chunks WHERE session_id IN ({q})")
    assert not table_ids(path, f"SELECT rowid FROM sessions_fts WHERE rowid IN ({q})")
    assert_output_index_exact(path)


async def test_plan_on_a_real_store(store):
    t = time.time()
    old = await make_ended(store, created=t - 50 * DAY, ended=t - 40 * DAY)
    new = await make_ended(store, created=t - 2 * DAY, ended=t - DAY)
    kept = await make_ended(store, created=t - 50 * DAY, ended=t - 40 * DAY, tags=["keep"])
    pinned = await make_ended(store, created=t - 50 * DAY, ended=t - 40 * DAY)
    await store.sessions.update(pinned.id, pinned=True)
    running = await store.sessions.create(["sleep"], cwd="/", created_at=t - 60 * DAY)
    await store.runs.start(running.id, at=t - 60 * DAY)
    trashed = await make_ended(store, created=t - 3 * DAY, ended=t - 3 * DAY)
    await store.sessions.trash([trashed.id])
    p = await plan(store, RetentionPolicy(max_age=30 * DAY), now=t)
    assert p.ids == (old.id,)
    later = await plan(store, RetentionPolicy(max_age=30 * DAY, trash_days=7), now=t + 8 * DAY)
    assert set(later.ids) == {old.id, trashed.id}
    everything = await plan(store, RetentionPolicy(keep_newest=0, protected_tags=frozenset()), t)
    assert set(everything.ids) == {old.id, new.id, kept.id}


@pytest.mark.parametrize("strategy", ["per-chunk", "rebuild"])
async def test_purge_is_complete_and_shrinks_the_file(db_path, strategy):
    t = time.time()
    async with open_store(db_path) as store:
        doomed, stay = [], []
        for i in range(12):
            s = await make_ended(
                store,
                created=t - 10 * DAY + i,
                ended=t - 9 * DAY,
                size_lines=6000,
                tags=["ci", f"n{i}"],
                index=i % 3 != 0,  # some output not indexed yet
            )
            await store.sessions.set_status(s.id, "pending")  # a second run ...
            await store.runs.start(s.id)
            await store.runs.finish(s.id, exit_code=1)
            (doomed if i < 8 else stay).append(s.id)
        await store.reclaim_space()
        before = db_size(store)
        purged_bytes = sum([(await store.sessions.require(i)).output_bytes for i in doomed])
        marks = ",".join("?" * len(doomed))
        stored = await store.scalar(  # what the purged output takes in the file (compressed)
            f"SELECT sum(length(data)) FROM output_chunks WHERE session_id IN ({marks})", doomed
        )
        stay_bytes = {i: await store.output.read_bytes(i) for i in stay}
        secure = await store.scalar("PRAGMA secure_delete")
        result = await purge_sessions(store, doomed, strategy=strategy)
        assert await store.scalar("PRAGMA secure_delete") == secure  # put back as it was
        assert result.strategy == strategy
        assert set(result.purged) == set(doomed)
        assert result.bytes == purged_bytes
        after = db_size(store)
        for i, data in stay_bytes.items():  # what stays is untouched and still found
            assert await store.output.read_bytes(i) == data
        hits = await store.search(f"mark{stay[-1]}q", limit=5)
        assert hits and {h.session_id for h in hits} == {stay[-1]}
        assert not await store.search(f"mark{doomed[-1]}q")
        assert (await store.integrity_check()).ok
        entries = await store.audit.list(action="purge", limit=100)
        assert {e.session_id for e in entries} == set(doomed)
    assert_gone(db_path, set(doomed))
    assert result.size_before == before and result.size_after == after
    if strategy == "per-chunk":
        # The per-chunk way leaves delete markers in the output index until it is
        # merged; with output compressed at rest they take about what the purged chunks
        # gave back (measured: 25 KB of 200 KB). The file must not grow, and once the
        # index is merged the purged output's space comes back.
        assert after <= before, (before, after)
        async with open_store(db_path) as store:
            async with store.transaction() as db:
                await db.execute("INSERT INTO output_words (output_words) VALUES ('optimize')")
            await store.reclaim_space()
            after = db_size(store)
    assert before - after >= 0.8 * stored, (before, after, stored)


async def test_purge_picks_rebuild_only_when_cheaper(store):
    t = time.time()
    big = [await make_ended(store, created=t, ended=t, size_lines=3000) for _ in range(3)]
    small = await make_ended(store, created=t, ended=t, size_lines=10)
    few = await purge_sessions(store, [small.id], reclaim=False)
    assert few.strategy == "per-chunk"  # far more stays than goes
    most = await purge_sessions(store, [b.id for b in big[:2]], reclaim=False)
    assert most.strategy == "rebuild"
    assert_output_index_exact(store.path)


async def test_apply_purges_audits_and_skips_what_changed(db_path, tmp_path):
    t = time.time()
    async with open_store(db_path) as store:
        old = [
            await make_ended(store, created=t - 50 * DAY + i, ended=t - 40 * DAY) for i in range(6)
        ]
        p = await plan(store, RetentionPolicy(max_age=30 * DAY), now=t)
        assert set(p.ids) == {s.id for s in old}
        await store.sessions.update(old[0].id, pinned=True)  # the user changes their mind
        await store.sessions.add_tags(old[1].id, ["keep"])
        await store.sessions.update(old[2].id, notes="look at this")
        seen = []
        result = await apply(
            store,
            p,
            progress=seen.append,
            backup_dir=tmp_path / "backups",
            backup_over=2,
            is_alive=lambda sid: sid == old[3].id,
        )
        assert set(result.purged) == {old[4].id, old[5].id}
        skipped = dict(result.skipped)
        assert skipped[old[0].id] == "now pinned"
        assert skipped[old[1].id] == "now tagged keep"
        assert skipped[old[2].id] == "changed since the plan was made"
        assert skipped[old[3].id] == "its supervisor is still running"
        assert seen and seen[-1].phase == "reclaim"
        assert [await store.sessions.get(s.id) is None for s in old] == [False] * 4 + [True] * 2
        purge_log = {e.session_id: e.detail for e in await store.audit.list(action="purge")}
        assert purge_log[old[4].id]["rule"] == "age"
        assert "over 30d" in purge_log[old[4].id]["reason"]
        (summary,) = await store.audit.list(action="cleanup")
        assert summary.detail["sessions"] == 2 and summary.detail["skipped"] == 4
        # Two sessions are not more than backup_over=2: no backup.
        assert result.backup is None


async def test_apply_backs_up_first_over_the_threshold(db_path, tmp_path):
    t = time.time()
    backups = tmp_path / "backups"
    async with open_store(db_path) as store:
        made = []
        for _ in range(2):
            for _ in range(4):
                made.append(await make_ended(store, created=t - 9 * DAY, ended=t - 9 * DAY))
            p = await plan(store, RetentionPolicy(max_age=DAY), now=t)
            assert len(p.items) == 4
            result = await apply(store, p, backup_dir=backups, backup_over=3, keep_backups=1)
            assert result.backup is not None and result.backup.parent == backups
            # The backup holds the sessions as they were before the purge.
            assert {r[0] for r in rows(result.backup, "SELECT id FROM sessions")} == set(p.ids)
            assert oct(os.stat(result.backup).st_mode & 0o777) == "0o600"
            assert not (await plan(store, RetentionPolicy(max_age=DAY), now=t)).items
        # Rotated down to keep_backups=1: only the newest is left.
        assert [p.name for p in backups.iterdir()] == [result.backup.name]


# -- kill -9 in the middle of a purge ------------------------------------------------
_PURGER = r"""
import asyncio, sys
from storage import open_store
from storage.engine.purge import purge_sessions
path, strategy, ids = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
async def main():
    async with open_store(path) as store:
        def tick(p):
            print(p.phase, p.sessions_done, flush=True)
        print("start", flush=True)
        await purge_sessions(store, ids, strategy=strategy, progress=tick)
        print("done", flush=True)
asyncio.run(main())
"""


def fingerprint(path: Path) -> dict[int, tuple]:
    """What makes each session whole: its row, runs, tags, chunks and their bytes."""
    out: dict[int, tuple] = {}
    for (sid,) in rows(path, "SELECT id FROM sessions"):
        out[sid] = (
            tuple(rows(path, "SELECT output_bytes, output_lines FROM sessions WHERE id=?", [sid])),
            tuple(rows(path, "SELECT number FROM runs WHERE session_id=? ORDER BY 1", [sid])),
            tuple(rows(path, "SELECT tag FROM session_tags WHERE session_id=? ORDER BY 1", [sid])),
            tuple(
                rows(
                    path,
                    "SELECT id, first_line, length(plain(data, plain_size)), indexed "
                    "FROM output_chunks WHERE session_id=? ORDER BY first_line",
                    [sid],
                )
            ),
            tuple(rows(path, "SELECT rowid FROM sessions_fts WHERE rowid=?", [sid])),
        )
    return out


@pytest.mark.parametrize("strategy", ["per-chunk", "rebuild"])
def test_kill_9_during_purge_leaves_each_session_whole_or_gone(tmp_path, strategy):
    template = tmp_path / "template.db"
    t = time.time()

    async def build_db():
        async with open_store(template) as store:
            ids = []
            for i in range(24):
                s = await make_ended(
                    store, created=t - DAY + i, ended=t, size_lines=500, tags=[f"t{i % 4}"]
                )
                ids.append(s.id)
            await store.db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
            return ids

    ids = asyncio.run(build_db())
    whole = fingerprint(template)
    doomed = ids[:18]
    rnd = random.Random(strategy)
    outcomes = []
    for attempt in range(4):
        db = tmp_path / f"kill-{attempt}.db"
        db.write_bytes(template.read_bytes())
        proc = spawn_python(_PURGER, str(db), strategy, ",".join(map(str, doomed)))
        assert proc.stdout.readline().strip() == "start", proc.stderr.read()
        # Kill after a random number of progress lines: each comes from inside the
        # purge (for the rebuild, from inside its one transaction).
        seen = []
        for _ in range(rnd.randint(0, 20)):
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line.split()[0])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
        after = fingerprint(db)
        for sid, print_ in after.items():
            assert print_ == whole[sid], f"session #{sid} is neither whole nor gone"
        assert set(after) >= set(ids[18:])  # the others were never touched
        if strategy == "rebuild" and "reclaim" not in seen:
            assert set(after) == set(ids)  # killed inside the one transaction: all whole
        con = sqlite3.connect(db)
        try:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            con.execute("INSERT INTO output_words (output_words) VALUES ('integrity-check')")
        finally:
            con.close()
        # Index entries for exactly the chunks that are left (the full posting-by-posting
        # comparison is slow, so it runs on the last attempt only).
        docs = {r[0] for r in rows(db, "SELECT id FROM output_words_docsize")}
        assert docs == {r[0] for r in rows(db, "SELECT id FROM output_chunks WHERE indexed=2")}
        if attempt == 3:
            assert_output_index_exact(db)
        outcomes.append(len(after))
    # The kills landed in different places (not all before or all after the work).
    assert len(set(outcomes)) > 1 or strategy == "rebuild", outcomes  # not all at one point


def test_purger_script_runs_to_the_end(tmp_path):
    """The script the kill test interrupts really purges when left alone."""
    db = tmp_path / "t.db"

    async def build_db():
        async with open_store(db) as store:
            return [(await make_ended(store, created=1.0, ended=2.0)).id for _ in range(3)]

    ids = asyncio.run(build_db())
    proc = spawn_python(_PURGER, str(db), "per-chunk", ",".join(map(str, ids)))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "done"
    assert not rows(db, "SELECT id FROM sessions")
