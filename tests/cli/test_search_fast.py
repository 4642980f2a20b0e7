"""``tether search`` takes a short way to its answer (cli/search.py: its argv parsed
without building argparse's parser, one read-only connection, no agents' code when there
is no agent session) and gives exactly what the parser's way gives. Real ``tether``
processes over a seeded store; nothing here is timed (``bench/cases/cli_startup.py``)."""

from __future__ import annotations

import asyncio
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cli
from cli.search import quick_args
from home.paths import resolve_paths
from storage import open_store
from tests.support.tether_cli import TETHER

T0 = 1_790_000_000.0


async def _seed(db: Path) -> None:
    async with open_store(db) as store:
        s = store.sessions
        api = await s.create(["uvicorn", "app"], cwd="/srv/api", name="api", created_at=T0)
        ml = await s.create(
            ["python", "train.py"], cwd="/srv/ml", name="train", tags=["ml"], created_at=T0 + 1
        )
        lines = b"".join(b"GET /item/%d 200 connection kept\n" % i for i in range(40))
        await store.output.append(api.id, "stdout", lines, T0)
        await store.output.append(api.id, "stdout", b"upstream connection refused\n", T0 + 2)
        await store.output.append(api.id, "stderr", b"connection reset by peer\n", T0 + 5)
        await store.output.append(ml.id, "stdout", b"\x1b[31mconnection\x1b[0m lost\n", T0 + 9)
        await store.output.append(ml.id, "stdout", b"epoch 3 loss=0.25 checkpoint\n", T0 + 9)
        await s.set_status(api.id, "running", at=T0)
        await s.set_status(api.id, "failed", exit_code=3, at=T0 + 10)
        await s.set_status(ml.id, "running", at=T0 + 1)
        await s.set_status(ml.id, "succeeded", exit_code=0, at=T0 + 10)


@pytest.fixture
def seeded(tether, tether_home):
    db = resolve_paths(env={"TETHER_HOME": str(tether_home)}).db
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    asyncio.run(_seed(db))
    return tether, db


QUERIES = [
    ["connection"],
    ["connection", "refused"],
    ['"connection refused"'],
    ["conn*"],
    ["connection", "status:failed"],
    ["connection", "tag:ml"],
    ["connection", "stream:stderr"],
    ["connection", "exit:!0"],
    ["connection", "since:2026-01-01"],
    ["api"],  # the session's name: a metadata match
    ["status:failed"],  # no text: the matching sessions
    ["nothing-matches-this"],
    ["connection", "--limit", "2"],  # a next page: the 'more:' line
    ["--rank", "connection"],
    ["connection", "--no-counts"],
    ["connection", "--json"],
    ["--json", "--limit", "3", "conn*", "tag:ml"],
    ["connection", "--page", "bogus"],  # a bad cursor: exit 2
    ["connection", "status:bogus"],  # a query that does not parse: exit 2
]


@pytest.mark.parametrize("words", QUERIES, ids=" ".join)
def test_the_short_way_prints_what_the_parser_way_prints(seeded, words):
    tether, db = seeded
    argv = ["search", *words]
    assert quick_args(argv) is not None  # this one takes the short way...
    parsed = ["--db", str(db), *argv]
    assert cli._search_args(parsed) is None  # ...this one goes through the parser
    short, long = tether(*argv), tether(*parsed)
    assert (short.returncode, short.stdout, short.stderr) == (
        long.returncode,
        long.stdout,
        long.stderr,
    )
    assert short.stdout or short.stderr


def _parsed(argv: list[str]) -> dict | None:
    """What the parser makes of ``argv`` (None: a usage error)."""
    try:
        found = vars(cli.parse(cli.build_parser(argv), argv))
    except SystemExit:
        return None
    return {k: v for k, v in found.items() if k not in ("_commands", "_parser")}


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "x"],
        ["search", "a", "b", "tag:ml"],
        ["search", "--json", "x"],
        ["search", "x", "--limit", "5", "--rank", "--no-counts"],
        ["search", "--page", "n:1:2", "x", "--db", "/tmp/t.db"],
        ["search", "--limit", "0", "x"],  # parsed; cmd_search says no
        ["search", ""],
    ],
)
def test_quick_args_are_the_parsers(argv):
    quick = cli._search_args(argv)
    assert quick is not None
    assert _fields(quick) == _parsed(argv)
    assert quick._parser.format_usage() == _parsed_parser(argv).format_usage()


def _fields(quick) -> dict:
    """What a quick parse found (not the argv it keeps for a parser built later)."""
    return {k: v for k, v in vars(quick).items() if k != "_argv"}


def _parsed_parser(argv: list[str]):
    return cli.parse(cli.build_parser(argv), argv)._parser


@pytest.mark.parametrize(
    "argv",
    [
        ["search"],
        ["search", "-h"],
        ["search", "--help"],
        ["search", "-debug"],
        ["search", "--", "-debug"],
        ["search", "a", "--json", "b"],  # argparse refuses words after an option
        ["search", "--lim", "5", "x"],  # an abbreviation
        ["search", "--limit=5", "x"],
        ["search", "--limit", "five", "x"],
        ["search", "--limit", "-1", "x"],
        ["search", "x", "--limit"],
        ["search", "x", "--bogus"],
        ["--db", "x", "search", "y"],
        ["ls"],
    ],
)
def test_anything_else_goes_through_the_parser(argv):
    assert cli._search_args(argv) is None


