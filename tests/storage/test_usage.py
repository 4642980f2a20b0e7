"""storage.engine.usage, storage.engine.metrics and storage.quota on real database files:
the split of the file (page by page and estimated), groups, days, the trend, metrics
samples, and the quota levels."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from storage import open_store
from storage.engine import metrics, usage
from storage.engine.metrics import Sample
from storage.quota import QuotaState, backups_bytes, database_bytes, measure

DAY = 86400.0


async def _session(store, name, lines, *, at, tags=(), cwd="/src/a", index=True):  # type: ignore[no-untyped-def]
    s = await store.sessions.create(["make", name], cwd=cwd, name=name, tags=tags, created_at=at)
    await store.runs.start(s.id, at=at)
    text = "".join(f"{name} {i} some words of output {i * 7}\n" for i in range(lines))
    await store.output.append(s.id, "stdout", text.encode(), at + 1, index=index)
    await store.runs.finish(s.id, exit_code=0, at=at + 2)
    return await store.sessions.get(s.id)


@pytest.fixture
async def filled(store):  # type: ignore[no-untyped-def]
    now = time.time()
    a = await _session(store, "alpha", 20000, at=now - 3 * DAY, tags=("ci",))
    b = await _session(store, "beta", 5000, at=now - 1 * DAY, tags=("ci", "ml"), cwd="/src/b")
    c = await _session(store, "gamma", 2000, at=now - 3600)
    await store.sessions.trash([c.id])
    return store, now, {"alpha": a, "beta": b, "gamma": c}


async def test_the_exact_split_accounts_for_the_file(filled) -> None:  # type: ignore[no-untyped-def]
    store, _, made = filled
    s = await usage.space(store, exact=True)
    parts = s.output + s.trash + s.index + s.other + s.free
    assert s.exact and s.database == store.path.stat().st_size
    assert s.total == s.database + s.wal  # no backups here
    # dbstat counts every page of every table and index; only the pointer map and
    # the lock-byte page are left out
    assert 0.9 * s.content <= parts <= s.content
    assert s.output > 0 and s.index > 0 and s.other > 0
    captured = sum(x.output_bytes for x in made.values())
    assert s.trash == pytest.approx(
        (s.output + s.trash) * made["gamma"].output_bytes / captured, abs=1
    )


async def test_the_estimate_is_close_to_the_exact_split(filled) -> None:  # type: ignore[no-untyped-def]
    store, _, _ = filled
    exact = await usage.space(store, exact=True)
    estimate = await usage.space(store)
    assert not estimate.exact and estimate.other == 0
    assert estimate.content == exact.content and estimate.free == exact.free
    # the chunks' stored bytes (compressed or not), without their b-tree pages
    stored = await store.scalar("SELECT sum(length(data)) FROM output_chunks")
    assert estimate.output + estimate.trash == stored <= exact.output + exact.trash
    used = estimate.content - estimate.free
    assert estimate.output + estimate.trash + estimate.index == used


async def test_groups(filled) -> None:  # type: ignore[no-untyped-def]
    store, _, made = filled
    a, b, c = made["alpha"], made["beta"], made["gamma"]
    by_tag = {g.key: g for g in await usage.groups(store, "tag")}
    assert by_tag["ci"].sessions == 2 and by_tag["ci"].bytes == a.output_bytes + b.output_bytes
    assert by_tag["ml"].bytes == b.output_bytes and by_tag["(no tag)"].bytes == c.output_bytes
    by_cwd = {g.key: g.bytes for g in await usage.groups(store, "cwd")}
    assert by_cwd == {"/src/a": a.output_bytes + c.output_bytes, "/src/b": b.output_bytes}
    by_status = {g.key: g.sessions for g in await usage.groups(store, "status")}
    assert by_status == {"succeeded": 2, "trash": 1}
    sessions = await usage.groups(store, "session", limit=2)
    assert [g.key for g in sessions] == [f"#{a.id} alpha", f"#{b.id} beta"]
    days = await usage.groups(store, "day")
    assert [d.key for d in days] == sorted((d.key for d in days), reverse=True)
    assert sum(d.bytes for d in days) == a.output_bytes + b.output_bytes + c.output_bytes
    assert sum(d.lines for d in days) == 27000
    with pytest.raises(ValueError, match="choose one of"):
        await usage.groups(store, "colour")


async def test_output_per_day_fills_the_days_without_output(filled) -> None:  # type: ignore[no-untyped-def]
    store, now, made = filled
    days = await usage.per_day(store, 7, now=now)
    assert len(days) == 7 and days[-1].key == time.strftime("%Y-%m-%d", time.localtime(now))
    assert [d.key for d in days] == sorted(d.key for d in days)
    assert sum(d.bytes for d in days) == sum(s.output_bytes for s in made.values())
    assert sum(1 for d in days if d.bytes) <= 3 and any(d.bytes == 0 for d in days)


def test_the_trend_prefers_size_samples_over_an_hour() -> None:
    now = 100 * DAY
    sizes = [Sample(now - 2 * DAY, 1000), Sample(now, 3000)]
    t = usage.trend_of(sizes, [], now)
    assert t.source == "database size" and t.bytes_per_day == pytest.approx(1000)
    assert t.days_to(3000, 13000) == pytest.approx(10)
    assert t.days_to(14000, 13000) is None
    days = [usage.Group(f"d{i}", 1, 700, 1) for i in range(7)]
    close = [Sample(now - 60, 1000), Sample(now, 1100)]  # a minute apart: not enough
    t = usage.trend_of(close, days, now)
    assert t.source == "output captured" and t.bytes_per_day == 700
    assert usage.trend_of([], [], now).bytes_per_day is None


async def test_usage_as_a_whole(filled) -> None:  # type: ignore[no-untyped-def]
    store, now, made = filled
    await metrics.record(store, "db_bytes", 1000, at=now - 2 * DAY)
    await metrics.record(store, "db_bytes", 5000, at=now - DAY)
    await metrics.record(store, "search_ms", 12.5, at=now - 60)
    u = await usage.usage(store, top=2, days=5, now=now)
    assert [s.label for s in u.top] == ["alpha", "beta"]
    assert (u.sessions, u.trashed) == (2, 1)
    assert [s.value for s in u.db_sizes] == [1000, 5000]
    assert u.trend.source == "database size" and u.trend.bytes_per_day == pytest.approx(4000)
    assert u.figures["search_ms"]["latest"] == 12.5 and u.figures["index_lag"] is None
    first = await usage.usage(store, top=2, days=5, now=now, chunks=False)
    assert first.days == () and not first.space.split and first.space.output == 0
    assert first.space.content == u.space.content and first.top == u.top
    assert first.trend == u.trend  # from the size samples, not the days
    j = u.to_json()
    assert set(j) == {
        "at",
        "space",
        "sessions",
        "trashed",
        "top",
        "days",
        "db_sizes",
        "trend",
        "metrics",
    }
    assert j["space"]["split"] is True
    assert j["space"]["total"] == u.space.total and j["db_sizes"][1] == {
        "at": now - DAY,
        "bytes": 5000,
    }


async def test_metrics_record_read_and_prune(store) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    await metrics.record_many(store, [("index_lag", 2.0, 7), ("index_lag", 4.0, 8)], at=now - 10)
    await metrics.record(store, "index_lag", 1.0, session_id=7, at=now - 100 * DAY)
    assert [s.value for s in await metrics.series(store, "index_lag", since=now - DAY)] == [
        2.0,
        4.0,
    ]
    assert [s.value for s in await metrics.series(store, "index_lag", session_id=7)] == [1.0, 2.0]
    summary = await metrics.summary(store, "index_lag", since=now - DAY)
    assert summary == {"samples": 2, "mean": 3.0, "max": 4.0, "latest": 4.0}
    assert await metrics.prune(store, now=now) == 1
    with pytest.raises(ValueError, match="unknown metric"):
        await metrics.record(store, "cpu", 1.0)


async def test_db_bytes_is_sampled_at_most_once_a_minute(store) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    before = database_bytes(store.path)
    size = await metrics.sample_db_bytes(store, now=now)
    assert size == before
    assert await metrics.sample_db_bytes(store, now=now + 30) is None
    assert await metrics.sample_db_bytes(store, now=now + 60) is not None
    assert len(await metrics.series(store, "db_bytes")) == 2


async def test_a_sessions_capture_rate_and_index_lag(store) -> None:  # type: ignore[no-untyped-def]
    s = await store.sessions.create(["yes"], cwd="/")
    await store.runs.start(s.id)
    t0 = time.time()
    mark = await metrics.sample_session(store, s.id, None, now=t0)
    assert mark is not None and mark.output_bytes == 0
    await store.output.append(s.id, "stdout", b"x" * 9999 + b"\n", t0 + 1, index=False)
    mark = await metrics.sample_session(store, s.id, mark, now=t0 + 10)
    assert mark.output_bytes == 10000
    (rate,) = await metrics.series(store, "capture_rate")
    (lag,) = await metrics.series(store, "index_lag")
    assert rate.value == pytest.approx(1000) and rate.session_id == s.id
    assert lag.value == pytest.approx(9)  # written at t0+1, not searchable at t0+10
    await metrics.sample_session(store, s.id, mark, now=t0 + 20)  # quiet, lag left
    await store.output.index_pending()
    quiet = await metrics.sample_session(store, s.id, mark, now=t0 + 30)  # quiet, indexed
    assert quiet is not None
    assert [x.value for x in await metrics.series(store, "index_lag")] == pytest.approx([9, 19])
    assert await metrics.sample_session(store, 999, None) is None


def test_record_quietly_never_waits_for_a_busy_database(tmp_path) -> None:
    db = tmp_path / "t.db"

    async def make() -> None:
        async with open_store(db):
            pass

    asyncio.run(make())
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    started = time.monotonic()
    assert not metrics.record_quietly(db, "search_ms", 3.0)
    assert time.monotonic() - started < 1.0  # dropped, not waited for (busy_timeout is 5 s+)
    holder.execute("ROLLBACK")
    assert metrics.record_quietly(db, "search_ms", 3.0)
    holder.close()


def test_quota_levels_and_what_they_count(tmp_path) -> None:
    assert QuotaState(1000, 799).level == "ok"
    assert QuotaState(1000, 800).level == "near"
    assert QuotaState(1000, 1000).level == "over"
    assert "over its" in QuotaState(1000, 1500).message()
    db = tmp_path / "t.db"
    db.write_bytes(b"x" * 300)
    (tmp_path / "t.db-wal").write_bytes(b"x" * 200)
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "one.db").write_bytes(b"x" * 500)
    (backups / "link").symlink_to(db)  # a link is not a backup file
    assert backups_bytes(backups) == (500, 1)
    state = measure(1250, db, backups)
    assert state.used == 1000 and state.level == "near"
    assert measure(1000, db, None).used == 500
