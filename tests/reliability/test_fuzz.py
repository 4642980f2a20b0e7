"""Fuzzing with hypothesis, end to end.

- Queries: any string through the parser *and* the search engine on a real database
  gives results or a ``QueryError``, never a raw SQLite error (the parser alone has
  its own property test in tests/storage/test_query.py).
- Imports: a real export changed field by field (values swapped for odd JSON, lines
  dropped, repeated or swapped, always with a correct checksum, so the reader has to
  judge the content) is imported consistently or refused with the database
  byte-identical.
- Command lines: random argv for ``tether`` (in process, ``cli.main``) exit 0, 1
  or 2 and never print a traceback or an "unexpected error".
- Output bytes: any bytes a command writes to stdout and stderr come back from the
  database exactly, through a real supervisor.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from home.paths import resolve_paths
from runner.control import start_session
from storage import ImportRejected, open_store
from storage.engine.search.core import count_hits, search
from storage.query import Query, QueryError, parse
from storage.transfer.importer import import_file
from tests.storage.test_query import _QUERIES as QUERIES
from tests.support.supervisors import stop_leftover_supervisors
from tests.support.transfer import db_files, export_doc, lines_of, with_checksum
from tests.support.transfer import seed as seed_transfer

NOW = 1_780_000_000.0
SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]


class Loop:
    """One event loop for a whole hypothesis test (each example runs on it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.close()


@pytest.fixture(scope="module")
def loop():
    lp = Loop()
    yield lp
    lp.close()


async def _seed_search(db: Path) -> None:
    async with open_store(db) as store:
        await seed_transfer(store)
        s = await store.sessions.create(["pytest", "-x"], "/src", name="tests", tags=["ci"])
        await store.runs.start(s.id)
        text = "".join(f"test_{i} error: Été 日本 x{i} foo-bar\n" for i in range(300))
        await store.output.append(s.id, "stderr", text.encode())
        await store.runs.finish(s.id, exit_code=1)


@pytest.fixture(scope="module")
def search_store(loop, tmp_path_factory):
    db = tmp_path_factory.mktemp("search") / "t.db"
    loop.run(_seed_search(db))
    store = loop.run(open_store(db))
    yield store
    loop.run(store.close())


def test_any_query_searches_or_is_refused_with_a_position(loop, search_store, figures):
    seen = {"ok": 0, "refused": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=SLOW)
    @given(QUERIES)
    def check(text: str) -> None:
        try:
            query = parse(text, now=NOW)
            assert isinstance(query, Query)
            results = loop.run(search(search_store, query, limit=5))
            loop.run(count_hits(search_store, query, [1, 2, 3, 4]))
            if results.next_page:
                loop.run(search(search_store, query, limit=5, page=results.next_page))
            assert len(results.hits) <= 5
            seen["ok"] += 1
        except QueryError as e:
            assert 0 <= e.position <= len(text) and str(e).startswith(e.message)
            seen["refused"] += 1

    check()
    figures.add("fuzz: queries", trials=sum(seen.values()), faults=sum(seen.values()))
    assert seen["ok"] and seen["refused"], seen


# -- imports ------------------------------------------------------------------------------
_SCALAR = re.compile(rb'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null')
_ODD_JSON = st.one_of(
    st.sampled_from(
        [None, True, False, 0, -1, 1, 2**63, -(2**63) - 1, 1e308, -0.0, "", "x", [], {}]
    ),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
)
_EDIT = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 10**6), st.integers(0, 10**6), _ODD_JSON),
    st.tuples(st.just("drop"), st.integers(0, 10**6), st.none(), st.none()),
    st.tuples(st.just("repeat"), st.integers(0, 10**6), st.none(), st.none()),
    st.tuples(st.just("swap"), st.integers(0, 10**6), st.integers(0, 10**6), st.none()),
)


def _edit(doc: bytes, edit: tuple) -> bytes:
    kind, a, b, value = edit
    lines = lines_of(doc)
    body = lines[:-1]  # the last line holds the checksum
    if not body:
        return doc
    i = a % len(body)
    if kind == "value":
        tokens = list(_SCALAR.finditer(body[i]))
        if tokens:
            m = tokens[b % len(tokens)]
            new = json.dumps(value).encode()
            body[i] = body[i][: m.start()] + new + body[i][m.end() :]
    elif kind == "drop":
        del body[i]
    elif kind == "repeat":
        body.insert(i, body[i])
    else:
        j = b % len(body)
        body[i], body[j] = body[j], body[i]
    return with_checksum([*body, lines[-1]])


