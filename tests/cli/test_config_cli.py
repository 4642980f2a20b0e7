"""``tether config`` shows every setting in effect and where it came from; a
config.toml that names something unknown is refused by every command (exit 2)."""

from __future__ import annotations

import pytest

from tui.keys import KEYS


def test_config_shows_every_setting_and_its_source(tether, tether_home):
    config_file = tether_home / "config.toml"
    config_file.write_text(
        '[general]\nstop_grace = 1.0\n[retention]\nkeep = 50\n[keys]\nstop = "x"\n'
        "[redaction]\non_capture = true\n"
    )
    data = tether.json("config")
    values, sources = data["config"], data["sources"]
    assert set(values) == {
        "general", "retention", "backups", "redaction", "attach", "storage", "run", "keys",
        "attention", "notify",
    }  # fmt: skip
    assert values["attention"] == {"quiet_after": 3.0, "bell": True}
    assert values["run"] == {"max_parallel": 0} and sources["run"] == {"max_parallel": "default"}
    assert values["general"]["stop_grace"] == 1.0
    assert sources["general"]["stop_grace"] == str(config_file)
    assert values["general"]["autosave_interval"] == 2.0
    assert sources["general"]["autosave_interval"] == "default"
    assert values["retention"]["keep"] == 50 and values["retention"]["trash_days"] == 7.0
    assert sources["retention"]["keep"] == str(config_file)
    assert values["retention"]["max_age"] is None  # off
    assert values["backups"] == {"keep": 5} and sources["backups"] == {"keep": "default"}
    assert values["redaction"] == {"patterns": [], "on_capture": True}
    assert values["attach"] == {"detach_key": "ctrl+\\", "record_input": False}
    assert values["notify"] == {"desktop": "off"} and sources["notify"] == {"desktop": "default"}
    assert set(values["keys"]) == set(KEYS)
    assert values["keys"]["stop"] == "x" and sources["keys"]["stop"] == str(config_file)
    assert values["keys"]["quit"] == "q" and sources["keys"]["quit"] == "default"
    assert data["paths_from"]["database"] == "TETHER_HOME"

    text = tether.ok("config")
    for section in ("[general]", "[retention]", "[backups]", "[redaction]", "[keys]"):
        assert section in text
    lines = {
        ln.split("#")[0].strip(): ln.rsplit("#", 1)[1].strip()
        for ln in text.splitlines()
        if " = " in ln
    }
    assert lines["stop_grace = 1.0"] == str(config_file)
    assert lines["keep = 50"] == str(config_file)
    assert lines['stop = "x"'] == str(config_file)
    assert lines["on_capture = true"] == str(config_file)
    assert lines["autosave_interval = 2.0"] == "default"
    assert lines['quit = "q"'] == "default"


def test_config_with_no_file_is_all_defaults(tether, tether_home):
    (tether_home / "config.toml").unlink()
    data = tether.json("config")
    assert data["config_file_exists"] is False
    assert {s for section in data["sources"].values() for s in section.values()} == {"default"}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[keys]\nstopp = "x"\n',
            "unknown key keys.stopp (did you mean keys.stop?); "
            "known in [keys]: approve, attach, back,",
        ),
        ('[keys]\nstop = ""\n', "keys.stop must be a key name"),
        ("[ui]\ntheme = 1\n", "unknown section [ui]; known: [general], [retention]"),
        (
            "[general]\ngrace = 1\n",
            "unknown key general.grace (did you mean general.stop_grace?); "
            "known in [general]: autosave_interval",
        ),
        (
            '[redaction]\npattern = ["x"]\n',
            "unknown key redaction.pattern (did you mean redaction.patterns?); "
            "known in [redaction]: patterns",
        ),
        (
            '[redaction]\non_capture = "yes"\n',
            "redaction.on_capture must be true or false, not 'yes'",
        ),
        ('[redaction]\npatterns = ["(x"]\n', "invalid redaction pattern '(x'"),
        (
            "[backups]\nkepe = 2\n",
            "unknown key backups.kepe (did you mean backups.keep?); known in [backups]: keep",
        ),
        ("[backups]\nkeep = 0\n", "backups.keep must be a whole number of at least 1, not 0"),
        (
            "[retention]\nmax_days = 2\n",
            "unknown key retention.max_days (did you mean retention.max_age_days?); "
            "known in [retention]: max_age",
        ),
        (
            "[run]\nmax_parallel = -1\n",
            "run.max_parallel must be a whole number of at least 0, not -1",
        ),
        ("[groups]\nbuild = 2\n", "[groups.build] must be a table, not 2"),
        ("[groups.build]\nmax_paralel = 2\n", "unknown key groups.build.max_paralel"),
    ],
)
def test_an_unknown_or_bad_setting_is_refused_by_every_command(tether, tether_home, toml, message):
    (tether_home / "config.toml").write_text(toml)
    for args in ((), ("ls",), ("config",), ("run", "--", "true")):
        done = tether(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.startswith(f"tether: {tether_home / 'config.toml'}: "), done.stderr
        assert message in done.stderr, done.stderr
        assert done.stdout == ""
    assert not (tether_home / "tether.db").exists()  # nothing ran
