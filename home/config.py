"""``config.toml``: typed general settings, plus raw sections each feature validates.

A missing file means defaults. A bad file gives ``ConfigError`` naming the file, the
key and what was expected; nothing runs on a half-understood configuration.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

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
