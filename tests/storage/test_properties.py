"""The storage laws, as hypothesis properties:

- ids and uids are unique under concurrent creates from several processes;
- timestamps are consistent: created <= started <= ended, updated never goes back;
- a session read after closing and reopening the store equals what was written;
- ``append`` then ``read_lines`` over any range gives exactly the appended lines, in
  order, with their streams (checked against a model of the documented line rules);
- ``purge`` leaves no rows, chunks, tags or index entries.

Every example uses its own database file. Sizes and example counts are chosen so the
whole module runs in well under half a minute on two cores.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import STREAMS, IllegalTransition, open_store
from storage.engine.chunks import CHUNK_BYTES
from storage.engine.search import search_sessions
from storage.models import TRANSITIONS
from tests.support.database import (
    assert_output_index_exact,
    check_unique_ids,
    create_concurrently,
    expected_postings,
    fts_postings,
    rows,
)

LIMIT = CHUNK_BYTES
NO_HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def run(coro_fn, *args):
    """Run an async scenario against a fresh database file."""
    with tempfile.TemporaryDirectory() as d:
        return asyncio.run(coro_fn(Path(d) / "t.db", *args))


# -- ids and uids under concurrent creates -----------------------------------------------


@settings(max_examples=3, deadline=None, suppress_health_check=NO_HEALTH)
@given(st.lists(st.integers(1, 25), min_size=2, max_size=4))
def test_ids_and_uids_unique_under_concurrent_creates(counts):
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "t.db"
        asyncio.run(_create_empty(db))
        results = create_concurrently(db, Path(d), counts)
        check_unique_ids(db, results)
        assert rows(db, "SELECT count(*) FROM sessions") == [(sum(counts),)]


async def _create_empty(db: Path) -> None:
    async with open_store(db):
        pass


# -- timestamps --------------------------------------------------------------------------

_TIME_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("status"), st.sampled_from(sorted(TRANSITIONS))),
        st.tuples(st.just("start")),
        st.tuples(st.just("finish"), st.sampled_from([0, 1, None])),
        st.tuples(st.just("append")),
        st.tuples(st.just("update")),
        st.tuples(st.just("tag")),
        st.tuples(st.just("trash")),
    ).flatmap(
        lambda op: st.tuples(
            st.just(op), st.floats(-1000, 1000, allow_nan=False).map(lambda x: round(x, 3))
        )
    ),
    max_size=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=NO_HEALTH)
@given(_TIME_OPS)
def test_timestamps_are_consistent(ops):
    run(_timestamps, ops)


async def _timestamps(db: Path, ops) -> None:
    created = 1_700_000_000.0  # in the past, so "now" stamps are later
    async with open_store(db) as store:
        s = await store.sessions.create(["x"], cwd="/", created_at=created)
        last_updated = s.updated_at
        for (op, *args), dt in ops:
            at = created + dt  # may be before creation: a clock that stepped back
            try:
                if op == "status":
                    await store.sessions.set_status(s.id, args[0], at=at, exit_code=1)
                elif op == "start":
                    await store.runs.start(s.id, at=at)
                elif op == "finish":
                    await store.runs.finish(s.id, exit_code=args[0], at=at)
                elif op == "append":
                    await store.output.append(s.id, "stdout", b"x\n", at=at)
                elif op == "update":
                    await store.sessions.update(s.id, notes=str(dt))
                elif op == "tag":
                    await store.sessions.add_tags(s.id, [f"t{int(abs(dt))}"])
                else:
                    await store.sessions.trash([s.id])
                    await store.sessions.restore([s.id])
            except IllegalTransition:
                pass
            now = await store.sessions.get(s.id)
            assert now.created_at == created
            assert now.updated_at >= last_updated
            assert now.updated_at >= now.created_at
            last_updated = now.updated_at
            if now.started_at is not None:
                assert now.created_at <= now.started_at
            if now.ended_at is not None:
                assert (now.started_at or now.created_at) <= now.ended_at
                assert now.created_at <= now.ended_at
            for r in await store.runs.list(s.id):
                assert r.started_at >= created
                assert r.ended_at is None or r.ended_at >= r.started_at


# -- a session survives reopening --------------------------------------------------------

_TEXT = st.text(max_size=30)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=10,
)
_TAG = st.text(
    st.characters(blacklist_categories=("Z", "C"), blacklist_characters=","),
    min_size=1,
    max_size=10,
)
_SESSION = st.fixed_dictionaries(
    {
        "argv": st.lists(_TEXT, min_size=1, max_size=4),
        "cwd": st.text(min_size=1, max_size=40),
        "name": st.none() | _TEXT,
        "mode": st.sampled_from(["pipe", "pty"]),
        "tags": st.lists(_TAG, max_size=4),
        "context": _JSON,
        "env": st.none() | st.dictionaries(_TEXT, _TEXT, min_size=1, max_size=3),
        "resume_argv": st.none() | st.lists(_TEXT, min_size=1, max_size=3),
    }
)
_EDIT = st.fixed_dictionaries(
    {},
    optional={
        "name": _TEXT,
        "notes": st.text(max_size=200),
        "context": _JSON,
        "pinned": st.booleans(),
        "resume_argv": st.lists(_TEXT, min_size=1, max_size=3),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=NO_HEALTH)
@given(st.lists(st.tuples(_SESSION, _EDIT), min_size=1, max_size=3))
def test_a_session_read_after_reopening_equals_what_was_written(specs):
    run(_reopen, specs)


async def _reopen(db: Path, specs) -> None:
    written = []
    async with open_store(db) as store:
        for spec, edit in specs:
            s = await store.sessions.create(**spec)
            assert s.argv == tuple(spec["argv"]) and s.cwd == spec["cwd"]
            assert s.name == (spec["name"] or "") and s.mode == spec["mode"]
            assert s.tags == tuple(sorted(set(t.strip() for t in spec["tags"])))
            assert _same_json(s.context, spec["context"])
            assert s.env == (spec["env"] or None)
            assert s.resume_argv == (tuple(spec["resume_argv"]) if spec["resume_argv"] else None)
            if edit:
                s = await store.sessions.update(s.id, **edit)
                for key, value in edit.items():
                    got = getattr(s, key)
                    if key == "resume_argv":
                        value = tuple(value)
                    assert _same_json(got, value), key
            await store.output.append(s.id, "stdout", b"some output\n")
            written.append(await store.sessions.get(s.id))
    async with open_store(db) as store:
        for s in written:
            assert await store.sessions.get(s.id) == s
            assert await store.sessions.get_by_uid(s.uid) == s


def _same_json(a, b) -> bool:
    """Equality for JSON values, where -0.0 == 0.0 and 1 == 1.0 as JSON has it."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b)
    if isinstance(a, list) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return a == b


