"""The command line stays quick to start, checked without timing anything: a command
imports only its own module of ``cli``, and the one-query commands (``ls``, ``show``,
``logs``, ``search``) read through a plain connection, so no event loop, no
aiosqlite and no worker thread. (The times are in ``bench/cases/cli_startup.py``.)"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cli

# Runs one command in a fresh interpreter and reports what it loaded and which threads
# were still there at the end.
_PROBE = (
    "import json, sys, threading\n"
    "from cli import main\n"
    "try:\n"
    "    rc = main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    rc = e.code\n"
    "sys.stdout.flush()\n"
    "report = {'rc': rc, 'modules': sorted(sys.modules),\n"
    "          'threads': [t.name for t in threading.enumerate()]}\n"
    "print('\\nPROBE ' + json.dumps(report))\n"
)
READ = {"cli", "cli.context", "cli.common", "cli.sessions"}


def probe(tether, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=tether.env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("PROBE ")]
    assert line, (done.stdout, done.stderr)
    report = json.loads(line[-1].removeprefix("PROBE "))
    assert report["rc"] in (0, None), (args, done.stderr)
    return report


@pytest.fixture
def session(tether) -> str:
    sid = tether.ok("run", "--", "sh", "-c", "echo needle-17; seq 1 50").strip()
    tether.wait_status(sid, ("succeeded",))
    return sid


@pytest.mark.parametrize(
    ("args", "modules"),
    [
        (("ls",), READ),
        (("ls", "--json"), READ),
        (("show", "{sid}"), READ),
        # (parsed without the parser: cli.sessions, which registers logs, is not needed)
        (("logs", "{sid}", "--tail", "20"), READ - {"cli.sessions"} | {"cli.logs"}),
        (("logs", "{sid}"), READ - {"cli.sessions"} | {"cli.logs"}),
        (("search", "needle-17"), {"cli", "cli.context", "cli.search"}),
        # (a page of one hit of many: the next page's command is printed, quoted)
        (("search", "1*", "--limit", "1"), {"cli", "cli.context", "cli.search"}),
        (("--version",), {"cli", "cli.context"}),
    ],
)
def test_a_one_query_command_starts_no_event_loop_and_loads_only_its_module(
    tether, session, args, modules
):
    report = probe(tether, *(a.format(sid=session) for a in args))
    loaded = set(report["modules"])
    ours = {m for m in loaded if m == "cli" or m.startswith("cli.")}
    assert ours == modules, args
    for heavy in ("asyncio", "aiosqlite", "textual"):
        assert heavy not in loaded, (args, heavy)
    assert "shlex" not in loaded, args  # storage.text.shell_quote stands for its quote
    assert report["threads"] == ["MainThread"], args


@pytest.mark.parametrize(
    "args",
    [
        ("search", "needle-17"),
        ("search", "needle-17", "--json"),
        ("ls",),
        ("ls", "--json"),
        ("logs", "{sid}", "--tail", "20"),
        ("show", "{sid}"),
    ],
)
def test_a_one_query_command_without_a_config_file_loads_no_typing_or_pathlib(
    tether, session, args
):
    """``typing`` (and the ``re`` compiler it loads in 3.11) is ~3 ms of a start issue
    18 wants close to Python's own: the modules on these paths define TYPE_CHECKING
    themselves (storage/__init__.py). ``pathlib`` is another ~3 ms (it loads
    ``urllib.parse``, which loads ``ipaddress``): these paths use the plain-string
    places of ``home.paths.Paths``. (Reading a config.toml loads both: tomllib, and
    the config code.)"""
    (Path(tether.env["TETHER_HOME"]) / "config.toml").unlink()
    loaded = probe(tether, *(a.format(sid=session) for a in args))["modules"]
    assert "typing" not in loaded, args
    assert "pathlib" not in loaded, args


@pytest.mark.parametrize("config", [True, False])
@pytest.mark.parametrize(
    "args",
    [
        ("search", "needle-17"),
        ("ls",),
        ("ls", "--json"),
        ("logs", "{sid}", "--tail", "20"),
        ("show", "{sid}"),
    ],
)
def test_a_one_query_command_builds_no_dataclass(tether, session, args, config):
    """Its records are ``storage.frozen`` ones: importing ``dataclasses`` (inspect, ast)
    and building each class with ``exec`` was a third of a ``tether search``. With a
    config.toml too: checking it builds the schema's options and the retention policy."""
    if not config:
        (Path(tether.env["TETHER_HOME"]) / "config.toml").unlink()
    assert "dataclasses" not in probe(tether, *(a.format(sid=session) for a in args))["modules"]


def test_the_read_path_gives_what_the_store_gives(tether, session):
    """Same answers as before: the rows and lines come from the same facets."""
    assert "needle-17" in tether.ok("search", "needle-17")
    assert tether.ok("logs", session, "--tail", "2", "--stream", "stdout").split() == ["49", "50"]
    assert [s["id"] for s in tether.json("ls")] == [int(session)]


def test_a_command_that_writes_still_uses_the_store(tether, session):
    report = probe(tether, "rm", session)
    assert "aiosqlite" in report["modules"]


def test_commands_lists_each_command_with_the_module_that_registers_it():
    found = {}
    for name in cli.COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        sub = argparse.ArgumentParser().add_subparsers()
        module.register(sub, argparse.ArgumentParser(add_help=False))
        found.update(dict.fromkeys(sub.choices, name))
    assert found == {k: v for k, v in cli.COMMANDS.items() if v in found.values()}


def test_help_still_lists_every_command(tether):
    out = tether.ok("--help")
    for name in cli.COMMANDS:
        if importlib.util.find_spec(cli.COMMANDS[name]) is not None:
            assert name in out, name


@pytest.mark.parametrize("argv", [["attach", "7"], ["attach", "#7"], ["attach", "0193ab"]])
def test_tether_attach_id_skips_the_parser_and_gets_what_it_would_give(argv):
    parsed = vars(cli.parse(cli.build_parser(argv), argv))
    quick = cli._attach_args(argv)
    assert quick is not None
    assert vars(quick) == {k: v for k, v in parsed.items() if k not in ("_commands", "_parser")}
    assert quick._parser.format_usage() == parsed["_parser"].format_usage()  # for _usage
    assert getattr(quick, "loads_config", True) is True


@pytest.mark.parametrize(
    "argv",
    [
        ["attach"],
        ["attach", "-h"],
        ["attach", "1", "2"],
        ["attach", "--db", "x"],
        ["--db", "x", "attach", "1"],
        ["ls", "1"],
    ],
)
def test_anything_but_tether_attach_id_goes_through_the_parser(argv):
    assert cli._attach_args(argv) is None
