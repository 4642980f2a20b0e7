"""``tether backup``, ``restore-backup`` and ``export -o`` against the faults of issue 13:
a damaged database must not rotate good backups away, and files written where another
user can write (a sticky shared directory) are neither handed to that user nor written
through a link they planted. The other user is real (``nobody``) when the suite runs as
root."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from storage import open_store
from tests.support.database import damage, run_python


def seed(home: Path, names: list[str]) -> None:
    async def go() -> None:
        async with open_store(home / "tether.db") as store:
            for name in names:
                s = await store.sessions.create(["echo", name], cwd="/", name=name)
                await store.output.append(s.id, "stdout", f"hello from {name}\n".encode() * 50)

    asyncio.run(go())


def _other_user() -> int | None:
    return 65534 if os.geteuid() == 0 else None


@pytest.fixture
def sticky_dir():
    """A directory anyone can create files in, like /tmp (``tmp_path`` is private)."""
    top = tempfile.mkdtemp(prefix="tether-shared-")
    os.chmod(top, 0o755)
    shared = Path(top) / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    try:
        yield shared
    finally:
        shutil.rmtree(top, ignore_errors=True)


_PLANT = r"""
import os, sys
folder, victim = sys.argv[1], sys.argv[2]
for spec in sys.argv[3:]:
    kind, _, name = spec.partition(":")
    path = os.path.join(folder, name)
    if kind == "file":
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.chmod(path, 0o666)
    else:
        os.symlink(victim, path)
print("planted")
"""


def plant(folder: Path, victim: Path, *specs: str) -> None:
    """As the other user: ``file:NAME`` (an empty file anyone can read and write) or
    ``link:NAME`` (a symlink to ``victim``)."""
    out = run_python(_PLANT, str(folder), str(victim), *specs, user=_other_user())
    assert out.stdout.strip() == "planted", out.stderr


# -- a damaged database ------------------------------------------------------------------
def test_backup_of_a_damaged_database_fails_and_keeps_every_good_backup(tether, tether_home):
    seed(tether_home, ["a"] * 40)
    for _ in range(5):
        tether.ok("backup")
    good = tether.json("backup", "--list")
    assert len(good) == 5
    damage(tether_home / "tether.db")
    before = sorted(p.name for p in (tether_home / "backups").iterdir())

    done = tether("backup")
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "damaged" in lines[0] and good[0]["path"] in lines[0]
    assert "tether doctor" in lines[0] and f"tether restore-backup {good[0]['path']}" in lines[0]
    assert sorted(p.name for p in (tether_home / "backups").iterdir()) == before
    # Again and again (a cron job): still the same five.
    for _ in range(3):
        assert tether("backup").returncode == 1
    assert sorted(p.name for p in (tether_home / "backups").iterdir()) == before

    # The way back it names works: the restore keeps the damaged one aside, marked.
    out = tether.ok("restore-backup", good[0]["path"], "--yes")
    assert "Restored" in out
    listed = tether.json("backup", "--list")
    assert sum(b["label"] == "backup" for b in listed) == 5
    assert [b["label"] for b in listed].count("damaged") == 1
    con = sqlite3.connect(tether_home / "tether.db")
    assert con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    con.close()


def test_backups_have_clean_names(tether, tether_home):
    seed(tether_home, ["a"])
    out = tether.ok("backup")
    name = Path(out.split("Backed up to ", 1)[1].split(" (")[0]).name
    assert name.startswith("tether-") and name.endswith(".backup.db")
    assert "-backup.backup.db" not in name


# -- files where another user can write ---------------------------------------------------
def test_backup_dest_in_a_shared_directory(tether, tether_home, sticky_dir, tmp_path):
    seed(tether_home, ["secret"])
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"the victim's file\n")
    # What the old code opened with O_CREAT|O_TRUNC: DEST.partial, planted by the other
    # user (readable by them), and, for a second destination, as a link to the victim.
    plant(sticky_dir, victim, "file:copy.db.partial", "link:second.db.partial", "link:linked.db")
    tether.ok("backup", str(sticky_dir / "copy.db"))
    tether.ok("backup", str(sticky_dir / "second.db"))
    assert (sticky_dir / "copy.db.partial").read_bytes() == b""  # they received nothing
    assert victim.read_bytes() == b"the victim's file\n"
    for name in ("copy.db", "second.db"):
        st = os.stat(sticky_dir / name)
        assert st.st_mode & 0o777 == 0o600 and st.st_uid == os.geteuid()
    # An existing name (a planted link) is refused without --force, replaced with it.
    refused = tether("backup", str(sticky_dir / "linked.db"))
    assert refused.returncode == 1 and "--force" in refused.stderr
    tether.ok("backup", str(sticky_dir / "linked.db"), "--force")
    assert not (sticky_dir / "linked.db").is_symlink()
    assert victim.read_bytes() == b"the victim's file\n"
    left = sorted(p.name for p in sticky_dir.iterdir())
    assert left == ["copy.db", "copy.db.partial", "linked.db", "second.db", "second.db.partial"]
    if _other_user() is not None:
        read = run_python(
            "import sys; open(sys.argv[1], 'rb').read()",
            str(sticky_dir / "copy.db"),
            user=_other_user(),
        )
        assert "Permission denied" in read.stderr


def test_export_to_a_planted_link_leaves_its_target_alone(
    tether, tether_home, sticky_dir, tmp_path
):
    seed(tether_home, ["a"])
    victim = tmp_path / "victim.md"
    victim.write_bytes(b"the victim's notes\n")
    plant(sticky_dir, victim, "link:out.md")
    done = tether("export", "--all", "-o", str(sticky_dir / "out.md"))
    assert done.returncode == 0, done.stderr
    assert victim.read_bytes() == b"the victim's notes\n"
    out = sticky_dir / "out.md"
    assert not out.is_symlink() and b"hello from a" in out.read_bytes()
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in sticky_dir.iterdir()) == ["out.md"]


def test_export_to_a_missing_directory_names_it(tether, tether_home, tmp_path):
    seed(tether_home, ["a"])
    done = tether("export", "--all", "-o", str(tmp_path / "nowhere" / "x.md"))
    assert done.returncode == 1
    assert str(tmp_path / "nowhere") in done.stderr and ".partial" not in done.stderr
