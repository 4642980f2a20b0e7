"""``tether cleanup``, ``backup``, ``restore-backup`` and ``doctor`` as real subprocesses
with a temporary TETHER_HOME. Old sessions are made through the storage API (a CLI
cannot make a session 40 days old)."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import sqlite3
import subprocess
import time
from pathlib import Path

from storage import open_store
from tests.support.tether_cli import TETHER

DAY = 86_400.0


def seed(home: Path, n: int, *, age_days: float = 40, keep_tag_on: int | None = None) -> list[int]:
    """``n`` ended sessions, the oldest ``age_days + n - 1`` days old."""

    async def go() -> list[int]:
        t = time.time()
        ids = []
        async with open_store(home / "tether.db") as store:
            for i in range(n):
                at = t - (age_days + n - 1 - i) * DAY
                tags = ["keep"] if i == keep_tag_on else []
                s = await store.sessions.create(
                    ["make", f"t{i}"], cwd="/src", created_at=at, name=f"job{i}", tags=tags
                )
                await store.runs.start(s.id, at=at)
                await store.output.append(
                    s.id, "stdout", b"step %d of job%d\n" % (i, i) * 300, at=at
                )
                await store.runs.finish(s.id, exit_code=i % 2, at=at + 60)
                ids.append(s.id)
        return ids

    return asyncio.run(go())


def ids_in(home: Path) -> set[int]:
    con = sqlite3.connect(home / "tether.db")
    try:
        return {r[0] for r in con.execute("SELECT id FROM sessions")}
    finally:
        con.close()


# -- cleanup -----------------------------------------------------------------------------
def test_dry_run_shows_the_plan_and_changes_nothing(tether, tether_home):
    ids = seed(tether_home, 5, keep_tag_on=1)
    out = tether.ok("cleanup", "--older-than", "30d", "--dry-run")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "AGE", "SIZE", "REASON", "NAME"]
    listed = [ln.split()[0] for ln in lines[1:] if ln.strip().startswith("#")]
    assert listed == [f"#{i}" for i in ids if i != ids[1]]  # the keep-tagged one is spared
    assert "ended 44d ago (over 30d)" in out
    assert "total: 4 sessions" in out and "dry run" in out
    assert ids_in(tether_home) == set(ids)


def test_refuses_without_yes_when_not_interactive(tether, tether_home):
    ids = seed(tether_home, 3)
    done = tether("cleanup", "--older-than", "30d")
    assert done.returncode == 2
    assert "not purging without --yes" in done.stderr
    assert ids_in(tether_home) == set(ids)


def test_yes_purges_backs_up_and_reports(tether, tether_home):
    ids = seed(tether_home, 24, age_days=20)  # 24 > 20 sessions: a backup first
    recent = seed(tether_home, 2, age_days=1)
    out = tether.ok("cleanup", "--older-than", "15d", "--yes")
    assert "Deleted 24 sessions" in out
    assert "A backup from just before is at" in out
    assert ids_in(tether_home) == set(recent)
    backups = list((tether_home / "backups").glob("*-pre-cleanup.backup.db"))
    assert len(backups) == 1
    con = sqlite3.connect(backups[0])
    assert {r[0] for r in con.execute("SELECT id FROM sessions")} == set(ids) | set(recent)
    con.close()
    assert "Nothing to clean up" in tether.ok("cleanup", "--older-than", "15d", "--yes")


def test_json_plan_and_result(tether, tether_home):
    ids = seed(tether_home, 4)
    plan = json.loads(tether.ok("cleanup", "--keep", "1", "--json", "--dry-run"))
    assert plan["result"] is None
    assert [s["id"] for s in plan["plan"]["sessions"]] == ids[:3]
    assert {s["rule"] for s in plan["plan"]["sessions"]} == {"keep"}
    assert plan["plan"]["policy"]["keep_newest"] == 1
    done = json.loads(tether.ok("cleanup", "--keep", "1", "--json", "--yes"))
    assert sorted(done["result"]["purged"]) == ids[:3]
    assert done["result"]["size_after"] <= done["result"]["size_before"]
    assert ids_in(tether_home) == {ids[3]}


def test_status_and_size_options(tether, tether_home):
    ids = seed(tether_home, 6)  # odd ones failed
    out = tether.ok("cleanup", "--status", "failed", "--keep", "0", "--dry-run")
    listed = {int(ln.split()[0][1:]) for ln in out.splitlines() if ln.strip().startswith("#")}
    assert listed == {i for n, i in enumerate(ids) if n % 2}
    out = tether.ok("cleanup", "--max-size", "10K", "--dry-run")
    assert "output over 10.0 KiB in all" in out


def test_bad_options_and_config(tether, tether_home):
    seed(tether_home, 1)
    done = tether("cleanup", "--older-than", "soon")
    assert done.returncode == 2 and "--older-than" in done.stderr
    done = tether("cleanup", "--status", "running", "--dry-run")
    assert done.returncode == 2 and "never cleaned up" in done.stderr
    (tether_home / "config.toml").write_text('[retention]\nkeep = "ten"\n')
    done = tether("cleanup", "--dry-run")
    assert done.returncode == 2  # a bad config.toml is refused when it is loaded
    assert "config.toml" in done.stderr and "retention.keep" in done.stderr


def run_on_a_terminal(home: Path, args: list[str], answer: bytes) -> tuple[int, str]:
    """Run tether with a pseudo-terminal as stdin and stdout; answer its question."""
    env = {**os.environ, "TETHER_HOME": str(home), "NO_COLOR": "1"}
    parent, child = pty.openpty()
    proc = subprocess.Popen([*TETHER, *args], stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    seen = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        try:
            chunk = os.read(parent, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.write(parent, answer)
    while True:
        try:
            chunk = os.read(parent, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(parent)
    return proc.wait(timeout=60), seen.decode(errors="replace")


def test_asks_on_a_terminal(tether_home):
    ids = seed(tether_home, 3)
    code, out = run_on_a_terminal(tether_home, ["cleanup", "--older-than", "30d"], b"n\n")
    assert "Delete these 3 sessions" in out and "Nothing was changed" in out
    assert code == 1 and ids_in(tether_home) == set(ids)
    code, out = run_on_a_terminal(tether_home, ["cleanup", "--older-than", "30d"], b"y\n")
    assert code == 0 and "Deleted 3 sessions" in out
    assert ids_in(tether_home) == set()


# -- backup and restore ----------------------------------------------------------------
def test_backup_list_and_restore(tether, tether_home, tmp_path):
    ids = seed(tether_home, 3)
    out = tether.ok("backup")
    assert out.startswith("Backed up to ") and "backups" in out
    listed = tether.json("backup", "--list")
    assert len(listed) == 1 and listed[0]["label"] == "backup"
    saved = Path(listed[0]["path"])
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    own = tmp_path / "mine.db"
    tether.ok("backup", str(own))
    again = tether("backup", str(own))
    assert again.returncode == 1 and "--force" in again.stderr
    tether.ok("backup", str(own), "--force")

    more = seed(tether_home, 2, age_days=1)
    tether.ok("rm", "--purge", str(ids[0]))
    refused = tether("restore-backup", str(saved))
    assert refused.returncode == 2 and "without --yes" in refused.stderr
    out = tether.ok("restore-backup", str(saved), "--yes")
    assert "3 sessions" in out and "The database as it was is kept at" in out
    assert ids_in(tether_home) == set(ids)
    previous = [b for b in tether.json("backup", "--list") if b["label"] == "pre-restore"]
    assert len(previous) == 1
    con = sqlite3.connect(previous[0]["path"])
    assert {r[0] for r in con.execute("SELECT id FROM sessions")} == set(ids[1:]) | set(more)
    con.close()


def test_restore_rejects_a_file_that_is_not_a_backup(tether, tether_home, tmp_path):
    ids = seed(tether_home, 2)
    bogus = tmp_path / "notes.db"
    bogus.write_text("not a database at all\n" * 20)
    done = tether("restore-backup", str(bogus), "--yes")
    assert done.returncode == 1 and "cannot be restored" in done.stderr
    assert ids_in(tether_home) == set(ids)
    assert not list((tether_home / "backups").glob("*pre-restore*"))


def test_restore_over_a_database_that_cannot_be_opened(tether, tether_home):
    ids = seed(tether_home, 2)
    tether.ok("backup")
    saved = tether.json("backup", "--list")[0]["path"]
    db = tether_home / "tether.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xee" * 200)  # ruined
    assert tether("ls").returncode == 1
    out = tether.ok("restore-backup", saved, "--yes")
    assert "cannot be opened" in out and "kept at" in out
    assert ids_in(tether_home) == set(ids)
    assert list((tether_home / "backups").glob("*.damaged.db"))


def test_restore_refuses_while_a_session_runs(tether, tether_home):
    seed(tether_home, 1)
    tether.ok("backup")
    saved = tether.json("backup", "--list")[0]["path"]
    sid = tether.ok("run", "--", "sleep", "30").strip()
    done = tether("restore-backup", saved, "--yes")
    assert done.returncode == 1 and "stop them before restoring" in done.stderr
    assert f"#{sid}" in done.stderr
    tether.ok("stop", sid)


# -- doctor ------------------------------------------------------------------------------
def test_doctor_healthy_then_damaged_then_fixed(tether, tether_home):
    ids = seed(tether_home, 3)
    out = tether.ok("doctor")
    assert "no problems" in out and "PROBLEM" not in out
    db = tether_home / "tether.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA foreign_keys=OFF")
    con.execute("DELETE FROM sessions WHERE id = ?", (ids[0],))  # leaves orphans
    con.execute(
        "UPDATE sessions SET status = 'running', pid = 99999 WHERE id = ?", (ids[1],)
    )  # no supervisor holds it: a run of tether's own, from before v3 (judged by its lock)
    con.execute(
        "UPDATE runs SET supervisor = 'tether', ended_at = NULL WHERE session_id = ?", (ids[1],)
    )
    con.close()
    os.chmod(db, 0o644)
    done = tether("doctor")
    assert done.returncode == 1
    for check in ("orphans", "supervisors", "permissions"):
        line = next(ln for ln in done.stdout.splitlines() if f" {check} " in ln)
        assert "PROBLEM" in line, line
    report = json.loads(tether("doctor", "--json").stdout)
    assert report["ok"] is False
    assert {f["check"] for f in report["findings"] if f["level"] == "problem"} >= {
        "orphans",
        "supervisors",
        "permissions",
    }
    fixed = tether("doctor", "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "paths private" in fixed.stdout
    assert f"marked lost: #{ids[1]}" in fixed.stdout
    assert "deleted orphaned" in fixed.stdout
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    assert tether.json("show", str(ids[1]))["status"] == "lost"
    assert "no problems" in tether.ok("doctor")


def test_doctor_on_a_ruined_database(tether, tether_home):
    (tether_home / "tether.db").write_bytes(b"garbage" * 100)
    done = tether("doctor")
    assert done.returncode == 1 and "PROBLEM" in done.stdout and "open" in done.stdout


def test_doctor_without_a_database(tether, tether_home):
    out = tether.ok("doctor")
    assert "no database" in out
    assert not (tether_home / "tether.db").exists()
