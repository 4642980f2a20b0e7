"""The app draws up to 120 frames a second (``tui.faster_frames``): Textual's 60 added
up to 17 ms to every live line (issue 14). Checked in fresh interpreters, as the real
``tether`` starts: the rate Textual took, and that the variable it reads from is not
left for the commands the app starts; a user's own ``TEXTUAL_FPS`` wins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import os, tui; tui.faster_frames(); import textual.constants as c; "
    "print(c.MAX_FPS, os.environ.get('TEXTUAL_FPS'))"
)


def _probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_app_draws_up_to_120_frames_and_leaves_no_variable_behind() -> None:
    assert _probe() == "120 None"


def test_a_users_own_frame_rate_wins() -> None:
    assert _probe(TEXTUAL_FPS="30") == "30 30"
