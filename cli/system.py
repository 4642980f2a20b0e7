"""``tether config``: the effective configuration and where everything lives.

(``doctor`` lives in ``cli.doctor``.)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
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


def cmd_config(ctx: Ctx) -> int:
    config = ctx.config
    exists = config.path is not None and config.path.exists()
    sections: dict[str, Any] = {"general": asdict(config.general)}
    sections.update({k: dict(v) for k, v in config.sections.items()})
    if ctx.args.json:
        print_json({"paths": _paths(ctx), "config_file_exists": exists, "config": sections})
        return EXIT_OK
    for key, value in _paths(ctx).items():
        print(f"{key.replace('_', ' '):<15} {value}")
    note = "" if exists else "  (no file: these are the defaults)"
    print(f"\n# effective configuration{note}")
    for name, values in sections.items():
        print(f"\n[{name}]")
        for key, value in values.items():
            print(f"{key} = {_toml(value)}")
    return EXIT_OK


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "print the effective configuration and where everything lives"
    p = sub.add_parser("config", parents=[common], help=help, description=help)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_config)
