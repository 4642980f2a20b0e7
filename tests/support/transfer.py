"""Helpers for the export and import tests: seeded sessions, a snapshot of a database
that leaves out local ids, and tools to take an export apart and put it back together
with a correct checksum."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

from storage import Store
from storage.engine import compress
from storage.redact import Redactor
from storage.transfer.export import export_sessions

T0 = 1_780_000_000.0

AWS_KEY = "AKIAQYLPMN5HFIQR7XYZ"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    + "".join(
        "MIIEpAIBAAKCAQEAx7yQ1vZ2c3RhbmRhcmQgdGVzdCBrZXkgbm90IHJlYWwhISE" + "\n" for _ in range(8)
    )
    + "-----END RSA PRIVATE KEY-----\n"
)
SECRETS = (AWS_KEY, GITHUB_TOKEN, JWT, "MIIEpAIBAAKCAQEAx7yQ1vZ2c3Rh")


async def seed(store: Store) -> list[int]:
    """Sessions that use every feature the export format carries."""
    s1 = await store.sessions.create(
        ["make", "-j4", "test"],
        "/src/app",
        name="build",
        tags=["ci", "nightly"],
        env={"CC": "clang", "LANG": "C.UTF-8"},
        context={"model": "m-1", "tokens": [1, 2.5, None, True], "nested": {"k": "v"}},
        resume_argv=["make", "test"],
        created_at=T0,
    )
    await store.sessions.update(s1.id, notes="first line\nsecond ``` line", pinned=True)
    await store.runs.start(s1.id, pid=4242, at=T0 + 1)
    await store.output.append(s1.id, "stdout", b"compiling \x1b[32mok\x1b[0m\n", T0 + 1.5)
    await store.output.append(s1.id, "stderr", b"warn: \xff\xfe not utf-8\n\x00nul\n", T0 + 2)
    await store.output.append(s1.id, "stdout", b"progress 10%\rprogress 100%\n", T0 + 2.25)
    await store.output.append(s1.id, "stdout", b"prompt> ", T0 + 2.5)  # unterminated
    await store.output.append(s1.id, "input", b"yes\n", T0 + 3)
    await store.runs.finish(s1.id, exit_code=2, at=T0 + 4, reason="exited with code 2")
    await store.runs.start(s1.id, ["make", "test"], pid=4243, at=T0 + 10)
    await store.output.append(s1.id, "stdout", b"second run ```` fence\n", T0 + 11)
    await store.runs.finish(s1.id, exit_code=0, at=T0 + 12)

    s2 = await store.sessions.create(["python", "train.py"], "/ml", mode="pty", created_at=T0 + 20)
    await store.runs.start(s2.id, at=T0 + 21)
    long_line = b"x" * 150_000 + b"\n"  # longer than a chunk: cut into several
    await store.output.append(s2.id, "stdout", b"epoch 1\n" + long_line + b"tail", T0 + 22)
    await store.runs.finish(s2.id, signal=9, status="stopped", at=T0 + 23)

    s3 = await store.sessions.create(["true"], "/", created_at=T0 + 30)  # pending, no output
    await store.sessions.set_status(s3.id, "failed", reason="could not start", at=T0 + 31)
    return [s1.id, s2.id, s3.id]


async def export_doc(
    store: Store, ids: list[int], fmt: str = "json", redactor: Redactor | None = None
) -> bytes:
    buf = io.BytesIO()
    await export_sessions(store, ids, buf, fmt=fmt, redactor=redactor, now=T0 + 100)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def lines_of(doc: bytes) -> list[bytes]:
    """The document's lines, each without its newline."""
    return doc.rstrip(b"\n").split(b"\n")


def with_checksum(lines: list[bytes]) -> bytes:
    """Join ``lines`` back into a document whose checksum is right again."""
    body = b"".join(line + b"\n" for line in lines[:-1])
    digest = hashlib.sha256(body).hexdigest()
    return body + b'"checksum":"sha256:' + digest.encode() + b'"}\n'


def edit_json_line(
    doc: bytes, index: int, change: Any, prefix: str = "", suffix: str = ""
) -> bytes:
    """Apply ``change(obj)`` to the JSON object on line ``index`` (between ``prefix``
    and ``suffix``), keep the layout, fix the checksum."""
    lines = lines_of(doc)
    text = lines[index].decode()
    assert text.startswith(prefix) and text.endswith(suffix), text
    obj = json.loads(text[len(prefix) : len(text) - len(suffix)])
    change(obj)
    inner = json.dumps(obj, separators=(",", ":"))
    lines[index] = (prefix + inner + suffix).encode()
    return with_checksum(lines)


def db_files(path: Path) -> tuple[bytes, bytes | None]:
    """The database file and its WAL (if any), byte for byte."""
    wal = Path(f"{path}-wal")
    return path.read_bytes(), wal.read_bytes() if wal.exists() and wal.stat().st_size else None


def snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Everything a session is, by uid, without local ids (or pid, trash, origin)."""
    import sqlite3

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    compress.know(path)
    con.create_function("plain", 2, compress.plain, deterministic=True)
    try:
        out: dict[str, Any] = {}
        cols = (
            "uid, name, argv, cwd, env, mode, status, exit_code, signal, created_at, "
            "updated_at, started_at, ended_at, notes, context, pinned, resume_argv, run_count, "
            "output_bytes, output_lines, last_output_at"
        )
        for row in con.execute(f"SELECT id, {cols} FROM sessions ORDER BY uid"):
            sid, uid = row[0], row[1]
            out[uid] = {
                "session": row[1:],
                "tags": sorted(
                    r[0]
                    for r in con.execute("SELECT tag FROM session_tags WHERE session_id=?", (sid,))
                ),
                "runs": [
                    tuple(r)
                    for r in con.execute(
                        "SELECT number, argv, started_at, ended_at, exit_code, signal, status, "
                        "first_line FROM runs WHERE session_id=? ORDER BY number",
                        (sid,),
                    )
                ],
                "chunks": [
                    tuple(r)
                    for r in con.execute(
                        "SELECT run, stream, first_line, line_count, open_end, first_at, last_at, "
                        "indexed, plain(data, plain_size) FROM output_chunks WHERE session_id=? "
                        "ORDER BY first_line",
                        (sid,),
                    )
                ],
                "meta_index": [
                    tuple(r)
                    for r in con.execute(
                        "SELECT name, command, cwd, tags, notes FROM sessions_fts WHERE rowid=?",
                        (sid,),
                    )
                ],
            }
        return out
    finally:
        con.close()
