"""config.toml's sections read into plain settings: ``[retention]`` into a
``RetentionPolicy`` (each bad value named), ``[backups] keep``, and ``[redaction]`` into
the export and capture-time redactors."""

from __future__ import annotations

import pytest

from home.config import (
    Config,
    ConfigError,
    capture_patterns,
    capture_redactor,
    effective_settings,
    export_redactor,
    keep_backups,
    load_config,
    retention_from_section,
    retention_policy,
)
from storage.models import ENDED
from storage.redact import RedactionPatternError
from storage.retention import DAY, PolicyError, RetentionPolicy
from tests.support.transfer import AWS_KEY


# -- [retention] --------------------------------------------------------------------------
def test_policy_from_config():
    policy = retention_from_section(
        {
            "max_age_days": 30,
            "keep": 200,
            "max_size": "5G",
            "statuses": ["failed", "lost"],
            "protected_tags": ["keep", "prod"],
            "trash_days": 3,
        }
    )
    assert policy.max_age == 30 * DAY
    assert policy.keep_newest == 200
    assert policy.max_total_bytes == 5 << 30
    assert policy.statuses == {"failed", "lost"}
    assert policy.protected_tags == {"keep", "prod"}
    assert policy.trash_days == 3.0
    assert retention_from_section({"max_age": "12h"}).max_age == 12 * 3600
    defaults = retention_from_section({})
    assert defaults == RetentionPolicy()
    assert defaults.statuses == ENDED and not defaults.limited


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"max_agee": 3}, "unknown key"),
        ({"keep": -1}, "retention.keep"),
        ({"keep": "ten"}, "retention.keep"),
        ({"max_size": "lots"}, "retention.max_size"),
        ({"statuses": ["running"]}, "unknown value 'running'; choices: failed, lost, stopped"),
        ({"statuses": ["done"]}, "unknown value 'done'"),
        ({"statuses": "failed"}, "must be a list of some of failed"),
        ({"trash_days": "a week"}, "retention.trash_days"),
        ({"max_age": "1d", "max_age_days": 1}, "not both"),
    ],
)
def test_policy_from_config_rejects(section, message):
    with pytest.raises(PolicyError, match=message):
        retention_from_section(section)


def test_a_bad_retention_value_names_the_file(tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text("[retention]\nkeep = -1\n")
    with pytest.raises(ConfigError) as caught:
        retention_policy(load_config(config_file))
    assert str(caught.value) == (
        f"{config_file}: retention.keep must be a whole number of at least 0, not -1"
    )
    assert retention_policy(Config()) == RetentionPolicy()


# -- [backups] ----------------------------------------------------------------------------
def test_keep_backups():
    assert keep_backups(Config()) == 5
    assert keep_backups(Config(sections={"backups": {"keep": 2}})) == 2
    for bad in (0, True, "3"):
        with pytest.raises(ConfigError, match="backups.keep must be a whole number"):
            keep_backups(Config(sections={"backups": {"keep": bad}}))


# -- [redaction] --------------------------------------------------------------------------
def test_capture_redactor_follows_config():
    assert capture_redactor({}) is None
    assert capture_redactor({"on_capture": False, "patterns": ["x+"]}) is None
    assert capture_patterns({"on_capture": True}) == []
    sr = capture_redactor({"on_capture": True, "patterns": [r"tok-\d+"]})
    assert sr is not None
    out = sr.feed(f"a {AWS_KEY} b tok-1234\npartial tok-9".encode()) + sr.flush()
    assert out == b"a [REDACTED:aws-access-key-id] b [REDACTED:custom]\npartial [REDACTED:custom]"
    assert sr.counts == {"aws-access-key-id": 1, "custom": 2}
    with pytest.raises(RedactionPatternError):
        capture_redactor({"on_capture": True, "patterns": ["("]})
    with pytest.raises(ValueError, match="list of strings"):
        capture_patterns({"on_capture": True, "patterns": "x"})


def test_export_redactor_adds_the_configured_patterns():
    redactor = export_redactor({"patterns": [r"INTERNAL-\d+"]})
    assert redactor.redact_text("ticket INTERNAL-12345") == ("ticket [REDACTED:custom]", 1)
    with pytest.raises(ValueError, match="list of strings"):
        export_redactor({"patterns": "INTERNAL"})


# -- the whole file is checked when it is loaded --------------------------------------------
def test_load_config_checks_every_section(tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text('[keys]\nstop = "x"\nstopp = "y"\n')
    assert load_config(config_file).keys == {"stop": "x", "stopp": "y"}  # ids not given
    with pytest.raises(
        ConfigError,
        match=r"unknown key keys.stopp \(did you mean keys.stop\?\); known in \[keys\]: quit, stop",
    ):
        load_config(config_file, key_ids={"stop", "quit"})
    config_file.write_text("[retention]\nkeep = -1\n")
    with pytest.raises(ConfigError, match="retention.keep"):
        load_config(config_file)  # not only when a cleanup asks for the policy
    config_file.write_text("[search]\n")
    with pytest.raises(ConfigError, match=r"unknown section \[search\]"):
        load_config(config_file)


def test_effective_settings_say_where_each_came_from(tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text("[general]\nbell = true\n[backups]\nkeep = 2\n")
    config = load_config(config_file)
    found = {
        (s.section, s.key): (s.value, s.source) for s in effective_settings(config, {"quit": "q"})
    }
    assert found[("general", "bell")] == (True, str(config_file))
    assert found[("general", "stop_grace")] == (5.0, "default")
    assert found[("backups", "keep")] == (2, str(config_file))
    assert found[("retention", "trash_days")] == (7.0, "default")
    assert found[("redaction", "on_capture")] == (False, "default")
    assert found[("keys", "quit")] == ("q", "default")
