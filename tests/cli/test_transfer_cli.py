"""``tether export`` and ``tether import`` as real subprocesses on a real database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
from pathlib import Path

import pytest

from home.paths import resolve_paths
from storage import open_store
from storage.engine import compress
from tests.support.tether_cli import Tether

AWS_KEY = "AKIAQYLPMN5HFIQR7XYZ"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def _db(home: Path) -> Path:
    return resolve_paths(env={"TETHER_HOME": str(home)}).db


def _seed(home: Path) -> list[int]:
    """Ended sessions written through the storage API (then closed: no WAL left)."""

    async def go() -> list[int]:
        async with open_store(_db(home)) as store:
            a = await store.sessions.create(["make", "build"], "/src", name="build", tags=["ci"])
            await store.runs.start(a.id)
            await store.output.append(a.id, "stdout", f"key {AWS_KEY}\ncompiled ok\n".encode())
            await store.output.append(a.id, "stderr", f"token {JWT}\n".encode())
            await store.runs.finish(a.id, exit_code=0)
            b = await store.sessions.create(["pytest", "-x"], "/src", name="tests")
            await store.runs.start(b.id)
            await store.output.append(b.id, "stdout", b"3 passed\nticket INTERNAL-4711\n")
            await store.runs.finish(b.id, exit_code=1)
            return [a.id, b.id]

    home.mkdir(exist_ok=True, mode=0o700)
    return asyncio.run(go())


def _files(home: Path) -> tuple[bytes, bool]:
    db = _db(home)
    wal = Path(f"{db}-wal")
    return db.read_bytes(), wal.exists() and wal.stat().st_size > 0


# -- export ------------------------------------------------------------------------------------
def test_export_to_file_is_private_and_redacted(tether, tether_home, tmp_path):
    _seed(tether_home)
    out = tmp_path / "one.json"
    done = tether("export", "1", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_bytes())
    assert doc["format"] == "tether.export/1" and doc["redacted"] is True
    assert [s["session"]["name"] for s in doc["sessions"]] == ["build"]
    text = out.read_text()
    assert AWS_KEY not in text and JWT not in text
    assert "[REDACTED:aws-access-key-id]" in text
    size = len(f"key {AWS_KEY}\ncompiled ok\ntoken {JWT}\n")
    assert done.stderr.strip() == (
        f"exported 1 session ({size} B of output) as json to {out}; "
        "2 secrets redacted (1 aws-access-key-id, 1 jwt)"
    )
    assert not list(tmp_path.glob(".*partial"))  # no temporary file left behind


def test_export_overwrites_with_mode_0600(tether, tether_home, tmp_path):
    _seed(tether_home)
    out = tmp_path / "old.txt"
    out.write_text("old")
    os.chmod(out, 0o644)
    tether.ok("export", "2", "-o", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text() == "3 passed\nticket INTERNAL-4711\n"  # txt from the extension


def test_export_format_choice(tether, tether_home, tmp_path):
    _seed(tether_home)
    assert json.loads(tether.ok("export", "#1"))["format"] == "tether.export/1"  # stdout: json
    md = tether.ok("export", "1", "--format", "md")
    assert md.startswith("# #1 build\n") and "```text\nkey [REDACTED:aws-access-key-id]\n" in md
    lines = tether.ok("export", "2", "--format", "jsonl").splitlines()
    assert [json.loads(x)["text"] for x in lines] == ["3 passed", "ticket INTERNAL-4711"]
    out = tmp_path / "x.markdown"
    tether.ok("export", "1", "-o", str(out))
    assert out.read_text().startswith("# #1 build")
    bad = tether("export", "1", "-o", str(tmp_path / "x.pdf"))
    assert bad.returncode == 2 and "cannot tell the format from the name" in bad.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_no_redact_keeps_secrets_and_says_so(tether, tether_home):
    _seed(tether_home)
    done = tether("export", "1", "--no-redact", "--format", "txt")
    assert done.returncode == 0
    assert done.stdout == f"key {AWS_KEY}\ncompiled ok\ntoken {JWT}\n"
    assert "redaction off (--no-redact)" in done.stderr


def test_config_patterns_are_redacted(tether, tether_home):
    _seed(tether_home)
    config = tether_home / "config.toml"
    config.write_text(config.read_text() + '\n[redaction]\npatterns = ["INTERNAL-\\\\d+"]\n')
    done = tether("export", "2", "--format", "txt")
    assert done.stdout == "3 passed\nticket [REDACTED:custom]\n"
    assert "1 secret redacted (1 custom)" in done.stderr
    config.write_text('[redaction]\npatterns = ["(unclosed"]\n')
    bad = tether("export", "2")
    assert bad.returncode == 2 and "invalid redaction pattern '(unclosed'" in bad.stderr
    assert bad.stdout == ""


def test_export_all_and_query(tether, tether_home):
    _seed(tether_home)
    doc = json.loads(tether.ok("export", "--all"))
    assert [s["session"]["name"] for s in doc["sessions"]] == ["build", "tests"]
    doc = json.loads(tether.ok("export", "--query", "passed"))
    assert [s["session"]["name"] for s in doc["sessions"]] == ["tests"]
    doc = json.loads(tether.ok("export", "--query", "tag:ci"))
    assert [s["session"]["name"] for s in doc["sessions"]] == ["build"]
    none = tether("export", "--query", "no-such-words-anywhere")
    assert none.returncode == 1 and "no session matches" in none.stderr and none.stdout == ""
    broken = tether("export", "--query", 'status:"')
    assert broken.returncode == 2


def test_export_usage_errors(tether, tether_home, tmp_path):
    _seed(tether_home)
    for args in ((), ("1", "--all"), ("--all", "--query", "x")):
        done = tether("export", *args)
        assert done.returncode == 2 and "IDs, --all or --query" in done.stderr
    missing = tether("export", "99", "-o", str(tmp_path / "never.json"))
    assert missing.returncode == 1 and "no session #99" in missing.stderr
    assert not (tmp_path / "never.json").exists()


# -- import ---------------------------------------------------------------------------------------
@pytest.fixture
def exported(tether, tether_home, tmp_path) -> Path:
    _seed(tether_home)
    out = tmp_path / "all.json"
    tether.ok("export", "--all", "--no-redact", "-o", str(out))
    return out


def test_import_into_another_home(exported, tmp_path):
    other = Tether(tmp_path / "other")
    (tmp_path / "other").mkdir(mode=0o700)
    dry = other("import", str(exported), "--dry-run")
    assert dry.returncode == 0
    assert dry.stdout.splitlines()[0].startswith("would import  build  (succeeded, uid ")
    assert "dry run: would import 2 sessions" in dry.stderr and "nothing was written" in dry.stderr
    assert not _db(tmp_path / "other").exists() or other.json("ls") == []
    done = other("import", str(exported))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("import as #1  build  (succeeded, uid ")
    assert "imported 2 sessions" in done.stderr
    listed = other.json("ls")
    assert sorted(s["name"] for s in listed) == ["build", "tests"]
    assert other.ok("logs", "1") == f"key {AWS_KEY}\ncompiled ok\ntoken {JWT}\n"
    before = _files(tmp_path / "other")
    again = other("import", str(exported), "--json")
    result = json.loads(again.stdout)
    assert result["imported"] == 0 and result["skipped"] == 2
    assert [s["existing_id"] for s in result["sessions"]] == [1, 2]
    assert _files(tmp_path / "other") == before
    copies = json.loads(other.ok("import", str(exported), "--duplicate", "--json"))
    assert [s["action"] for s in copies["sessions"]] == ["duplicate", "duplicate"]
    assert len(other.json("ls")) == 4


def test_imported_session_does_not_run_without_confirmation(exported, tmp_path):
    (tmp_path / "other").mkdir(mode=0o700)
    other = Tether(tmp_path / "other")
    other.ok("import", str(exported))
    refused = other("resume", "1")
    assert refused.returncode != 0 and "without confirmation" in refused.stderr
    assert other.json("show", "1")["status"] == "succeeded"


def test_import_from_stdin(exported, tmp_path):
    (tmp_path / "other").mkdir(mode=0o700)
    other = Tether(tmp_path / "other")
    done = other("import", "-", input=exported.read_text())
    assert done.returncode == 0 and "imported 2 sessions" in done.stderr


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("truncated", lambda d: d[: len(d) // 2], r"line \d+ \(byte \d+\)"),
        (
            "binary",
            lambda d: bytes(range(256)) * 16,
            r"line 1 \(byte 0\): this is not a tether export: it does not start with "
            r"\{\"format\":\.\.\.\. Nothing",
        ),
        ("bad checksum", lambda d: d.replace(b"compiled ok", b"compiled OK"), "checksum"),
        ("newer", lambda d: d.replace(b"tether.export/1", b"tether.export/7", 1), "newer tether"),
    ],
)
def test_bad_import_leaves_database_byte_identical(
    tether, tether_home, exported, tmp_path, name, make, message
):
    bad = tmp_path / "bad.json"
    bad.write_bytes(make(exported.read_bytes()))
    before = _files(tether_home)
    done = tether("import", str(bad))
    assert done.returncode == 1
    assert done.stderr.startswith(f"tether: cannot import {bad}: ")
    assert message in done.stderr or re.search(message, done.stderr)
    assert done.stderr.rstrip().endswith("Nothing was imported.")
    assert _files(tether_home) == before


def test_two_gigabyte_garbage_import(tether, tether_home, tmp_path):
    _seed(tether_home)
    bad = tmp_path / "huge.json"
    with open(bad, "wb") as f:
        f.truncate(2 * 1024**3)  # sparse: no disk space used
    try:
        before = _files(tether_home)
        done = tether("import", str(bad))
        assert done.returncode == 1 and "line 1 (byte 0)" in done.stderr
        assert _files(tether_home) == before
    finally:
        bad.unlink()


# -- capture-time redaction (config) ------------------------------------------------------------
def test_on_capture_redaction_keeps_secrets_off_disk(tether, tether_home):
    config = tether_home / "config.toml"
    config.write_text(
        config.read_text() + '\n[redaction]\non_capture = true\npatterns = ["INTERNAL-\\\\d+"]\n'
    )
    sid = tether.ok("run", "--", "sh", "-c", f"echo key {AWS_KEY}; echo ticket INTERNAL-9").strip()
    tether.wait_status(sid, ("succeeded",))
    logs = tether.ok("logs", sid)
    assert "key [REDACTED:aws-access-key-id]\nticket [REDACTED:custom]\n" in logs
    import sqlite3

    con = sqlite3.connect(f"file:{_db(tether_home)}?mode=ro", uri=True)
    try:
        stored = b"".join(
            compress.plain(*r) for r in con.execute("SELECT data, plain_size FROM output_chunks")
        )
    finally:
        con.close()
    assert AWS_KEY.encode() not in stored and b"INTERNAL-9" not in stored


def test_export_and_import_do_not_load_textual(tether, tether_home, tmp_path):
    import subprocess
    import sys

    _seed(tether_home)
    out = tmp_path / "x.json"
    code = (
        "import sys\n"
        "from cli import main\n"
        f"for args in (['export', '1', '-o', {str(out)!r}], ['import', {str(out)!r}],\n"
        f"             ['export', '--all', '-o', {str(out.with_suffix('.md'))!r}]):\n"
        "    assert main(args) == 0, args\n"
        "    leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "    assert not leaked, (args, leaked[:5])\n"
        "print('NO-TEXTUAL')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=tether.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "NO-TEXTUAL" in done.stdout


# -- what the messages say ------------------------------------------------------------------------
def test_export_into_a_missing_directory_names_the_users_path(tether, tether_home, tmp_path):
    _seed(tether_home)
    target = tmp_path / "missing" / "x.md"
    done = tether("export", "1", "-o", str(target))
    assert done.returncode == 1
    assert done.stderr == (
        f"tether: cannot write {target}: the directory {target.parent} does not exist\n"
    )
    assert done.stdout == ""
    relative = tether("export", "1", "-o", "nowhere/x.md", cwd=tmp_path)
    assert relative.stderr == (
        "tether: cannot write nowhere/x.md: the directory nowhere does not exist\n"
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = tether("export", "1", "-o", str(blocker / "x.md"))
    assert done.returncode == 1
    assert done.stderr == f"tether: cannot write {blocker / 'x.md'}: {blocker} is not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "home"]


def test_import_says_redacted_only_when_something_was(tether, tether_home, tmp_path):
    _seed(tether_home)
    secrets = tmp_path / "secrets.json"
    clean = tmp_path / "clean.json"
    tether.ok("export", "1", "-o", str(secrets))  # the AWS key and the JWT
    tether.ok("export", "2", "-o", str(clean))  # redaction on, nothing to redact
    assert json.loads(clean.read_text())["redacted"] is True
    other = tether_home.parent / "other"
    other.mkdir()
    (other / "config.toml").write_text("")
    there = Tether(other)
    done = there("import", str(clean))
    assert done.returncode == 0, done.stderr
    assert "redacted" not in done.stderr, done.stderr
    assert there.json("import", str(clean), "--dry-run")["redactions"] == {}
    done = there("import", str(secrets))
    assert done.returncode == 0, done.stderr
    assert "(the export was redacted: 2 secrets show as [REDACTED:...])" in done.stderr
    dry = there.json("import", str(secrets), "--dry-run")
    assert dry["redacted"] is True
    assert dry["redactions"] == {"aws-access-key-id": 1, "jwt": 1}
