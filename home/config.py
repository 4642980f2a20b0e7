"""``config.toml``: its schema, loading it, and reading its sections into the plain
settings the storage library and the runner take.

``load_config`` checks the file and ``[general]``; the other sections are read when a
feature needs them, into typed values: ``retention_policy`` (a ``RetentionPolicy``),
``keep_backups``, ``export_redactor`` / ``capture_patterns`` / ``capture_redactor``
(``[redaction]``). A missing file means defaults. A bad file or value gives
``ConfigError`` naming the file, the key and what was expected; nothing runs on a
half-understood configuration.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
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

    def section(self, name: str) -> dict[str, Any]:
        """A raw section (``retention``, ``backups``, ``redaction``, ``keys``...)."""
        return dict(self.sections.get(name, {}))

    @property
    def keys(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.section("keys").items()}


KNOWN_SECTIONS = {"general", "retention", "backups", "redaction", "keys", "search", "ui"}


def load_config(path: Path | None) -> Config:
    if path is None or not path.exists():
        return Config(path=path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, f"not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, f"cannot be read: {e}") from None
    unknown = set(data) - KNOWN_SECTIONS
    if unknown:
        raise ConfigError(
            path,
            f"unknown section(s) {', '.join(sorted(unknown))}; known: "
            f"{', '.join(sorted(KNOWN_SECTIONS))}",
        )
    for name, value in data.items():
        if not isinstance(value, dict):
            raise ConfigError(path, f"[{name}] must be a table")
    general = _general(path, data.get("general", {}))
    return Config(
        general=general, sections={k: v for k, v in data.items() if k != "general"}, path=path
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
