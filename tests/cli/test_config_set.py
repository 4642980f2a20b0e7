"""``tether config get|set|unset|path|edit`` as a user runs them: real ``tether``
subprocesses on a temporary TETHER_HOME. Values are checked against the schema loading
uses; the file keeps its comments and order; writes are atomic, private and never
through a symlink."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest

from tui.keys import KEYS

COMMENTED = textwrap.dedent(
    """\
    # my tether settings
    [general]
    autosave_interval = 3.0     # slower autosaves
    stop_grace = 1.0            # short: tests

    # cleanup
    [retention]
    # max_age_days = 30
    keep = 100  # keep plenty

    [keys]
    stop = "x"  # my key
    """
)


@pytest.fixture
def tether_config() -> str:
    return COMMENTED


def test_get_set_unset_round_trip(tether, tether_home):
    config_file = tether_home / "config.toml"
    assert tether.ok("config", "get", "general.stop_grace") == "1.0\n"
    assert tether.ok("config", "get", "general.bell") == "false\n"  # a default
    assert tether.ok("config", "get", "keys.quit") == "q\n"  # the TUI's default key

    out = tether.ok("config", "set", "general.bell", "true")
    assert out == f"general.bell = true  ({config_file})\n"
    assert tether.json("config", "get", "general.bell") == {
        "key": "general.bell",
        "value": True,
        "source": str(config_file),
    }
    tether.ok("config", "set", "keys.new_session", "a")  # a bare word for a key
    tether.ok("config", "set", "keys.pause", "5")  # a digit key stays a key name
    tether.ok("config", "set", "retention.max_size", "5G")
    tether.ok("config", "set", "retention.protected_tags", '["keep", "prod"]')
    tether.ok("config", "set", "general.stop_grace", "2")
    values = tether.json("config")["config"]
    assert values["general"]["bell"] is True
    assert values["general"]["stop_grace"] == 2.0
    assert values["keys"]["new_session"] == "a" and values["keys"]["pause"] == "5"
    assert values["retention"]["max_size"] == "5G"
    assert values["retention"]["protected_tags"] == ["keep", "prod"]

    assert "removed" in tether.ok("config", "unset", "general.bell")
    assert tether.json("config", "get", "general.bell")["source"] == "default"
    assert "not set" in tether.ok("config", "unset", "general.bell")  # again: nothing to do
    tether.ok("config", "unset", "keys.stop")
    assert tether.ok("config", "get", "keys.stop") == f"{KEYS['stop'].key}\n"


def test_comments_and_order_survive_outside_the_changed_line(tether, tether_home):
    config_file = tether_home / "config.toml"
    tether.ok("config", "set", "general.stop_grace", "2.5")
    assert config_file.read_text() == COMMENTED.replace(
        "stop_grace = 1.0            # short: tests", "stop_grace = 2.5            # short: tests"
    )
    tether.ok("config", "set", "retention.trash_days", "3")  # a new key: after the others
    assert config_file.read_text() == COMMENTED.replace(
        "stop_grace = 1.0", "stop_grace = 2.5"
    ).replace("keep = 100  # keep plenty\n", "keep = 100  # keep plenty\ntrash_days = 3\n")
    tether.ok("config", "unset", "retention.trash_days")
    tether.ok("config", "unset", "general.autosave_interval")
    assert config_file.read_text() == COMMENTED.replace(
        "stop_grace = 1.0", "stop_grace = 2.5"
    ).replace("autosave_interval = 3.0     # slower autosaves\n", "")


def test_queue_limits_are_settings_the_queue_reads(tether, tether_home):
    done = tether("config", "set", "run.max_parallel", "4")
    assert done.returncode == 0, done.stderr
    assert "nothing reads it yet" not in done.stderr
    tether.ok("config", "set", "groups.build.max_parallel", "2")
    assert tether.ok("config", "get", "run.max_parallel") == "4\n"
    assert tether.ok("config", "get", "groups.build.max_parallel") == "2\n"
    assert tether.ok("config", "get", "groups.other.max_parallel") == "0\n"  # unlimited
    text = (tether_home / "config.toml").read_text()
    assert text.endswith("\n[run]\nmax_parallel = 4\n\n[groups.build]\nmax_parallel = 2\n")
    values = tether.json("config")["config"]
    assert values["run"] == {"max_parallel": 4}
    assert values["groups"] == {"build": {"max_parallel": 2}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("general.grace", "1"),
            "unknown key general.grace (did you mean general.stop_grace?); known in "
            "[general]: autosave_interval, reconcile_interval, stop_grace, bell, auto_cleanup",
        ),
        (("ui.theme", "dark"), "unknown section [ui]; known: [general], [retention], [backups]"),
        (("stop_grace", "1"), "keys are dotted: section.key; did you mean general.stop_grace?"),
        (("keys.stopp", "x"), "unknown key keys.stopp (did you mean keys.stop?); known in [keys]"),
        (("general", "1"), "general is a table, not a setting; in it: autosave_interval"),
        (("general.stop_grace", "soon"), "general.stop_grace must be a positive number of sec"),
        (("general.stop_grace", "0"), "general.stop_grace must be a positive number of seconds"),
        (("general.bell", "yes"), "general.bell must be true or false, not 'yes'"),
        (("backups.keep", "0"), "backups.keep must be a whole number of at least 1, not 0"),
        (("run.max_parallel", "-1"), "run.max_parallel must be a whole number of at least 0"),
        (("run.max_parallel", "1.5"), "run.max_parallel must be a whole number of at least 0"),
        (
            ("retention.statuses", '["running"]'),
            "retention.statuses: unknown value 'running'; choices: failed, lost, stopped, "
            "succeeded",
        ),
        (("retention.max_size", "lots"), "retention.max_size must be a size such as"),
        (("redaction.patterns", '["(x"]'), "invalid redaction pattern '(x'"),
        (("retention.max_age_days", "3"), "give max_age or max_age_days, not both"),
    ],
)
def test_a_bad_key_or_value_is_refused_with_the_choices(tether, tether_home, args, message):
    config_file = tether_home / "config.toml"
    tether.ok("config", "set", "retention.max_age", "30d")
    before = config_file.read_bytes()
    done = tether("config", "set", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr, done.stderr
    assert done.stdout == ""
    assert config_file.read_bytes() == before


def test_unset_and_get_of_an_unknown_key_are_refused(tether):
    for action in ("get", "unset"):
        done = tether("config", action, "general.grace")
        assert done.returncode == 2
        assert "unknown key general.grace" in done.stderr


def test_set_and_unset_mend_a_file_that_does_not_load(tether, tether_home):
    config_file = tether_home / "config.toml"
    config_file.write_text("[general]\nstop_grace = -1  # oops\ngrace = 2\n")
    assert tether("ls").returncode == 2
    done = tether("config", "set", "general.bell", "true")  # the file's problem, not bell's
    assert done.returncode == 2
    assert "the file had this problem already: `tether config edit` to fix it" in done.stderr
    # a file is written only if it loads: one step may mend it, never leave it broken
    config_file.write_text("[general]\nstop_grace = -1  # oops\n")
    tether.ok("config", "set", "general.stop_grace", "1")
    assert config_file.read_text() == "[general]\nstop_grace = 1  # oops\n"
    config_file.write_text("[general]\nstop_grace = 1  # oops\ngrace = 2\n")
    tether.ok("config", "unset", "general.grace")  # unknown to the schema, but in the file
    assert config_file.read_text() == "[general]\nstop_grace = 1  # oops\n"
    tether.ok("ls")


def test_config_path_prints_the_path(tether, tether_home):
    assert tether.ok("config", "path") == f"{tether_home / 'config.toml'}\n"
    (tether_home / "config.toml").write_text("[nonsense]\n")  # path works on a bad file
    assert tether.json("config", "path") == {
        "path": str(tether_home / "config.toml"),
        "exists": True,
    }


def test_a_new_file_is_private_in_a_private_directory(tmp_path, tether):
    home = tmp_path / "fresh"
    tether.env["TETHER_HOME"] = str(home)
    tether.ok("config", "set", "general.bell", "true")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    config_file = home / "config.toml"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert "[general]\nbell = true\n" in config_file.read_text()
    assert sorted(p.name for p in home.iterdir()) == ["config.toml"]  # no temporary left


def test_a_symlink_at_the_config_path_is_not_written_through(tmp_path, tether, tether_home):
    target = tmp_path / "elsewhere.toml"
    target.write_text("[general]\nbell = true\n")
    config_file = tether_home / "config.toml"
    config_file.unlink()
    config_file.symlink_to(target)
    assert tether.ok("config", "get", "general.bell") == "true\n"  # read: yes
    tether.env["EDITOR"] = _editor(tmp_path, "sed -i 's/true/false/' \"$1\"")
    tether.env.pop("VISUAL", None)
    for args in (("set", "general.bell", "false"), ("unset", "general.bell"), ("edit",)):
        done = tether("config", *args)
        assert done.returncode == 1, (args, done.stderr)
        assert "is a symbolic link" in done.stderr and "does not write through" in done.stderr
    assert target.read_text() == "[general]\nbell = true\n"
    assert config_file.is_symlink() and os.readlink(config_file) == str(target)


# -- edit ---------------------------------------------------------------------------------
def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.sh"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o700)
    return str(script)


@pytest.fixture
def edit(tether, tmp_path):
    def run(body: str):  # type: ignore[no-untyped-def]
        tether.env["EDITOR"] = _editor(tmp_path, body)
        tether.env.pop("VISUAL", None)
        return tether("config", "edit")

    return run


def test_an_edit_with_a_bad_value_keeps_the_old_file(edit, tether_home):
    config_file = tether_home / "config.toml"
    done = edit("sed -i 's/keep = 100/keep = -5/' \"$1\"")
    assert done.returncode == 2, done.stderr
    assert "not saved: retention.keep must be a whole number of at least 0, not -5" in done.stderr
    assert f"{config_file} is unchanged" in done.stderr
    assert config_file.read_text() == COMMENTED
    assert sorted(p.name for p in tether_home.iterdir()) == ["config.toml"]  # draft removed

    done = edit("echo '[general' >> \"$1\"")
    assert done.returncode == 2 and "not saved: not valid TOML" in done.stderr
    assert config_file.read_text() == COMMENTED


def test_a_good_edit_is_saved(edit, tether, tether_home):
    config_file = tether_home / "config.toml"
    done = edit("sed -i 's/keep = 100/keep = 7/' \"$1\"")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"saved {config_file}\n"
    assert config_file.read_text() == COMMENTED.replace("keep = 100", "keep = 7")
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert tether.ok("config", "get", "retention.keep") == "7\n"

    done = edit("true")  # saved unchanged
    assert done.returncode == 0 and "no changes" in done.stdout
    done = edit("exit 3")
    assert done.returncode == 1 and "the editor exited with 3" in done.stderr


def test_edit_of_a_missing_file_starts_from_the_commented_defaults(edit, tether, tether_home):
    (tether_home / "config.toml").unlink()
    done = edit("sed -i 's/^# bell = false/bell = true/' \"$1\"")
    assert done.returncode == 0, done.stderr
    text = (tether_home / "config.toml").read_text()
    assert "\nbell = true" in text and "# stop_grace = 5.0" in text
    assert tether.json("config", "get", "general.bell")["value"] is True
    assert "\n# max_parallel = 0 " in text  # the queue reads it: offered, commented


def test_edit_mends_a_file_that_does_not_load(edit, tether, tether_home):
    (tether_home / "config.toml").write_text("[general]\nstop_grace = oops\n")
    done = edit("printf '[general]\\nstop_grace = 3\\n' > \"$1\"")
    assert done.returncode == 0, done.stderr
    assert tether.ok("config", "get", "general.stop_grace") == "3.0\n"