async def _export_base(db: Path) -> bytes:
    async with open_store(db) as store:
        ids = await seed_transfer(store)
        return await export_doc(store, ids)


async def _consistent(store) -> None:  # type: ignore[no-untyped-def]
    """Everything imported is whole: the indexes check out, and each session's chunks
    cover its lines with no gap or overlap and add up to its counters."""
    report = await store.integrity_check()
    assert report.ok, report.problems
    for s in await store.sessions.list(include_deleted=True):
        chunks = await store.output.chunks(s.id, 0, 1 << 62)
        line = 0
        for c in chunks:
            assert c.first_line == line, (s.id, c.first_line, line)
            line += c.line_count
        assert line == s.output_lines, (s.id, line, s.output_lines)
        assert sum(len(c.data) for c in chunks) == s.output_bytes
        runs = await store.runs.list(s.id)
        assert [r.number for r in runs] == list(range(1, len(runs) + 1))


def test_mutated_exports_are_imported_whole_or_refused(loop, tmp_path, figures):
    base = loop.run(_export_base(tmp_path / "source.db"))
    target = tmp_path / "target.db"

    async def make_target() -> None:
        async with open_store(target) as store:
            await store.sessions.create(["mine"], "/")

    loop.run(make_target())
    pristine = target.read_bytes()
    seen = {"imported": 0, "refused": 0}

    @settings(max_examples=150, deadline=None, suppress_health_check=SLOW)
    @given(st.lists(_EDIT, min_size=1, max_size=3))
    def check(edits: list[tuple]) -> None:
        doc = base
        for e in edits:
            doc = _edit(doc, e)
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        target.write_bytes(pristine)
        path = tmp_path / "mutated.json"
        path.write_bytes(doc)

        async def go() -> None:
            async with open_store(target) as store:
                before = db_files(target)
                try:
                    result = await import_file(store, path)
                except ImportRejected as e:
                    assert e.where, "a refusal says where"
                    assert db_files(target) == before, "a refused import wrote something"
                    seen["refused"] += 1
                    return
                assert await store.sessions.count(include_deleted=True) == 1 + result.imported
                await _consistent(store)
                seen["imported"] += 1

        loop.run(go())

    check()
    figures.add("fuzz: imports", trials=sum(seen.values()), faults=sum(seen.values()))
    assert seen["refused"] and seen["imported"], seen


# -- command lines ------------------------------------------------------------------------
COMMANDS = [
    "ls",
    "show",
    "logs",
    "stop",
    "pause",
    "continue",
    "rm",
    "restore",
    "config",
    "doctor",
    "search",
    "cleanup",
    "backup",
    "export",
    "import",
    "nonsense",
    "-h",
]
OPTIONS = [
    "--json",
    "--all",
    "-a",
    "--limit",
    "--status",
    "--tag",
    "-n",
    "--tail",
    "--stream",
    "-t",
    "--timestamps",
    "--raw",
    "--grace",
    "--purge",
    "--fix",
    "--older-than",
    "--keep",
    "--max-size",
    "--trash-days",
    "--dry-run",
    "--yes",
    "-y",
    "--query",
    "-o",
    "--output",
    "--format",
    "--no-redact",
    "--duplicate",
    "--db",
    "--help",
    "--",
]
VALUES = [
    "1",
    "#2",
    "3",
    "999",
    "0",
    "-1",
    "#",
    "0190",
    "",
    "json",
    "md",
    "txt",
    "jsonl",
    "stdout",
    "system",
    "failed,succeeded",
    "running",
    "nope",
    "1d",
    "2h",
    "0s",
    "-5d",
    "5G",
    "1K",
    "x",
    "out.json",
    "out.md",
    "missing.json",
    "sub/dir.json",
    "-",
    "error",
    "status:failed",
    '"unclosed',
    "since:yesterday",
    "tag:ci OR build",
    "-3",
    "1e9",
    "nan",
]
_SAFE_TEXT = st.text(
    st.characters(blacklist_characters="/~\x00", blacklist_categories=("Cs",)), max_size=8
)
ARGV = st.tuples(
    st.sampled_from(COMMANDS),
    st.lists(st.one_of(st.sampled_from(OPTIONS), st.sampled_from(VALUES), _SAFE_TEXT), max_size=6),
).map(lambda t: [t[0], *t[1]])


async def _seed_cli(db: Path) -> None:
    async with open_store(db) as store:
        await seed_transfer(store)
        trashed = await store.sessions.create(["old"], "/", name="old")
        await store.sessions.set_status(trashed.id, "failed", reason="no")
        await store.sessions.trash([trashed.id])


