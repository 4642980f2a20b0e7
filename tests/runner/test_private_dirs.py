"""Runtime directories hold sockets that accept commands: nobody else may enter them."""

from __future__ import annotations

import stat

from runner.locations import private_dir


def test_every_directory_created_on_the_way_is_private(tmp_path) -> None:
    target = tmp_path / "home" / "run" / "abc"
    private_dir(target)
    for d in (tmp_path / "home", tmp_path / "home" / "run", target):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
