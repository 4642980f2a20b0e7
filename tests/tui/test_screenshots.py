"""``screenshots/make.py`` shoots each screen its name says, whatever screen the shot
before it left the app on (the app reopens where it was: new-session.svg used to show
the output screen of the shot before). Real demo sessions, a real run of the script."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _text(svg: Path) -> str:
    text = html.unescape(" ".join(re.findall(r"<text[^>]*>(.*?)</text>", svg.read_text())))
    return text.replace("\xa0", " ")


def test_each_screenshot_shows_the_screen_it_is_named_after(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [sys.executable, str(ROOT / "screenshots" / "make.py"), "--out", str(tmp_path)]
        + ["output", "new-session", "output-find", "export"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    new_session = _text(tmp_path / "new-session.svg")
    assert "New session" in new_session and "Directory" in new_session
    assert "following" not in new_session  # the output screen's header
    export = _text(tmp_path / "export.svg")
    assert "Export session" in export and "Format" in export
    assert "Find" in _text(tmp_path / "output-find.svg")