TOKENS = st.sampled_from(
    ["search", "x", "tag:ml", "", "-x", "--", "--json", "--rank", "--no-counts"]
    + ["--limit", "--page", "--db", "--lim", "--limit=3", "3", "-3", "0", "s:1:0", "-h"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TOKENS, max_size=7))
def test_quick_args_never_differ_from_the_parser(rest):
    argv = ["search", *rest]
    quick = cli._search_args(argv)
    if quick is not None:
        assert _fields(quick) == _parsed(argv), argv


def _imported(tether, *args: str) -> set[str]:
    """The modules a real ``tether`` process imported (``-X importtime`` lists them)."""
    command = TETHER[1:] if TETHER[0] == sys.executable else TETHER
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command, *args],
        env=tether.env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize(
    "words",
    [["connection"], ["connection", "status:failed", "tag:ml"], ["conn*", "--json"]],
    ids=" ".join,
)
def test_tether_search_loads_no_event_loop_no_parser_and_no_agents(seeded, words):
    tether, _ = seeded
    loaded = _imported(tether, "search", *words)
    assert {"cli.search", "storage.engine.search.core"} <= loaded  # it did search
    unneeded = ("asyncio", "aiosqlite", "textual", "agents", "shutil", "cli.sessions")
    for heavy in (*unneeded, "storage.records"):
        assert heavy not in loaded, heavy


@pytest.fixture
def long_session(tether, tether_home) -> tuple[str, list[str]]:
    """A session with 30 000 lines of output: more than any pipe or stdout buffer."""
    lines = [f"line {i} connection" for i in range(30_000)]

    async def seed(db: Path) -> int:
        async with open_store(db) as store:
            s = await store.sessions.create(["seq"], cwd="/", name="long", created_at=T0)
            data = "".join(f"{line}\n" for line in lines).encode()
            await store.output.append(s.id, "stdout", data, T0)
            await store.sessions.set_status(s.id, "running", at=T0)
            await store.sessions.set_status(s.id, "succeeded", exit_code=0, at=T0 + 1)
            return s.id

    db = resolve_paths(env={"TETHER_HOME": str(tether_home)}).db
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(asyncio.run(seed(db))), lines


def test_a_quick_exit_writes_all_the_output_first(tether, long_session):
    """``search``, ``ls`` and ``logs`` end without Python's teardown (cli._leave): what
    they printed must all be out by then."""
    sid, lines = long_session
    tether.env.pop("PYTHONUNBUFFERED", None)  # (set here; buffered, as for most users)
    assert tether.ok("logs", sid).splitlines() == lines
    found = tether.json("search", "connection", "--limit", "5000")
    assert len(found["sessions"][0]["hits"]) == 5000


def test_a_reader_that_leaves_early_is_not_an_error(tether, long_session):
    sid, lines = long_session
    tether.env.pop("PYTHONUNBUFFERED", None)
    done = subprocess.run(
        f"{shlex.join(TETHER)} logs {sid} | head -n 3",
        shell=True,
        env=tether.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.splitlines() == lines[:3]
    assert done.stderr == ""


def test_search_ms_is_recorded_without_a_checkpoint(seeded):
    """``tether search`` records its search_ms and ends without closing its connections
    (Ctx.quick_exit): the sample is in the WAL, readable by the next connection, and no
    checkpoint (an fsync and the WAL's unlink) was paid for it."""
    tether, db = seeded

    def samples() -> int:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute("SELECT count(*) FROM metrics WHERE name = 'search_ms'").fetchone()[
                0
            ]
        finally:
            con.close()  # (a read-only connection leaves the WAL as it is)

    before = samples()
    tether.ok("search", "connection")
    tether.ok("search", "refused")
    assert samples() == before + 2
    wal = db.with_name(db.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0


# ``tether ls`` and ``tether logs ID [--tail N]`` take the same short way (cli._read_args).
READ_ARGV = [["ls"], ["ls", "--json"], ["logs", "1"], ["logs", "#1", "--tail", "2"]]
READ_ARGV += [["logs", "1", "-n", "3"], ["logs", "1", "--tail", "0"]]


@pytest.mark.parametrize("argv", READ_ARGV, ids=" ".join)
def test_read_args_are_the_parsers(argv):
    quick = cli._read_args(argv)
    assert quick is not None
    found = {k: v for k, v in vars(quick).items() if k not in ("_argv", "func")}
    parsed = _parsed(argv)
    assert parsed is not None
    assert found == {k: v for k, v in parsed.items() if k != "func"}
    assert quick._parser.format_usage() == _parsed_parser(argv).format_usage()


@pytest.mark.parametrize(
    "argv",
    [
        ["ls", "-a"],
        ["ls", "api"],
        ["logs"],
        ["logs", "-f", "1"],
        ["logs", "1", "-f"],
        ["logs", "1", "--tail", "x"],
        ["logs", "1", "--tail", "-1"],
        ["logs", "1", "--tail=2"],
        ["logs", "1", "2", "3"],
    ],
)
def test_other_ls_and_logs_go_through_the_parser(argv):
    assert cli._read_args(argv) is None


@pytest.mark.parametrize("argv", READ_ARGV, ids=" ".join)
def test_ls_and_logs_print_what_the_parser_way_prints(seeded, argv):
    tether, db = seeded
    short, long = tether(*argv), tether("--db", str(db), *argv)
    assert (short.returncode, short.stdout, short.stderr) == (
        long.returncode,
        long.stdout,
        long.stderr,
    )
    assert short.returncode == 0
    assert short.stdout or argv[-1] == "0"
