"""``config.toml``: its schema, loading it, and reading its sections into the plain
settings the storage library and the runner take.

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

import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.redact import Redactor, StreamRedactor
    from storage.retention import RetentionPolicy

DEFAULT_TEXT = """\
# tether configuration. Every key is optional; these are the defaults.

[general]
autosave_interval = 2.0     # seconds between autosaves of TUI edits
reconcile_interval = 2.0    # seconds between checks for sessions whose supervisor died
stop_grace = 5.0            # seconds between SIGTERM and SIGKILL on stop
bell = false                # ring the terminal bell when a session ends
auto_cleanup = false        # apply the retention policy when tether starts

[retention]
# max_age_days = 30
# keep = 200
# max_size = "5G"
# statuses = ["succeeded", "failed", "stopped", "lost"]
# protected_tags = ["keep"]
# trash_days = 7

[backups]
keep = 5

[redaction]
patterns = []               # extra regular expressions to redact on export
on_capture = false          # also redact while recording (secrets never reach disk)

[keys]
# binding_id = "key", e.g.  new_session = "a"
"""


class ConfigError(Exception):
    def __init__(self, path: Path | None, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


@dataclass(frozen=True)
class General:
    autosave_interval: float = 2.0
    reconcile_interval: float = 2.0
    stop_grace: float = 5.0
    bell: bool = False
    auto_cleanup: bool = False


@dataclass(frozen=True)
class Config:
    general: General = field(default_factory=General)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    general_set: frozenset[str] = frozenset()  # the [general] keys the file sets

    def section(self, name: str) -> dict[str, Any]:
        """A raw section (``retention``, ``backups``, ``redaction``, ``keys``...)."""
        return dict(self.sections.get(name, {}))

    @property
    def keys(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.section("keys").items()}


KNOWN_SECTIONS = ("general", "retention", "backups", "redaction", "keys")
REDACTION_KEYS = ("patterns", "on_capture")
BACKUPS_KEYS = ("keep",)


def load_config(path: Path | None, *, key_ids: Collection[str] | None = None) -> Config:
    """Read and check the whole of ``config.toml``: every section, key and value (an
    unknown one is a ``ConfigError`` listing the valid ones). ``key_ids`` are the
    binding ids ``[keys]`` may name (the TUI's; ``home`` does not import it); None
    checks only that each is a key name."""
    if path is None or not path.exists():
        return Config(path=path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, f"not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, f"cannot be read: {e}") from None
    unknown = set(data) - set(KNOWN_SECTIONS)
    if unknown:
        raise ConfigError(
            path,
            f"unknown section(s) {', '.join(f'[{u}]' for u in sorted(unknown))}; known: "
            f"{', '.join(f'[{k}]' for k in KNOWN_SECTIONS)}",
        )
    for name, value in data.items():
        if not isinstance(value, dict):
            raise ConfigError(path, f"[{name}] must be a table")
    general = _general(path, data.get("general", {}))
    config = Config(
        general=general,
        sections={k: v for k, v in data.items() if k != "general"},
        path=path,
        general_set=frozenset(data.get("general", {})),
    )
    retention_policy(config)
    _known_keys(path, "backups", config.section("backups"), BACKUPS_KEYS)
    keep_backups(config)
    _check_redaction(path, config.section("redaction"))
    _check_keys(path, config.section("keys"), key_ids)
    return config


def _known_keys(path: Path, section: str, raw: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(
            path,
            f"unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)}; known: "
            f"{', '.join(known)}",
        )


def _check_redaction(path: Path, raw: Mapping[str, Any]) -> None:
    _known_keys(path, "redaction", raw, REDACTION_KEYS)
    if not isinstance(raw.get("on_capture", False), bool):
        raise ConfigError(path, "redaction.on_capture must be true or false")
    patterns = raw.get("patterns", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(
            path, "redaction.patterns must be a list of strings (regular expressions)"
        )
    if patterns:
        from storage.redact import Redactor

        try:
            Redactor(patterns)
        except ValueError as e:  # RedactionPatternError: names the pattern and the problem
            raise ConfigError(path, f"redaction.patterns: {e}") from None


def _check_keys(path: Path, raw: Mapping[str, Any], key_ids: Collection[str] | None) -> None:
    if key_ids is not None:
        unknown = sorted(set(raw) - set(key_ids))
        if unknown:
            raise ConfigError(
                path,
                f"unknown key binding id(s) {', '.join(unknown)} in [keys]; known: "
                f"{', '.join(sorted(key_ids))}",
            )
    for binding_id, keys in raw.items():
        if not isinstance(keys, str) or not keys.replace(",", "").strip():
            raise ConfigError(
                path,
                f"keys.{binding_id} must be a key name (or several, comma-separated), "
                f'such as "a" or "x,ctrl+x"; not {keys!r}',
            )


def _general(path: Path, raw: dict[str, Any]) -> General:
    known = {f.name: f for f in fields(General)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(path, f"unknown key general.{key}; known: {', '.join(known)}")
        default = getattr(General(), key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(path, f"general.{key} must be true or false")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(path, f"general.{key} must be a positive number of seconds")
            value = float(value)
        values[key] = value
    return General(**values)


# -- what is in effect ----------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """One setting in effect: ``value`` is None for a limit that is off."""

    section: str
    key: str
    value: Any
    source: str  # "default", or the path of the config file that set it


def effective_settings(config: Config, key_defaults: Mapping[str, str]) -> list[Setting]:
    """Every setting in effect, section by section, with where it came from.
    ``key_defaults`` are the TUI's binding ids and their default keys."""
    from storage.retention import RetentionPolicy

    policy = RetentionPolicy()
    retention = config.section("retention")
    age_key = "max_age_days" if "max_age_days" in retention else "max_age"
    defaults: dict[str, dict[str, Any]] = {
        "general": {f.name: getattr(General(), f.name) for f in fields(General)},
        "retention": {
            age_key: policy.max_age,
            "keep": policy.keep_newest,
            "max_size": policy.max_total_bytes,
            "statuses": sorted(policy.statuses),
            "protected_tags": sorted(policy.protected_tags),
            "trash_days": policy.trash_days,
        },
        "backups": {"keep": 5},
        "redaction": {"patterns": [], "on_capture": False},
        "keys": dict(key_defaults),
    }
    general = {k: getattr(config.general, k) for k in config.general_set}
    given = {"general": general, **config.sections}
    out = []
    for section, values in defaults.items():
        mine = given.get(section, {})
        for key, default in {**values, **mine}.items():
            if key in mine:
                out.append(Setting(section, key, mine[key], str(config.path)))
            else:
                out.append(Setting(section, key, default, "default"))
    return out


# -- [retention] --------------------------------------------------------------------------
RETENTION_KEYS = (
    "max_age",
    "max_age_days",
    "keep",
    "max_size",
    "statuses",
    "protected_tags",
    "trash_days",
)


def retention_policy(config: Config) -> RetentionPolicy:
    """The ``[retention]`` policy; a bad value is a ``ConfigError`` naming the file."""
    from storage.retention import PolicyError

    try:
        return retention_from_section(config.section("retention"))
    except PolicyError as e:
        raise ConfigError(config.path, str(e)) from None


def retention_from_section(section: Mapping[str, Any]) -> RetentionPolicy:
    """The policy in a ``[retention]`` table; ``PolicyError`` names a bad key."""
    from storage.retention import PolicyError, RetentionPolicy, parse_age, parse_size

    unknown = set(section) - set(RETENTION_KEYS)
    if unknown:
        raise PolicyError(
            f"unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(RETENTION_KEYS)}"
        )
    values: dict[str, Any] = {}
    if "max_age" in section and "max_age_days" in section:
        raise PolicyError("give max_age or max_age_days, not both", "max_age")
    if "max_age" in section:
        values["max_age"] = parse_age(section["max_age"], "max_age")
    if "max_age_days" in section:
        days = section["max_age_days"]
        if isinstance(days, bool) or not isinstance(days, int | float):
            raise PolicyError(f"expected a number of days, not {days!r}", "max_age_days")
        values["max_age"] = parse_age(days, "max_age_days")
    if "keep" in section:
        keep = section["keep"]
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise PolicyError(f"expected a whole number of sessions, not {keep!r}", "keep")
        values["keep_newest"] = keep
    if "max_size" in section:
        values["max_total_bytes"] = parse_size(section["max_size"], "max_size")
    for key in ("statuses", "protected_tags"):
        if key in section:
            items = section[key]
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise PolicyError("expected a list of strings", key)
            values[key] = frozenset(items)
    if "trash_days" in section:
        days = section["trash_days"]
        if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
            raise PolicyError(f"expected a number of days, not {days!r}", "trash_days")
        values["trash_days"] = float(days)
    return RetentionPolicy(**values)


# -- [backups] ----------------------------------------------------------------------------
def keep_backups(config: Config) -> int:
    """``[backups] keep``: how many rotating backups to keep (default 5)."""
    keep = config.section("backups").get("keep", 5)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ConfigError(
            config.path, f"backups.keep must be a whole number of at least 1, not {keep!r}"
        )
    return keep


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