# -- append then read_lines --------------------------------------------------------------


@dataclass
class MLine:
    stream: str
    raw: bytes
    terminated: bool
    run: int
    at: float


@dataclass
class Model:
    """The documented line rules (storage/output.py): lines split at ``\\n``; an
    unterminated last line is continued by the next append of the same stream in the
    same run; a line is cut only when longer than a chunk: a piece holds at most
    ``CHUNK_BYTES`` bytes, including its newline, and the rest starts a new line."""

    lines: list[MLine] = field(default_factory=list)
    run: int = 0
    status: str = "pending"

    def append(self, stream: str, data: bytes, at: float) -> None:
        segments = data.split(b"\n")
        for i, seg in enumerate(segments):
            terminated = i < len(segments) - 1
            if not terminated and not seg:
                break
            last = self.lines[-1] if self.lines else None
            if (
                last
                and not last.terminated
                and last.stream == stream
                and last.run == self.run
                and len(last.raw) < LIMIT
            ):
                cur = last
            else:
                cur = MLine(stream, b"", False, self.run, at)
                self.lines.append(cur)
            while True:
                room = LIMIT - len(cur.raw)
                if len(seg) + terminated <= room:
                    cur.raw += seg
                    cur.terminated = terminated
                    break
                cur.raw, seg = cur.raw + seg[:room], seg[room:]
                cur = MLine(stream, b"", False, self.run, at)
                self.lines.append(cur)


