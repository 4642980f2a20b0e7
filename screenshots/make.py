"""Regenerate the screenshots: one SVG per screen, from real demo sessions.

    .venv/bin/python screenshots/make.py            # writes screenshots/*.svg
    .venv/bin/python screenshots/make.py --png      # and a PNG beside each (rsvg-convert)

It builds the ``tether demo`` data in a temporary home (real commands, real
supervisors), drives the app headless at 120x36 and saves each screen once it shows the screen its
name says (a shot that does not is an error). Times are
real, so relative times differ from run to run; the snapshot tests are the pinned,
compared screenshots.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cli.demo import build_demo, stop_live  # noqa: E402
from home.config import Config  # noqa: E402
from home.paths import Paths, resolve_paths  # noqa: E402
from tui.app import TetherApp  # noqa: E402

SIZE = (120, 36)
WAIT = 20.0  # seconds a screen may take to show or settle before the shot is refused


@dataclass(frozen=True)
class Shot:
    """One screenshot: select ``session``, press ``opens`` until ``screen`` (a class
    name) is on top, type ``then`` there, and wait until ``settled(app)`` holds. A
    shot whose screen is not the one named is an error, never a file."""

    session: str
    opens: tuple[str, ...]
    screen: str
    then: tuple[str, ...] = ()
    settled: Callable[[TetherApp], bool] | None = None


def _output_idle(app: TetherApp) -> bool:
    return all(view.idle for view in app.screen.query("OutputView"))


def _found(app: TetherApp) -> bool:
    views = list(app.screen.query("OutputView"))
    return bool(views) and views[0].idle and views[0].current_match is not None


def _searched(app: TetherApp) -> bool:
    screen = app.screen
    return getattr(screen, "results", None) is not None and getattr(screen, "ready", False)


def _marked(app: TetherApp) -> bool:
    return len(app.state.marked) == 2


def _palette_hits(app: TetherApp) -> bool:
    from textual.widgets import OptionList

    lists = app.screen.query(OptionList)
    return any(found.option_count for found in lists)


SHOTS: dict[str, Shot] = {
    "list": Shot("tests", (), "SessionsScreen"),
    "detail": Shot("agent", ("enter",), "DetailScreen"),
    "output": Shot("server", ("o",), "OutputScreen", settled=_output_idle),
    "output-find": Shot(
        "tests", ("o",), "OutputScreen", ("slash", *"Error", "enter"), settled=_found
    ),
    "new-session": Shot("server", ("n",), "NewSessionModal", tuple("make test")),
    "confirm-stop": Shot("server", ("s",), "ConfirmModal"),
    "confirm-delete": Shot("build", ("d",), "ConfirmModal"),
    "tags": Shot("training", ("t",), "TagsModal"),
    "status-filter": Shot(
        "server", ("f",), "StatusFilterModal", ("down", "down", "down", "down", "space")
    ),
    "help": Shot("server", ("question_mark",), "HelpModal"),
    "palette": Shot("server", ("ctrl+p",), "CommandPalette", tuple("agent"), _palette_hits),
    "search": Shot("server", ("ctrl+f",), "SearchScreen", tuple("failed"), settled=_searched),
    "marked": Shot("tests", (), "SessionsScreen", ("space", "space"), settled=_marked),
    "cleanup": Shot("server", ("c",), "CleanupScreen", ("tab", "3")),
    "export": Shot("build", ("e",), "ExportModal"),
    "usage": Shot("server", ("U",), "UsageScreen"),
}


async def _until(pilot, what: str, condition: Callable[[], bool]) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``condition()`` holds; a shot that never gets there fails."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise SystemExit(f"screenshots: gave up waiting for {what}")
        await pilot.pause(0.05)


async def shoot(paths: Paths, ids: dict[str, int], name: str, shot: Shot, out: Path) -> Path:
    app = TetherApp(paths, Config(), cursor_blink=False, cwd=str(paths.data_dir / "project"))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        # The app reopens where the last one was left (the output screen of the shot
        # before): every shot starts from the list.
        while type(app.screen).__name__ != "SessionsScreen":
            await app.pop_screen()
        app.state.select(ids[shot.session])
        await app.wait_idle()
        # Keys typed before a screen shows would land on the one below it (a new-session
        # box opened by a worker): open, wait for the screen, then type.
        await pilot.press(*shot.opens)
        showing = lambda: type(app.screen).__name__ == shot.screen  # noqa: E731
        await _until(pilot, f"{shot.screen} for {name}", showing)
        await app.wait_idle()
        await pilot.press(*shot.then)
        settled = shot.settled
        await _until(pilot, f"{name} to settle", lambda: settled is None or settled(app))
        await app.wait_idle()
        await pilot.pause()
        if not showing():
            raise SystemExit(f"screenshots: {name} shows {type(app.screen).__name__}")
        target = out / f"{name}.svg"
        app.save_screenshot(filename=target.name, path=str(out))
        await pilot.press("escape")
    return target


async def main(out: Path, only: list[str], png: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="tether-shots-"))
    paths = resolve_paths(env={"TETHER_HOME": str(home)})
    paths.ensure()
    os.environ["HOME"] = str(home)  # paths show as ~/project
    try:
        ids = await build_demo(paths)
        for name, shot in SHOTS.items():
            if only and name not in only:
                continue
            target = await shoot(paths, ids, name, shot, out)
            print(target.relative_to(Path.cwd()) if target.is_relative_to(Path.cwd()) else target)
            if png and shutil.which("rsvg-convert"):
                png_file = str(target.with_suffix(".png"))
                await asyncio.to_thread(
                    subprocess.run, ["rsvg-convert", "-o", png_file, str(target)], check=True
                )
    finally:
        await stop_live(paths)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"only these ({', '.join(SHOTS)})")
    parser.add_argument("--out", type=Path, default=HERE, help="directory for the files")
    parser.add_argument("--png", action="store_true", help="also write PNGs (rsvg-convert)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(args.out, args.names, args.png))
