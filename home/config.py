"""``config.toml``: loading it, and reading its sections into the plain settings the
storage library and the runner take. The schema itself (every key, its type, default
and range) is ``home.config_schema.SCHEMA``; writing the file is ``home.config_file``.

``load_config`` checks the whole file when it is loaded: every section, key and value
(``[keys]`` against the binding ids it is given). The sections are read into typed
values when a feature needs them: ``retention_policy`` (a ``RetentionPolicy``),
``keep_backups``, ``export_redactor`` / ``capture_patterns`` / ``capture_redactor``
(``[redaction]``). A missing file means defaults. A bad file or value gives
``ConfigError`` naming the file, the key and what was expected (the valid ones for an
unknown name); nothing runs on a half-understood configuration.
``effective_settings`` lists every setting in effect and where it came from.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from home.config_schema import OPTIONS, SCHEMA, SECTIONS, SettingError, check_document, dotted
from storage.frozen import Frozen

if TYPE_CHECKING:
    from storage.redact import Redactor, StreamRedactor
    from storage.retention import RetentionPolicy


class ConfigError(Exception):
    def __init__(self, path: Path | None, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


def _default(name: str) -> Any:
    return OPTIONS[name].default


class General(Frozen):
    """``[general]``, typed (its defaults are the schema's)."""

    __slots__ = ("autosave_interval", "reconcile_interval", "stop_grace", "bell", "auto_cleanup")

    autosave_interval: float
    reconcile_interval: float
    stop_grace: float
    bell: bool
    auto_cleanup: bool

    def __init__(
        self,
        autosave_interval: float = _default("general.autosave_interval"),
        reconcile_interval: float = _default("general.reconcile_interval"),
        stop_grace: float = _default("general.stop_grace"),
        bell: bool = _default("general.bell"),
        auto_cleanup: bool = _default("general.auto_cleanup"),
    ) -> None:
        object.__setattr__(self, "autosave_interval", autosave_interval)
        object.__setattr__(self, "reconcile_interval", reconcile_interval)
        object.__setattr__(self, "stop_grace", stop_grace)
        object.__setattr__(self, "bell", bell)
        object.__setattr__(self, "auto_cleanup", auto_cleanup)


class Config(Frozen):
    __slots__ = ("general", "sections", "path", "general_set")
    _FACTORIES = {"general": General, "sections": dict}

    general: General
    sections: dict[str, dict[str, Any]]
    path: Path | None
    general_set: frozenset[str]  # the [general] keys the file sets

    def __init__(
        self,
        general: General | None = None,
        sections: dict[str, dict[str, Any]] | None = None,
        path: Path | None = None,
        general_set: frozenset[str] = frozenset(),
    ) -> None:
        object.__setattr__(self, "general", General() if general is None else general)
        object.__setattr__(self, "sections", {} if sections is None else sections)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "general_set", general_set)

    def section(self, name: str) -> dict[str, Any]:
        """A raw section (``retention``, ``backups``, ``redaction``, ``keys``...)."""
        return dict(self.sections.get(name, {}))

    @property
    def keys(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.section("keys").items()}


KNOWN_SECTIONS = SECTIONS


def default_text() -> str:
    """What ``tether config edit`` opens when there is no file yet: every setting,
    commented out, at its default, with its help (generated from the schema)."""
    lines = ["# tether configuration. Every key is optional; `tether config` shows them all."]
    section = None
    for option in SCHEMA:
        if option.inert or "*" in option.name:
            continue
        if option.section != section:
            section = option.section
            lines += ["", f"[{section}]"]
        value = "" if option.default is None else _toml(option.default)
        entry = f"# {option.leaf} = {value}" if value else f"# {option.leaf} ="
        lines.append(f"{entry:<34}# {option.help}")
    lines += ["", "[keys]", '# binding_id = "key", e.g.  new_session = "a"', ""]
    return "\n".join(lines)


def load_config(path: Path | None, *, key_ids: Collection[str] | None = None) -> Config:
    """Read and check the whole of ``config.toml``: every section, key and value (an
    unknown one is a ``ConfigError`` listing the valid ones). ``key_ids`` are the
    binding ids ``[keys]`` may name (the TUI's; ``home`` does not import it); None
    checks only that each is a key name."""
    if path is None or not path.exists():
        return Config(path=path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, f"cannot be read: {e}") from None
    return parse_config(text, path, key_ids=key_ids)


def parse_config(
    text: str, path: Path | None = None, *, key_ids: Collection[str] | None = None
) -> Config:
    """``load_config`` of a file's text (``path`` only names it in errors)."""
    import tomllib  # here: without config.toml, nothing to parse

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, f"not valid TOML: {e}") from None
    try:
        check_document(data, key_ids)
    except SettingError as e:
        raise ConfigError(path, str(e)) from None
    given = data.get("general", {})
    general = General(**{k: OPTIONS[f"general.{k}"].validate(v) for k, v in given.items()})
    config = Config(
        general=general,
        sections={k: v for k, v in data.items() if k != "general"},
        path=path,
        general_set=frozenset(given),
    )
    retention_policy(config)  # what no single key says: max_age and max_age_days both
    return config


# -- what is in effect ----------------------------------------------------------------
class Setting(Frozen):
    """One setting in effect: ``value`` is None for a limit that is off. ``section`` is
    the table it is in (``groups.build`` for ``groups.build.max_parallel``)."""

    __slots__ = ("section", "key", "value", "source")

    section: str
    key: str
    value: Any
    source: str  # "default", or the path of the config file that set it

    def __init__(self, section: str, key: str, value: Any, source: str) -> None:
        object.__setattr__(self, "section", section)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "source", source)

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


