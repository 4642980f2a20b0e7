"""Import: all or nothing, uids kept, duplicates skipped or copied, live sessions
become lost, imported sessions never run unconfirmed, and every kind of bad file is
refused with the problem and where it is while the database stays byte for byte the
same."""

from __future__ import annotations

import asyncio
import json
import random
import re
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import ImportRejected, open_store
from storage.transfer.export import MAX_CHUNK_BYTES
from storage.transfer.importer import check_file, import_file
from tests.support.database import assert_output_index_exact
from tests.support.transfer import (
    T0,
    db_files,
    edit_json_line,
    export_doc,
    lines_of,
    seed,
    snapshot,
    with_checksum,
    write,
)


@pytest.fixture
async def source(tmp_path):
    """A database with the seeded sessions, and their export."""
    path = tmp_path / "src.db"
    async with open_store(path) as a:
        ids = await seed(a)
        doc = await export_doc(a, ids)
    return path, doc


@pytest.fixture
async def target(tmp_path):
    """An open store that already holds a session of its own."""
    async with open_store(tmp_path / "dst.db") as b:
        await b.sessions.create(["echo", "mine"], "/home")
        yield b


# -- the good path ------------------------------------------------------------------------
async def test_import_keeps_uids_and_gives_new_ids(source, target, tmp_path):
    src, doc = source
    result = await import_file(target, write(tmp_path / "x.json", doc))
    assert (result.imported, result.skipped, result.dry_run) == (3, 0, False)
    assert [s.id for s in result.sessions] == [2, 3, 4]
    assert [s.action for s in result.sessions] == ["import"] * 3
    before = snapshot(src)
    assert {u: v for u, v in snapshot(target.path).items() if u in before} == before
    for s in result.sessions:
        got = await target.sessions.require(s.id)
        assert got.uid == s.uid == s.source_uid and got.origin == "imported"
    imports = [e for e in await target.audit.list() if e.action == "import"]
    assert sorted(e.session_id for e in imports) == [2, 3, 4]
    assert {e.detail["file"] for e in imports} == {"x.json"}
    hits = await target.search("compiling")
    assert [h.session_id for h in hits] == [2]  # searchable at once
    assert_output_index_exact(target.path)


async def test_importing_twice_adds_nothing(source, target, tmp_path):
    _, doc = source
    path = write(tmp_path / "x.json", doc)
    await import_file(target, path)
    before = db_files(target.path)
    again = await import_file(target, path)
    assert (again.imported, again.skipped) == (0, 3)
    assert [s.existing_id for s in again.sessions] == [2, 3, 4]
    assert db_files(target.path) == before
    assert await target.sessions.count() == 4


async def test_duplicate_imports_copies_with_new_uids(source, target, tmp_path):
    _, doc = source
    path = write(tmp_path / "x.json", doc)
    first = await import_file(target, path)
    copy = await import_file(target, path, duplicate=True)
    assert [s.action for s in copy.sessions] == ["duplicate"] * 3
    for a, b in zip(first.sessions, copy.sessions, strict=True):
        assert b.uid != a.uid and b.source_uid == a.uid and b.id != a.id
        assert await target.output.read_bytes(a.id) == await target.output.read_bytes(b.id)
        got = await target.sessions.require(b.id)
        assert got.uid == b.uid and got.origin == "imported"
    assert await target.sessions.count() == 7


async def test_dry_run_writes_nothing(source, target, tmp_path):
    _, doc = source
    before = db_files(target.path)
    result = await import_file(target, write(tmp_path / "x.json", doc), dry_run=True)
    assert result.dry_run and result.imported == 3
    assert all(s.id is None for s in result.sessions)
    assert [s.status for s in result.sessions] == ["succeeded", "stopped", "failed"]
    assert db_files(target.path) == before


