"""``tether config``: the effective configuration and where everything lives. Its
actions on one setting or the whole file (``get``, ``set``, ``unset``, ``path``,
``edit``) are ``cli.config``.

(``doctor`` lives in ``cli.doctor``.)
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .context import EXIT_OK, Ctx, print_json


def _paths(ctx: Ctx) -> dict[str, str]:
    from runner.locations import socket_path

    p = ctx.paths
    sockets = socket_path(p, 0).parent
    return {
        "database": str(p.db),
        "data_dir": str(p.data_dir),
        "backups": str(p.backups),
        "config_file": str(p.config_file),
        "runtime_dir": str(p.runtime),
        "sockets": str(sockets),
        "supervisor_log": str(p.supervisor_log),
    }


def _paths_from(ctx: Ctx) -> dict[str, str]:
    """Where each path came from: --db, an environment variable, or the default."""
    home = "TETHER_HOME" if os.environ.get("TETHER_HOME") else "default"
    if getattr(ctx.args, "db", None):
        db = "--db"
    elif os.environ.get("TETHER_DB"):
        db = "TETHER_DB"
    else:
        db = home
    runtime = home
    if home == "default" and str(ctx.paths.runtime_root).startswith(
        os.environ.get("XDG_RUNTIME_DIR") or "\0"
    ):
        runtime = "XDG_RUNTIME_DIR"
    return {
        "database": db,
        "data_dir": home,
        "backups": home,
        "config_file": home,
        "runtime_dir": runtime,
        "sockets": runtime,
        "supervisor_log": runtime,
    }


def _table(tree: dict[str, Any], section: str) -> dict[str, Any]:
    """The nested table of a dotted section (``groups.build``) in ``tree``."""
    from home.config_schema import split_key

    for part in split_key(section):
        tree = tree.setdefault(part, {})
    return tree


def cmd_config(ctx: Ctx) -> int:
    from home.config import effective_settings, toml_literal
    from tui.keys import KEYS  # no Textual: the binding ids and their default keys

    config = ctx.config
    exists = config.path is not None and config.path.exists()
    settings = effective_settings(config, {k.id: k.key for k in KEYS.values()})
    if ctx.args.json:
        values: dict[str, dict[str, Any]] = {}
        sources: dict[str, dict[str, str]] = {}
        for s in settings:
            _table(values, s.section)[s.key] = s.value
            _table(sources, s.section)[s.key] = s.source
        print_json(
            {
                "paths": _paths(ctx),
                "paths_from": _paths_from(ctx),
                "config_file_exists": exists,
                "config": values,
                "sources": sources,
            }
        )
        return EXIT_OK
    origin = _paths_from(ctx)
    for key, value in _paths(ctx).items():
        print(f"{key.replace('_', ' '):<15} {value}  ({origin[key]})")
    note = "" if exists else "; there is no such file: every setting is a default"
    print(f"\n# in effect (after each: `default`, or the file that set it{note})")
    section = None
    for s in settings:
        if s.section != section:
            section = s.section
            print(f"\n[{section}]")
        line = (
            f"{s.key} = {toml_literal(s.value)}"
            if s.value is not None
            else f"# {s.key}: not set (no limit)"
        )
        print(f"{line:<40}  # {s.source}")
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from .config import register_actions

    help = (
        "print the effective configuration and where everything lives; "
        "get/set/unset one setting, print its path, or edit the file"
    )
    p = sub.add_parser("config", parents=[common], help=help, description=help)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_config, loads_config=True)
    register_actions(p, common)