_SMALL = st.binary(max_size=120) | st.sampled_from(
    [b"\n", b"\r", b"\x1b[31mred\x1b[0m", "ünï\n".encode(), b"\xff\xfe", b"a\nb\nc"]
)
# Long lines are ASCII and end in a newline, so where a cut falls never depends on
# UTF-8 boundaries (that is tested on its own in test_output.py).
_BIG = st.integers(LIMIT - 200, 2 * LIMIT + 200).map(lambda n: b"L" * n + b"\n")
# Many lines with an open end: the finished lines and the open one part ways.
_MEDIUM = st.tuples(st.integers(1, 900), _SMALL).map(
    lambda t: b"".join(b"medium line %05d of output\n" % i for i in range(t[0])) + t[1]
)
_DATA = (
    st.lists(_SMALL, min_size=1, max_size=4).map(b"".join)
    | _BIG
    | _MEDIUM
    | st.tuples(_BIG, _SMALL).map(b"".join)
)
_OUTPUT_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.sampled_from(STREAMS), _DATA),
        st.tuples(st.just("append"), st.sampled_from(STREAMS), _DATA),
        st.tuples(st.just("append"), st.sampled_from(STREAMS), _DATA),
        st.tuples(
            st.just("many"), st.lists(st.tuples(st.sampled_from(STREAMS), _DATA), max_size=4)
        ),
        st.tuples(st.just("start")),
        st.tuples(st.just("finish")),
        st.tuples(st.just("system"), st.text(max_size=20)),
        st.tuples(st.just("noindex"), st.sampled_from(STREAMS), _SMALL),
        st.tuples(st.just("read"), st.integers(-2, 40), st.integers(0, 40)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=NO_HEALTH)
@given(_OUTPUT_OPS)
def test_append_then_read_lines_returns_exactly_the_appended_lines(ops):
    run(_append_law, ops)


async def _append_law(db: Path, ops) -> None:
    model = Model()
    clock = [1_700_000_000.0]

    def tick() -> float:
        clock[0] += 1.0
        return clock[0]

    async with open_store(db) as store:
        sid = (await store.sessions.create(["x"], cwd="/", created_at=clock[0])).id
        for op, *args in ops:
            if op == "append":
                at = tick()
                await store.output.append(sid, args[0], args[1], at=at)
                model.append(args[0], args[1], at)
            elif op == "noindex":
                at = tick()
                await store.output.append(sid, args[0], args[1], at=at, index=False)
                model.append(args[0], args[1], at)
            elif op == "many":
                at = tick()
                await store.output.append_many([(sid, s, d, at) for s, d in args[0]])
                for s, d in args[0]:
                    model.append(s, d, at)
            elif op == "system":
                at = tick()
                await store.output.system(sid, args[0], at=at)
                model.append("system", args[0].rstrip("\n").encode() + b"\n", at)
            elif op == "start":
                at = tick()
                resumed = model.run > 0
                await store.runs.start(sid, at=at)
                if resumed:  # the separator line, whose text is the store's to choose
                    [sep] = await store.output.tail(sid, 1)
                    last = model.lines[-1] if model.lines else None
                    glued = b""  # a stray open system line of this run is continued
                    if (
                        last
                        and not (last.terminated or last.stream != "system")
                        and last.run == model.run
                        and len(last.raw) < LIMIT
                    ):
                        glued = last.raw
                    assert sep.stream == "system" and sep.raw.startswith(glued)
                    text = sep.raw[len(glued) :]
                    assert text.decode().startswith(f"── run {model.run + 1} · ")
                    model.append("system", text + b"\n", at)
                model.run += 1
                model.status = "running"
            elif op == "finish" and model.status == "running":
                at = tick()
                await store.runs.finish(sid, exit_code=0, reason="exit 0", at=at)
                model.append("system", b"exit 0\n", at)
                model.status = "succeeded"
            elif op == "read":
                await _check_range(store, sid, model, args[0], args[0] + args[1])
        await _check_everything(store, sid, model)
    assert_output_index_exact(db)
    sizes = rows(db, "SELECT length(plain(data, plain_size)) FROM output_chunks")
    assert all(0 < n <= CHUNK_BYTES for (n,) in sizes)


async def _check_range(store, sid: int, model: Model, start: int, stop: int) -> None:
    got = await store.output.read_lines(sid, start, stop)
    want = model.lines[max(0, start) : max(0, stop)]
    assert [(ln.stream, ln.raw, ln.terminated, ln.run) for ln in got] == [
        (m.stream, m.raw, m.terminated, m.run) for m in want
    ]
    assert [ln.number for ln in got] == list(range(max(0, start), max(0, start) + len(got)))


