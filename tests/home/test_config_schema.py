"""The schema table (``home.config_schema.SCHEMA``) is what loading and ``config set``
both read: its defaults are the ones in effect, every default passes its own check,
and a value typed on the command line is read as TOML, else as a word where words go."""

from __future__ import annotations

import pytest

from home.config import General, default_text, keep_backups, parse_config, toml_literal
from home.config_schema import (
    OPTIONS,
    SCHEMA,
    SECTIONS,
    SettingError,
    check_document,
    find,
    parse_value,
    split_key,
)
from storage.retention import RetentionPolicy


def test_the_schema_defaults_are_the_defaults_in_effect():
    general = General()
    for option in SCHEMA:
        if option.section == "general":
            assert getattr(general, option.leaf) == option.default, option.name
    policy = RetentionPolicy()
    assert OPTIONS["retention.statuses"].default == sorted(policy.statuses)
    assert OPTIONS["retention.protected_tags"].default == sorted(policy.protected_tags)
    assert OPTIONS["retention.trash_days"].default == policy.trash_days
    assert OPTIONS["retention.keep"].default is policy.keep_newest is None
    assert OPTIONS["retention.max_age"].default is policy.max_age is None
    from home.config import Config

    assert keep_backups(Config()) == OPTIONS["backups.keep"].default
    assert SECTIONS == (
        "general",
        "retention",
        "backups",
        "redaction",
        "attach",
        "storage",
        "keys",
        "run",
        "groups",
        "attention",
        "notify",
        "agents",
    )


@pytest.mark.parametrize("option", [o for o in SCHEMA if o.default is not None], ids=str)
def test_every_default_passes_its_check_and_reads_back_from_the_command_line(option):
    assert option.validate(option.default) == option.default
    assert parse_value(option, toml_literal(option.default)) == option.default


def test_the_template_loads_to_all_defaults_and_names_every_setting():
    text = default_text()
    config = parse_config(text)
    assert config.general == General() and config.general_set == frozenset()
    for option in SCHEMA:
        if not option.inert and "*" not in option.name:
            assert f"# {option.leaf} =" in text, option.name
    assert "\n# max_parallel = 0 " in text  # the queue reads it ([run])


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("general.bell", "true", True),
        ("general.stop_grace", "5", 5),
        ("general.stop_grace", "0.5", 0.5),
        ("keys.*", "a", "a"),
        ("keys.*", '"ctrl+x"', "ctrl+x"),
        ("keys.*", "7", "7"),  # a digit key: the word, not the number
        ("retention.max_size", "5G", "5G"),
        ("retention.max_size", "2048", 2048),
        ("retention.max_age", "30d", "30d"),
        ("retention.protected_tags", '["a", "b"]', ["a", "b"]),
        ("run.max_parallel", "0", 0),
    ],
)
def test_values_typed_on_the_command_line(name, text, value):
    assert parse_value(OPTIONS[name], text) == value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("general.bell", "yes", "general.bell must be true or false, not 'yes'"),
        ("general.stop_grace", "-1", "must be a positive number of seconds, not -1"),
        ("general.stop_grace", "nan", "must be a positive number of seconds"),
        ("run.max_parallel", "true", "run.max_parallel must be a whole number of at least 0"),
        ("retention.protected_tags", "keep", "must be a list of strings"),
        ("retention.max_age", "soon", "must be an age such as"),
        ("keys.*", "1\nbell = true", "must be a key name"),
    ],
)
def test_bad_values_typed_on_the_command_line(name, text, message):
    with pytest.raises(SettingError, match=message.replace("(", r"\(")):
        parse_value(OPTIONS[name], text)


def test_keys_are_dotted_as_toml_reads_them():
    assert split_key("general.stop_grace") == ("general", "stop_grace")
    assert split_key('groups."a.b".max_parallel') == ("groups", "a.b", "max_parallel")
    assert find(split_key('groups."a.b".max_parallel')).name == "groups.*.max_parallel"
    for bad in ("", "a..b", "a = 1", "a.b\nc"):
        with pytest.raises(SettingError, match="is not a key"):
            split_key(bad)
    assert find(("keys", "anything")).name == "keys.*"  # ids not given: any
    with pytest.raises(SettingError, match="known in \\[keys\\]: quit, stop"):
        find(("keys", "nope"), key_ids=["quit", "stop"])


def test_a_whole_document_is_checked_table_by_table():
    check_document({"groups": {"build": {"max_parallel": 3}}, "run": {"max_parallel": 0}})
    with pytest.raises(SettingError, match=r"unknown keys general.a, general.b; known in"):
        check_document({"general": {"b": 1, "a": 2}})
    with pytest.raises(SettingError, match=r"\[general\] must be a table, not 1"):
        check_document({"general": 1})
