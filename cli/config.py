"""``tether config get|set|unset|path|edit``: one setting of config.toml at a time, or the
whole file in ``$VISUAL``/``$EDITOR``; every value checked against the schema loading
uses (``home.config_schema``), the file's comments and order kept (``home.config_file``).

``set``, ``unset``, ``path`` and ``edit`` work on a file that does not load (that is when
they are needed); ``get`` and ``config`` alone refuse it, as every other command does.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from .context import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    Ctx,
    UsageError,
    confirm,
    interactive,
    print_json,
)


def _key_defaults() -> dict[str, str]:
    from tui.keys import KEYS  # no Textual: the binding ids and their default keys

    return {k.id: k.key for k in KEYS.values()}


def _shown(value: Any) -> str:
    """A value as ``get`` prints it: a string as itself (what ``set`` takes back), the
    rest as TOML writes it, nothing for a limit that is off."""
    from home.config import toml_literal

    if value is None:
        return ""
    return value if isinstance(value, str) else toml_literal(value)


def cmd_get(ctx: Ctx) -> int:
    from home.config import setting
    from home.config_schema import SettingError, split_key

    try:
        found = setting(ctx.config, split_key(ctx.args.key), _key_defaults())
    except SettingError as e:
        raise UsageError(str(e)) from None
    if ctx.args.json:
        print_json({"key": found.name, "value": found.value, "source": found.source})
    else:
        print(_shown(found.value))
    return EXIT_OK


def cmd_set(ctx: Ctx) -> int:
    from home.config_file import ConfigNotWritten, set_setting
    from home.config_schema import SettingError

    path = ctx.paths.config_file
    try:
        name, value, option = set_setting(path, ctx.args.key, ctx.args.value, _key_defaults())
    except SettingError as e:
        raise UsageError(str(e)) from None
    except ConfigNotWritten as e:
        print(f"tether: {e}", file=sys.stderr)
        return EXIT_ERROR
    if option.inert:
        print(f"tether: note: {name} is saved, but nothing reads it yet", file=sys.stderr)
    if ctx.args.json:
        print_json({"key": name, "value": value, "path": str(path)})
    else:
        from home.config import toml_literal

        print(f"{name} = {toml_literal(value)}  ({path})")
    return EXIT_OK


def cmd_unset(ctx: Ctx) -> int:
    from home.config_file import ConfigNotWritten, unset_setting
    from home.config_schema import SettingError

    path = ctx.paths.config_file
    try:
        removed = unset_setting(path, ctx.args.key, _key_defaults())
    except SettingError as e:
        raise UsageError(str(e)) from None
    except ConfigNotWritten as e:
        print(f"tether: {e}", file=sys.stderr)
        return EXIT_ERROR
    if ctx.args.json:
        print_json({"key": ctx.args.key, "removed": removed, "path": str(path)})
    elif removed:
        print(f"{ctx.args.key}: removed; its default is in effect  ({path})")
    else:
        print(f"{ctx.args.key}: not set in {path}; its default is in effect")
    return EXIT_OK


def cmd_path(ctx: Ctx) -> int:
    path = ctx.paths.config_file
    if ctx.args.json:
        print_json({"path": str(path), "exists": path.exists()})
    else:
        print(path)
    return EXIT_OK


# -- edit -------------------------------------------------------------------------------
def editor_command() -> list[str]:
    """``$VISUAL``, else ``$EDITOR``, else ``vi``, split as a shell would (``code -w``)."""
    for name in ("VISUAL", "EDITOR"):
        value = os.environ.get(name, "").strip()
        if value:
            return shlex.split(value)
    return ["vi"]


def cmd_edit(ctx: Ctx) -> int:
    """Edit a copy of the file (a private file beside it); save it only if it loads
    and the file did not change meanwhile. On an error, say what is wrong and offer to
    edit again (at a terminal); the old file stays as it was."""
    from home.config import ConfigError, default_text
    from home.config_file import ConfigNotWritten, read_text, refuse_link, save_text

    path = ctx.paths.config_file
    try:
        refuse_link(path)
    except ConfigNotWritten as e:
        print(f"tether: {e}", file=sys.stderr)
        return EXIT_ERROR
    original = read_text(path)
    start = original if original is not None else default_text()
    draft = _draft(path, start)
    keep_draft = False
    try:
        while True:
            code = _run_editor(draft)
            if code != 0:
                print(
                    f"tether: the editor exited with {code}; {path} is unchanged", file=sys.stderr
                )
                return EXIT_ERROR
            text = draft.read_text("utf-8")
            if text == start:
                print(f"no changes; {path} is unchanged")
                return EXIT_OK
            try:
                save_text(path, text, expect=original, key_ids=_ids())
            except ConfigError as e:
                problem = str(e).removeprefix(f"{path}: ")
                print(f"tether: not saved: {problem}", file=sys.stderr)
                if interactive() and confirm("Edit it again?"):
                    continue
                print(f"tether: {path} is unchanged", file=sys.stderr)
                return EXIT_USAGE
            except ConfigNotWritten as e:
                keep_draft = True
                print(f"tether: {e}; your version is in {draft}", file=sys.stderr)
                return EXIT_ERROR
            print(f"saved {path}")
            return EXIT_OK
    finally:
        if not keep_draft:
            draft.unlink(missing_ok=True)


def _ids() -> Collection[str]:
    return _key_defaults().keys()


def _draft(path: Path, text: str) -> Path:
    """A private copy (0600, unique name) beside the file, ending in .toml for the
    editor's highlighting."""
    from storage.engine.opening import make_private_dir
    from storage.files import create_exclusive

    make_private_dir(path.parent)
    fd, draft = create_exclusive(path.parent, prefix=f".{path.stem}.edit-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return draft


def _run_editor(draft: Path) -> int:
    argv = [*editor_command(), str(draft)]
    try:
        return subprocess.run(argv, check=False).returncode
    except OSError as e:
        raise UsageError(
            f"cannot run the editor {argv[0]!r} ({e.strerror}); set VISUAL or EDITOR"
        ) from None


def register_actions(config_parser: Any, common: Any) -> None:
    """``get``, ``set``, ``unset``, ``path``, ``edit`` under ``tether config``."""
    import argparse

    actions = config_parser.add_subparsers(dest="config_action", metavar="ACTION")

    def action(name: str, help: str, func: Any, *, loads_config: bool) -> Any:
        p = actions.add_parser(name, parents=[common], help=help, description=help)
        # SUPPRESS: `tether config --json get KEY` keeps the --json given before `get`
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
        p.set_defaults(func=func, loads_config=loads_config)
        return p

    key_help = "a dotted key, such as general.stop_grace or keys.new_session"
    p = action("get", "print the value of one setting in effect", cmd_get, loads_config=True)
    p.add_argument("key", metavar="KEY", help=key_help)
    p = action(
        "set",
        "set one setting in config.toml (checked; comments and order kept)",
        cmd_set,
        loads_config=False,
    )
    p.add_argument("key", metavar="KEY", help=key_help)
    p.add_argument(
        "value",
        metavar="VALUE",
        help='as in TOML: true, 5, 2.5, "text", ["a", "b"]; a bare word for a key, size or age',
    )
    p = action(
        "unset",
        "remove one setting from config.toml (its default applies)",
        cmd_unset,
        loads_config=False,
    )
    p.add_argument("key", metavar="KEY", help=key_help)
    action("path", "print the path of config.toml", cmd_path, loads_config=False)
    action(
        "edit",
        "edit config.toml in $VISUAL or $EDITOR (else vi); saved only if it is valid",
        cmd_edit,
        loads_config=False,
    )
