"""The command line's own manners, as a user meets them: ``--version``, each
subcommand's usage on a bad option, and an ambiguous uid prefix listing its candidates."""

from __future__ import annotations

import json
import os
from importlib.metadata import version


def test_version_is_the_package_version(tether):
    done = tether("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"tether {version('tether')}\n"


def test_a_bad_option_shows_the_subcommands_own_usage(tether):
    done = tether("ls", "--bogus")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: tether ls ")
    assert "tether ls: error: unrecognized arguments: --bogus" in done.stderr
    done = tether("logs", "1", "--nope")
    assert done.returncode == 2 and done.stderr.startswith("usage: tether logs ")
    assert "tether logs: error: unrecognized arguments: --nope" in done.stderr
    # an option no subcommand was given for is still the top level's
    done = tether("--bogus")
    assert done.returncode == 2 and done.stderr.startswith("usage: tether [")


def test_an_ambiguous_uid_prefix_lists_the_candidates(tether):
    a = json.loads(tether.ok("run", "--json", "-n", "first", "--", "true"))
    b = json.loads(tether.ok("run", "--json", "--", "echo", "second"))
    prefix = os.path.commonprefix([a["uid"], b["uid"]])
    assert len(prefix) >= 4  # uuid7: sessions made together share their leading time bits
    for command in ("show", "logs", "rm"):
        done = tether(command, prefix[:4])
        assert done.returncode == 1, (command, done.stderr)
        assert done.stdout == ""
        err = done.stderr
        assert f"'{prefix[:4]}' matches several sessions (2)" in err, err
        assert f"#{a['id']}  {a['uid']}  first  true" in err
        assert f"#{b['id']}  {b['uid']}  echo second" in err
    # a longer prefix that tells them apart still works
    assert tether.json("show", b["uid"][:-1])["id"] == b["id"]