async def test_live_sessions_become_lost(tmp_path, target):
    async with open_store(tmp_path / "live.db") as a:
        running = await a.sessions.create(["serve"], "/", created_at=T0)
        await a.runs.start(running.id, pid=123, at=T0 + 1)
        await a.output.append(running.id, "stdout", b"listening\n", T0 + 2)
        paused = await a.sessions.create(["train"], "/", created_at=T0)
        await a.runs.start(paused.id, at=T0 + 1)
        await a.sessions.set_status(paused.id, "paused", at=T0 + 3)
        pending = await a.sessions.create(["later"], "/", created_at=T0)
        doc = await export_doc(a, [running.id, paused.id, pending.id])
    result = await import_file(target, write(tmp_path / "live.json", doc))
    for s, was in zip(result.sessions, ("running", "paused", "pending"), strict=True):
        got = await target.sessions.require(s.id)
        assert got.status == "lost" and got.ended and got.pid is None
        assert got.ended_at == max(T0 + 100, got.started_at or got.created_at)
        assert got.exit_code is None and got.signal is None
        last = (await target.output.tail(s.id, 1))[0]
        assert last.stream == "system" and f"imported while {was}" in last.text
        for run in await target.runs.list(s.id):
            assert run.status == "lost" and run.ended_at is not None
    first = await target.output.read_lines(result.sessions[0].id, 0, 1)
    assert first[0].raw == b"listening"  # the output it had comes first, as it was


async def test_imported_session_needs_confirmation_to_run(source, target, tmp_path):
    from home.paths import resolve_paths
    from runner.control import resume_run
    from runner.errors import NeedsConfirmation

    _, doc = source
    result = await import_file(target, write(tmp_path / "x.json", doc))
    paths = resolve_paths(target.path, env={"TETHER_HOME": str(tmp_path / "home")})
    sid = result.sessions[0].id
    with pytest.raises(NeedsConfirmation) as caught:
        await resume_run(target, paths, sid)
    assert caught.value.command == "make test"  # the resume_argv, exactly
    got = await target.sessions.require(sid)
    assert got.status == "succeeded" and got.run_count == 2  # nothing ran


