"""Regenerate the screenshots: one SVG per screen, from real demo sessions.

    .venv/bin/python screenshots/make.py            # writes screenshots/*.svg
    .venv/bin/python screenshots/make.py --png      # and a PNG beside each (rsvg-convert)

It builds the ``tether demo`` data in a temporary home (real commands, real
supervisors), drives the app headless at 120x36 and saves each screen. Times are
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
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cli.demo import build_demo, stop_live  # noqa: E402
from home.config import Config  # noqa: E402
from home.paths import Paths, resolve_paths  # noqa: E402
from tui.app import TetherApp  # noqa: E402

SIZE = (120, 36)
Step = Callable[[TetherApp, object, dict[str, int]], Awaitable[None]]


async def _keys(app: TetherApp, pilot, *keys: str) -> None:  # type: ignore[no-untyped-def]
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.15)
    await app.wait_idle()
    await pilot.pause(0.3)


def _select(key: str, *keys: str) -> Step:
    async def step(app: TetherApp, pilot, ids: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
        app.state.select(ids[key])
        await app.wait_idle()
        await _keys(app, pilot, *keys)

    return step


SHOTS: dict[str, Step] = {
    "list": _select("tests"),
    "detail": _select("agent", "enter"),
    "output": _select("server", "o"),
    "output-find": _select("tests", "o", "slash", *"Error", "enter"),
    "new-session": _select("server", "n", *"make test"),
    "confirm-stop": _select("server", "s"),
    "confirm-delete": _select("build", "d"),
    "tags": _select("training", "t"),
    "status-filter": _select("server", "f", "down", "down", "down", "down", "space"),
    "help": _select("server", "question_mark"),
    "palette": _select("server", "ctrl+p", *"agent"),
    "search": _select("server", "ctrl+f", *"failed"),
    "marked": _select("tests", "space", "space"),
    "cleanup": _select("server", "c", "tab", "3"),
    "export": _select("build", "e"),
}


async def shoot(paths: Paths, ids: dict[str, int], name: str, step: Step, out: Path) -> Path:
    app = TetherApp(paths, Config(), cursor_blink=False, cwd=str(paths.data_dir / "project"))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_idle()
        await step(app, pilot, ids)
        await pilot.pause(0.5)  # screens of other parts (search, output) settle on their own
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
        for name, step in SHOTS.items():
            if only and name not in only:
                continue
            target = await shoot(paths, ids, name, step, out)
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