def test_random_command_lines_exit_0_1_or_2_without_a_traceback(
    loop, tmp_path, monkeypatch, capsys, figures
):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("[general]\nstop_grace = 0.5\n")
    monkeypatch.setenv("TETHER_HOME", str(home))
    monkeypatch.delenv("TETHER_DB", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # files the commands write land here
    paths = resolve_paths(env={"TETHER_HOME": str(home)})
    paths.ensure()
    loop.run(_seed_cli(paths.db))
    pristine = paths.db.read_bytes()
    from cli import main

    codes: dict[int, int] = {}

    @settings(max_examples=150, deadline=None, suppress_health_check=SLOW)
    @given(ARGV)
    @example(["logs", "1", "--tail", "-3"])
    @example(["search", '"unclosed'])
    @example(["cleanup", "--older-than", "-5d", "--yes"])
    @example(["export", "--format", "json", "-o", "out.json", "1", "2"])
    @example(["import", "missing.json"])
    @example(["import", "-"])
    @example(["show", ""])
    def check(argv: list[str]) -> None:
        for suffix in ("-wal", "-shm"):
            Path(f"{paths.db}{suffix}").unlink(missing_ok=True)
        paths.db.write_bytes(pristine)
        try:
            code = main(argv)
        except SystemExit as e:  # argparse: --help (0) or a usage error (2)
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out, err = capsys.readouterr()
        assert code in (0, 1, 2), (argv, code, out[-500:], err[-500:])
        for word in ("Traceback", "unexpected error"):
            assert word not in out + err, (argv, word, err[-1000:])
        if code == 1:
            assert err.strip(), (argv, "exit 1 without a word")
        codes[code] = codes.get(code, 0) + 1

    try:
        check()
    finally:
        stop_leftover_supervisors(paths.runtime)
        shutil.rmtree(work, ignore_errors=True)
    figures.add("fuzz: command lines", trials=sum(codes.values()), faults=sum(codes.values()))
    assert set(codes) == {0, 1, 2}, codes  # the generator reaches every outcome


# -- output bytes ---------------------------------------------------------------------------
BIG = bytes(range(256)) * 300  # 76 800 bytes: more than a chunk, every byte value, no end


@pytest.fixture
def supervised(loop, tmp_path):
    paths = resolve_paths(env={"TETHER_HOME": str(tmp_path / "home")})
    paths.ensure()
    store = loop.run(open_store(paths.db))
    yield paths, store
    stop_leftover_supervisors(paths.runtime)
    loop.run(store.close())


def test_any_output_bytes_come_back_exactly(loop, supervised, tmp_path, figures):
    paths, store = supervised
    counter = {"n": 0, "bytes": 0, "lines": 0}

    @settings(max_examples=36, deadline=None, suppress_health_check=SLOW)
    @given(st.binary(max_size=3000), st.binary(max_size=3000))
    @example(b"", b"")
    @example(b"\x00\xff\xfe\x1b[31m\x9b\r\r\n\n\x1b]52;c;eA==\x07", b"\xc3\x28 \xed\xa0\x80 end")
    @example(BIG, b"\r" * 70_000)
    @example(b"x" * 65_536 + b"\n" + b"y" * 65_535, b"\n" * 5000)
    def check(out: bytes, err: bytes) -> None:
        counter["n"] += 1
        n = counter["n"]
        files = [tmp_path / f"out-{n}.bin", tmp_path / f"err-{n}.bin"]
        for path, data in zip(files, (out, err), strict=True):
            path.write_bytes(data)

        async def go() -> None:
            from tests.support.supervisors import wait_ended

            s = await start_session(
                store,
                paths,
                argv=["sh", "-c", 'cat "$1"; cat "$2" >&2', "sh", *map(str, files)],
                cwd=tmp_path,
            )
            s = await wait_ended(store, paths, s.id)
            assert s.status == "succeeded", s.status
            assert await store.output.read_bytes(s.id, "stdout") == out
            assert await store.output.read_bytes(s.id, "stderr") == err
            counter["lines"] += out.count(b"\n") + err.count(b"\n")

        loop.run(go())
        counter["bytes"] += len(out) + len(err)
        for path in files:
            os.unlink(path)

    check()
    figures.add(
        "fuzz: output bytes", trials=counter["n"], lines=counter["lines"], faults=counter["n"]
    )
    assert counter["n"] >= 36