async def test_progress_and_import_memory(tmp_path, target):
    async with open_store(tmp_path / "big.db") as a:
        s = await a.sessions.create(["big"], "/")
        await a.runs.start(s.id)
        block = b"".join(
            b"%08d ordinary output of a long job, nothing secret\n" % i for i in range(20_000)
        )
        for _ in range(20):
            await a.output.append(s.id, "stdout", block)
        await a.runs.finish(s.id, exit_code=0)
        path = tmp_path / "big.json"
        from storage.transfer.export import export_sessions

        with open(path, "wb") as f:
            await export_sessions(a, [s.id], f)
    seen: list[tuple[int, int]] = []
    tracemalloc.start()
    try:
        result = await import_file(target, path, progress=lambda d, t: seen.append((d, t)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak  # the file is about 20 MB: it was never held whole
    size = path.stat().st_size
    assert seen[-1] == (size, size)
    assert result.bytes == (await target.sessions.require(result.sessions[0].id)).output_bytes


# -- bad files ----------------------------------------------------------------------------------
def _first(doc: bytes, prefix: bytes, after: int = 0) -> int:
    """Index of the first line (from ``after``) that starts with ``prefix``."""
    for i, line in enumerate(lines_of(doc)):
        if i >= after and line.startswith(prefix):
            return i
    raise AssertionError(prefix)


def _session(doc: bytes, change):  # type: ignore[no-untyped-def]
    return edit_json_line(doc, 1, change, '{"session":', ',"chunks":[')


def _chunk(n: int, change):  # type: ignore[no-untyped-def]
    """Edit the n-th chunk line of the first session (0-based)."""

    def edit(doc: bytes) -> bytes:
        i = 2 + n
        return edit_json_line(doc, i, change, "" if n == 0 else ",")

    return edit


def _runs(change):  # type: ignore[no-untyped-def]
    def edit(doc: bytes) -> bytes:
        i = _first(doc, b'],"runs":')
        lines = lines_of(doc)
        tail = json.loads("{" + lines[i][2:].decode())
        change(tail)
        lines[i] = b"]," + json.dumps(tail, separators=(",", ":"))[1:].encode()
        return with_checksum(lines)

    return edit


def _header(change):  # type: ignore[no-untyped-def]
    def edit(doc: bytes) -> bytes:
        lines = lines_of(doc)
        head = json.loads(lines[0][: -len(b',"sessions":[')] + b"}")
        change(head)
        lines[0] = json.dumps(head, separators=(",", ":"))[:-1].encode() + b',"sessions":['
        return with_checksum(lines)

    return edit


def _set(key, value):  # type: ignore[no-untyped-def]
    def change(obj):  # type: ignore[no-untyped-def]
        obj[key] = value

    return change


def _replace_once(old: bytes, new: bytes, fix: bool = True):  # type: ignore[no-untyped-def]
    def edit(doc: bytes) -> bytes:
        assert old in doc
        out = doc.replace(old, new, 1)
        return with_checksum(lines_of(out)) if fix else out

    return edit


def _dup_uid(doc: bytes) -> bytes:
    uid = json.loads(lines_of(doc)[1][len(b'{"session":') : -len(b',"chunks":[')])["uid"]
    i = _first(doc, b',{"session":')
    return edit_json_line(doc, i, _set("uid", uid), ',{"session":', ',"chunks":[')


def _big_chunk(doc: bytes) -> bytes:
    text = "é" * (MAX_CHUNK_BYTES // 2 + 1)  # fewer characters than bytes
    return _chunk(0, lambda c: c.update(text=text, line_count=1, open_end=True))(doc)


SESSION = r"line \d+ \(byte \d+\), session [0-9a-f-]{36}$"
LINE = r"line \d+ \(byte \d+\)"

BAD = {
    "empty": (lambda d: b"", "truncated", r"^line 1 \(byte 0\)$"),
    "random-binary": (
        lambda d: random.Random(7).randbytes(200_000),
        "not a tether export|not UTF-8|longer than",
        r"^line 1 ",
    ),
    "truncated-half": (lambda d: d[: len(d) // 2], "truncated", LINE),
    "truncated-at-line-end": (
        lambda d: d[: d.index(b"\n", len(d) // 3) + 1],
        "truncated",
        LINE,
    ),
    "truncated-before-checksum": (
        lambda d: d[: d.rindex(b'"checksum"')],
        "where the checksum should be",
        LINE,
    ),
    "truncated-in-checksum": (lambda d: d[:-10], "invalid JSON", LINE),
    "newer-format": (
        _header(_set("format", "tether.export/2")),
        "format tether.export/2, made by a newer tether",
        r"^line 1 \(byte 0\)$",
    ),
    "other-format": (_header(_set("format", "acme/1")), "unknown export format 'acme/1'", LINE),
    "newer-schema": (_header(_set("schema_version", 99)), "newer database", LINE),
    "bad-checksum": (
        lambda d: d[:-4] + (b"0" if d[-4:-3] != b"0" else b"1") + d[-3:],
        "checksum does not match",
        LINE,
    ),
    "changed-content": (
        _replace_once(b"compiling", b"Compiling", fix=False),
        "checksum does not match",
        LINE,
    ),
}
BAD.update(
    {
        "exit-code-string": (
            lambda d: _session(d, _set("exit_code", "2")),
            "exit_code must be a whole number, not str '2'",
            SESSION,
        ),
        "pinned-int": (lambda d: _session(d, _set("pinned", 1)), "pinned must be true", SESSION),
        "tag-with-comma": (lambda d: _session(d, _set("tags", ["a,b"])), "invalid tag", SESSION),
        "empty-argv": (lambda d: _session(d, _set("argv", [])), "argv must not be empty", SESSION),
        "name-null": (lambda d: _session(d, _set("name", None)), "name must be a string", SESSION),
        "negative-time": (
            lambda d: _session(d, _set("created_at", -5)),
            "not a plausible time",
            SESSION,
        ),
        "bad-uid": (lambda d: _session(d, _set("uid", "../etc")), "invalid session uid", LINE),
        "bad-status": (lambda d: _session(d, _set("status", "done")), "unknown status", SESSION),
        "bad-mode": (lambda d: _session(d, _set("mode", "tty")), "mode must be", SESSION),
        "unknown-field": (
            lambda d: _session(d, _set("extra", 1)),
            "unknown field 'extra'",
            SESSION,
        ),
        "missing-field": (
            lambda d: _session(d, lambda o: o.pop("cwd")),
            "has no 'cwd'",
            SESSION,
        ),
        "env-not-strings": (lambda d: _session(d, _set("env", {"A": 1})), "env A", SESSION),
        "nan-time": (
            _replace_once(b'"first_at":1780000001.5', b'"first_at":NaN'),
            "NaN is not a JSON number",
            SESSION,
        ),
        "line-gap": (
            _chunk(1, lambda c: c.update(first_line=c["first_line"] + 1)),
            "lines are missing or repeated",
            SESSION,
        ),
        "line-count": (
            _chunk(0, lambda c: c.update(line_count=c["line_count"] + 1)),
            "says it holds",
            SESSION,
        ),
        "open-end": (_chunk(0, lambda c: c.update(open_end=True)), "open_end does not", SESSION),
        "bad-stream": (_chunk(0, _set("stream", "stdin")), "unknown stream 'stdin'", SESSION),
        "run-too-high": (_chunk(0, _set("run", 9)), "belongs to run 9", SESSION),
        "both-text-and-base64": (
            _chunk(0, _set("base64", "YQ==")),
            "exactly one of 'text' and 'base64'",
            SESSION,
        ),
        "bad-base64": (
            _chunk(1, lambda c: c.update(base64="***" + c["base64"])),
            "not valid base64",
            SESSION,
        ),
        "lone-surrogate": (
            _chunk(0, lambda c: c.update(text="\ud800\n")),
            "lone surrogate",
            SESSION,
        ),
        "chunk-too-big": (_big_chunk, f"more than {MAX_CHUNK_BYTES} bytes", SESSION),
        "run-numbering": (
            _runs(lambda t: t["runs"][1].update(number=3)),
            "runs are numbered 1, 2, 3",
            SESSION,
        ),
        "run-past-the-output": (
            _runs(lambda t: t["runs"][0].update(first_line=10_000)),
            "must be between 0 and",
            SESSION,
        ),
        "runs-out-of-order": (
            _runs(lambda t: t["runs"][1].update(first_line=0) or t["runs"][0].update(first_line=1)),
            "run 2 starts before run 1",
            SESSION,
        ),
        "summary-lies": (
            _runs(lambda t: t["summary"].update(chunks=t["summary"]["chunks"] + 1)),
            "summary says",
            SESSION,
        ),
        "duplicate-uid": (_dup_uid, "appears twice in the file", SESSION),
        "trailing-garbage": (lambda d: d + b"{}", "after the end of the document", LINE),
        "reformatted": (
            lambda d: json.dumps(json.loads(d), indent=2).encode(),
            "reformatted cannot be read",
            r"^line 1 \(byte 0\)$",
        ),
    }
)


@pytest.mark.parametrize("case", sorted(BAD))
async def test_bad_file_is_refused_and_database_unchanged(case, source, target, tmp_path):
    _, doc = source
    mutate, message, where = BAD[case]
    bad = write(tmp_path / "bad.json", mutate(doc))
    before = db_files(target.path)
    with pytest.raises(ImportRejected) as caught:
        await import_file(target, bad)
    error = caught.value
    assert error.where is not None and re.search(where, error.where), error.where
    assert re.search(message, str(error)), str(error)
    assert db_files(target.path) == before
    with pytest.raises(ImportRejected):
        check_file(bad)  # the same problem without a database


def test_error_names_the_exact_line_and_byte(tmp_path):
    doc = asyncio.run(_small_doc(tmp_path / "s.db"))
    bad = _chunk(1, _set("stream", "bogus"))(doc)
    lines = lines_of(bad)
    offset = sum(len(line) + 1 for line in lines[:3])
    with pytest.raises(ImportRejected) as caught:
        check_file(write(tmp_path / "b.json", bad))
    uid = json.loads(lines[1][len(b'{"session":') : -len(b',"chunks":[')])["uid"]
    assert caught.value.where == f"line 4 (byte {offset}), session {uid}"


async def test_file_changed_between_check_and_write_rolls_back(source, target, tmp_path):
    _, doc = source
    path = write(tmp_path / "x.json", doc)
    checked = check_file(path)
    # The file is damaged after it was checked: the second pass finds it mid-write.
    lines = lines_of(doc)
    cut = sum(len(line) + 1 for line in lines[: _first(doc, b',{"session":') + 3])
    path.write_bytes(doc[:cut])
    before = db_files(target.path)
    with pytest.raises(ImportRejected, match="truncated"):
        await import_file(target, path, checked=checked)
    assert db_files(target.path) == before
    assert await target.sessions.count() == 1


# -- 2 GB of garbage: sparse files, no disk space used, gone after the test ------------------
TWO_GB = 2 * 1024**3


async def test_two_gigabytes_of_zeros_refused_at_once(target, tmp_path):
    path = tmp_path / "zeros.json"
    with open(path, "wb") as f:
        f.truncate(TWO_GB)
    try:
        before = db_files(target.path)
        with pytest.raises(ImportRejected, match="longer than") as caught:
            await import_file(target, path)
        assert caught.value.where == "line 1 (byte 0)"
        assert db_files(target.path) == before
    finally:
        path.unlink()


async def test_valid_start_then_two_gigabytes_of_garbage(source, target, tmp_path):
    _, doc = source
    path = tmp_path / "garbage.json"
    head = doc[: doc.index(b"\n", doc.index(b"\n") + 1) + 1]  # header and first session
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(TWO_GB)
    try:
        before = db_files(target.path)
        with pytest.raises(ImportRejected, match="longer than") as caught:
            await import_file(target, path)
        assert caught.value.where.startswith(f"line 3 (byte {len(head)}), session ")
        assert db_files(target.path) == before
    finally:
        path.unlink()


async def test_garbage_lines_streamed_after_a_valid_start(source, target, tmp_path):
    _, doc = source
    path = tmp_path / "lines.json"
    rng = random.Random(3)
    with open(path, "wb") as f:
        f.write(doc[: doc.index(b"\n") + 1])
        for _ in range(64):  # 64 MB of random text lines
            f.write(b"\n".join(rng.randbytes(1000).hex().encode() for _ in range(512)))
    before = db_files(target.path)
    with pytest.raises(ImportRejected, match="expected a session record"):
        await import_file(target, path)
    assert db_files(target.path) == before


# -- any mutation: imported correctly or refused with nothing written ----------------------------
_BASE: dict[str, object] = {}


async def _small_doc(db: Path) -> bytes:
    async with open_store(db) as a:
        s = await a.sessions.create(["sh", "-c", "x"], "/w", name="n", tags=["t"], created_at=T0)
        await a.runs.start(s.id, at=T0 + 1)
        await a.output.append(s.id, "stdout", b"one\ntwo\n", T0 + 2)
        await a.output.append(s.id, "stderr", b"\xff bad\n", T0 + 3)
        await a.output.append(s.id, "stdout", b"open", T0 + 4)
        await a.runs.finish(s.id, exit_code=1, at=T0 + 5)
        t = await a.sessions.create(["true"], "/", created_at=T0 + 10)
        await a.sessions.set_status(t.id, "failed", reason="no", at=T0 + 11)
        return await export_doc(a, [s.id, t.id])


def _base() -> tuple[bytes, dict]:
    if not _BASE:
        with tempfile.TemporaryDirectory() as d:
            db = Path(d) / "base.db"
            _BASE["doc"] = asyncio.run(_small_doc(db))
            _BASE["snap"] = snapshot(db)
    return _BASE["doc"], _BASE["snap"]  # type: ignore[return-value]


def _mutate(doc: bytes, m: tuple) -> bytes:
    kind, a, b = m
    if not doc:
        return b if kind == "insert" else doc
    a %= len(doc) + (kind == "insert")
    if kind == "flip":
        return doc[:a] + bytes([doc[a] ^ (1 << b)]) + doc[a + 1 :]
    if kind == "cut":
        return doc[:a]
    if kind == "delete":
        return doc[:a] + doc[a + b :]
    return doc[:a] + b + doc[a:]


_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.none()),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 40)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=12)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_MUTATION, min_size=1, max_size=3))
def test_property_any_mutation_is_imported_whole_or_refused(mutations):
    doc, snap = _base()
    for m in mutations:
        doc = _mutate(doc, m)

    async def go(tmp: Path) -> None:
        async with open_store(tmp / "t.db") as b:
            await b.sessions.create(["mine"], "/")
            before = db_files(b.path)
            path = write(tmp / "m.json", doc)
            try:
                await import_file(b, path)
            except ImportRejected as e:
                assert e.where and e.where.startswith("line ")
                assert db_files(b.path) == before
                return
            got = snapshot(b.path)
            assert {u: v for u, v in got.items() if u in snap} == snap
            assert len(got) == len(snap) + 1

    with tempfile.TemporaryDirectory() as d:
        asyncio.run(go(Path(d)))


def test_mutation_property_can_tell_an_import_from_a_refusal():
    """The property above is only worth something if valid files import."""
    doc, snap = _base()
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / "ok.json", doc + b"\n  \n")  # trailing whitespace is fine

        async def go() -> None:
            async with open_store(Path(d) / "t.db") as b:
                result = await import_file(b, path)
                assert result.imported == 2
            assert snapshot(Path(d) / "t.db") == snap

        asyncio.run(go())