async def _check_everything(store, sid: int, model: Model) -> None:
    n = len(model.lines)
    assert await store.output.line_count(sid) == n
    lines = await store.output.read_lines(sid, 0, n + 5)
    assert [(ln.stream, ln.raw, ln.terminated, ln.run) for ln in lines] == [
        (m.stream, m.raw, m.terminated, m.run) for m in model.lines
    ]
    # A line's time is when its chunk began: never after the line itself began, and
    # never going backwards down the session.
    assert all(ln.at <= m.at for ln, m in zip(lines, model.lines, strict=True))
    assert [ln.at for ln in lines] == sorted(ln.at for ln in lines)
    for a in range(0, n + 1, max(1, n // 4)):
        for b in (a, a + 1, a + 3, n):
            await _check_range(store, sid, model, a, b)
    for stream in STREAMS:
        mine = [m for m in model.lines if m.stream == stream]
        expected = b"".join(m.raw + (b"\n" if m.terminated else b"") for m in mine)
        assert await store.output.read_bytes(sid, stream) == expected
        got = await store.output.read_lines(sid, 0, n, stream=stream)
        assert [ln.raw for ln in got] == [m.raw for m in mine]
        tail = await store.output.tail(sid, 3, stream=stream)
        assert [ln.raw for ln in tail] == [m.raw for m in mine[-3:]]
    assert [ln.raw for ln in await store.output.tail(sid, 4)] == [m.raw for m in model.lines[-4:]]
    since = await store.output.since(sid, n // 2 - 1)
    assert [ln.raw for ln in since] == [m.raw for m in model.lines[max(0, n // 2) :]]
    streamed = [ln async for ln in store.output.iter_lines(sid)]
    assert streamed == lines
    total = sum(len(m.raw) + m.terminated for m in model.lines)
    assert (await store.sessions.get(sid)).output_bytes == total


# -- purge leaves nothing ----------------------------------------------------------------

_PURGE_SESSIONS = st.lists(
    st.tuples(
        st.lists(st.sampled_from(["ci", "ml", "web"]), max_size=2),
        st.lists(st.tuples(st.sampled_from(STREAMS), _SMALL, st.booleans()), max_size=6),
        st.integers(0, 2),  # runs
        st.booleans(),  # purge it?
        st.booleans(),  # trash it first?
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=30, deadline=None, suppress_health_check=NO_HEALTH)
@given(_PURGE_SESSIONS)
def test_purge_leaves_no_rows_chunks_tags_or_index_entries(specs):
    run(_purge_law, specs)


async def _purge_law(db: Path, specs) -> None:
    async with open_store(db) as store:
        made = []
        for i, (tags, output, runs, purge, trash) in enumerate(specs):
            s = await store.sessions.create(["cmd", f"uniq{i}x"], cwd="/", tags=tags)
            await store.sessions.update(s.id, notes=f"note{i}z")
            await store.output.append(s.id, "stdout", f"marker{i}q\n".encode())
            for n in range(runs):
                await store.runs.start(s.id)
                await store.output.append(s.id, "stderr", b"run %d\n" % n)
                await store.runs.finish(s.id, exit_code=n)
            for stream, data, index in output:
                await store.output.append(s.id, stream, data, index=index)
            if trash:
                await store.sessions.trash([s.id])
            made.append((s.id, i, purge))
        gone = [sid for sid, _, purge in made if purge]
        kept = [sid for sid, _, purge in made if not purge]
        assert await store.sessions.purge(gone) == len(gone)
        for sid, i, purge in made:
            if purge:
                assert await store.sessions.get(sid) is None
                assert await search_sessions(store, f"uniq{i}x") == []
                assert await search_sessions(store, f"note{i}z") == []
                assert await store.search(f"marker{i}q", include_deleted=True) == []
            else:
                assert [
                    h.session_id for h in await store.search(f"marker{i}q", include_deleted=True)
                ] == [sid]
        assert (await store.integrity_check()).ok
    for table in ("sessions", "session_tags", "runs", "output_chunks"):
        column = "id" if table == "sessions" else "session_id"
        left = {r[0] for r in rows(db, f"SELECT {column} FROM {table}")}
        assert not left & set(gone), table
    assert {r[0] for r in rows(db, "SELECT rowid FROM sessions_fts")} == set(kept)
    assert {p[0] for p in fts_postings(db, "sessions_fts")} <= set(kept)
    assert_output_index_exact(db)
    assert rows(
        db,
        "SELECT count(*) FROM output_words_docsize d LEFT JOIN output_chunks c "
        "ON c.id = d.id WHERE c.id IS NULL",
    ) == [(0,)]
    assert expected_postings({}) == []  # the helper itself sees an empty index as empty