def _given(config: Config) -> dict[str, Any]:
    general = {k: getattr(config.general, k) for k in config.general_set}
    return {"general": general, **config.sections}


def effective_settings(config: Config, key_defaults: Mapping[str, str]) -> list[Setting]:
    """Every setting in effect, section by section, with where it came from.
    ``key_defaults`` are the TUI's binding ids and their default keys. Another spelling
    of a setting (``retention.max_age_days``) and a setting nothing reads yet are listed
    only when the file sets them."""
    given = _given(config)
    source = str(config.path)
    out = []
    for option in SCHEMA:
        mine = given.get(option.section, {})
        if option.name == "keys.*":
            for key, default in {**key_defaults, **mine}.items():
                out.append(Setting("keys", key, *_pick(mine, key, default, source)))
            continue
        if ".*." in option.name:  # groups.NAME.max_parallel, agents.NAME.resume...
            for group, table in mine.items():
                if option.leaf in table:
                    section = dotted((option.section, group))
                    out.append(Setting(section, option.leaf, table[option.leaf], source))
            continue
        alias = next((o for o in SCHEMA if o.alias_of == option.name), None)
        if option.leaf not in mine and (
            option.inert
            or option.alias_of is not None
            or (alias is not None and alias.leaf in mine)
        ):
            continue
        out.append(
            Setting(option.section, option.leaf, *_pick(mine, option.leaf, option.default, source))
        )
    return out


def _pick(mine: Mapping[str, Any], key: str, default: Any, source: str) -> tuple[Any, str]:
    return (mine[key], source) if key in mine else (default, "default")


def setting(config: Config, parts: tuple[str, ...], key_defaults: Mapping[str, str]) -> Setting:
    """The one setting a dotted key names (see ``config_schema.find``), in effect."""
    from home.config_schema import find

    option = find(parts, key_defaults)
    table: Any = _given(config)
    for part in parts[:-1]:
        table = table.get(part, {}) if isinstance(table, dict) else {}
    default = key_defaults.get(parts[-1]) if option.name == "keys.*" else option.default
    value, source = _pick(table, parts[-1], default, str(config.path))
    return Setting(dotted(parts[:-1]), parts[-1], value, source)


def _toml(value: Any) -> str:
    """A value as TOML writes it."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


toml_literal = _toml


# -- [retention] --------------------------------------------------------------------------
def retention_policy(config: Config) -> RetentionPolicy:
    """The ``[retention]`` policy; a bad value is a ``ConfigError`` naming the file."""
    from storage.retention import PolicyError

    try:
        return retention_from_section(config.section("retention"))
    except PolicyError as e:
        raise ConfigError(config.path, str(e)) from None


def retention_from_section(section: Mapping[str, Any]) -> RetentionPolicy:
    """The policy in a ``[retention]`` table, checked against the schema;
    ``PolicyError`` names a bad key."""
    from storage.retention import PolicyError, RetentionPolicy, parse_age, parse_size

    try:
        check_document({"retention": dict(section)})
    except SettingError as e:
        raise PolicyError(str(e)) from None
    values: dict[str, Any] = {}
    if "max_age" in section and "max_age_days" in section:
        raise PolicyError("give max_age or max_age_days, not both", "max_age")
    for key in ("max_age", "max_age_days"):
        if key in section:
            values["max_age"] = parse_age(section[key], key)
    if "keep" in section:
        values["keep_newest"] = section["keep"]
    if "max_size" in section:
        values["max_total_bytes"] = parse_size(section["max_size"], "max_size")
    for key in ("statuses", "protected_tags"):
        if key in section:
            values[key] = frozenset(section[key])
    if "trash_days" in section:
        values["trash_days"] = float(section["trash_days"])
    return RetentionPolicy(**values)


# -- [backups] ----------------------------------------------------------------------------
def keep_backups(config: Config) -> int:
    """``[backups] keep``: how many rotating backups to keep (default 5)."""
    option = OPTIONS["backups.keep"]
    try:
        return option.validate(config.section("backups").get("keep", option.default))
    except SettingError as e:
        raise ConfigError(config.path, str(e)) from None


# -- [redaction] --------------------------------------------------------------------------
def export_redactor(section: Mapping[str, Any]) -> Redactor:
    """The export redactor from the ``[redaction]`` section: the built-in patterns plus
    ``patterns``. Raises ``ValueError`` (``RedactionPatternError``) for a pattern that
    is not a usable regular expression."""
    from storage.redact import Redactor

    patterns = section.get("patterns", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ValueError("[redaction] patterns must be a list of strings (regular expressions)")
    return Redactor(patterns)


def capture_patterns(section: Mapping[str, Any]) -> list[str] | None:
    """The user patterns for capture-time redaction from the ``[redaction]`` section, or
    None when ``on_capture`` is off (the runner's ``redact=`` argument)."""
    if not section.get("on_capture"):
        return None
    patterns = section.get("patterns", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ValueError("[redaction] patterns must be a list of strings")
    return list(patterns)


def capture_redactor(section: Mapping[str, Any]) -> StreamRedactor | None:
    """A ``StreamRedactor`` for one output stream when ``[redaction] on_capture`` is on
    (built-in patterns plus ``patterns``), else None."""
    patterns = capture_patterns(section)
    if patterns is None:
        return None
    from storage.redact import Redactor

    return Redactor(patterns).stream()
