"""Export: the JSON document (layout, checksum, round trip through import), the
transcripts (md, txt, jsonl), redaction in every format, streaming memory, and the
helpers the CLI uses (format from a file name, query matching)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import SessionNotFound, open_store
from storage.engine.schema import SCHEMA_VERSION
from storage.query import parse
from storage.redact import Redactor
from storage.transfer.export import (
    FORMAT_ID,
    export_sessions,
    format_for_path,
    matching_sessions,
)
from storage.transfer.importer import import_file
from tests.support.database import assert_output_index_exact
from tests.support.transfer import (
    AWS_KEY,
    GITHUB_TOKEN,
    JWT,
    PEM,
    SECRETS,
    T0,
    export_doc,
    lines_of,
    seed,
    snapshot,
    write,
)

FORMATS = ("json", "md", "txt", "jsonl")


async def _roundtrip(src_db: Path, dst_db: Path, ids: list[int] | None = None) -> None:
    async with open_store(src_db) as a:
        ids = ids if ids is not None else await a.sessions.ids(order="oldest")
        doc = await export_doc(a, ids)
    path = write(dst_db.with_suffix(".json"), doc)
    async with open_store(dst_db) as b:
        result = await import_file(b, path)
        assert result.imported == len(ids)


# -- the json document ----------------------------------------------------------------------
async def test_json_document_layout_and_checksum(store):
    ids = await seed(store)
    doc = await export_doc(store, ids)
    whole = json.loads(doc)  # one valid JSON document
    assert whole["format"] == FORMAT_ID
    assert whole["schema_version"] == SCHEMA_VERSION
    assert whole["exported_at"] == T0 + 100
    assert whole["redacted"] is False
    assert [s["session"]["name"] for s in whole["sessions"]] == ["build", "", ""]
    lines = lines_of(doc)
    body = doc[: doc.rindex(b"\n", 0, len(doc) - 1) + 1]
    assert whole["checksum"] == "sha256:" + hashlib.sha256(body).hexdigest()
    assert lines[-1].startswith(b'"checksum":"sha256:')
    # one chunk object per line: each chunk line is a JSON object on its own
    build = whole["sessions"][0]
    assert len(build["chunks"]) == build["summary"]["chunks"] > 3
    assert sum(1 for ln in lines if ln.lstrip(b",").startswith(b'{"run":')) == sum(
        s["summary"]["chunks"] for s in whole["sessions"]
    )
    # bytes that are not UTF-8 go as base64, the rest as text; never both
    stderr = [c for c in build["chunks"] if c["stream"] == "stderr"]
    assert "base64" in stderr[0] and "text" not in stderr[0]
    assert base64.b64decode(stderr[0]["base64"]) == b"warn: \xff\xfe not utf-8\n\x00nul\n"
    first = build["chunks"][0]
    assert first["text"] == "compiling \x1b[32mok\x1b[0m\n" and "base64" not in first
    meta = build["session"]
    assert meta["argv"] == ["make", "-j4", "test"]
    assert meta["env"] == {"CC": "clang", "LANG": "C.UTF-8"}
    assert meta["tags"] == ["ci", "nightly"] and meta["pinned"] is True
    assert meta["resume_argv"] == ["make", "test"] and meta["status"] == "succeeded"
    assert [r["number"] for r in build["runs"]] == [1, 2]
    assert build["runs"][1]["first_line"] > 0
    assert "id" not in meta and "pid" not in meta  # local to this machine


async def test_json_roundtrip_is_identity_but_local_ids(tmp_path):
    src, dst = tmp_path / "a.db", tmp_path / "b.db"
    async with open_store(dst) as b:  # the target already has a session: ids differ
        await b.sessions.create(["echo", "local"], "/")
    async with open_store(src) as a:
        await seed(a)
    await _roundtrip(src, dst)
    before, after = snapshot(src), snapshot(dst)
    imported = {uid: v for uid, v in after.items() if uid in before}
    assert imported == before
    assert_output_index_exact(dst)
    async with open_store(dst) as b:
        for s in await b.sessions.list():
            assert s.origin == ("local" if s.argv == ("echo", "local") else "imported")
            assert s.pid is None
        assert (await b.integrity_check()).ok


_CONTEXT = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_DATA = st.one_of(
    st.binary(min_size=1, max_size=120),
    st.binary(min_size=1, max_size=120),
    st.text(max_size=60).map(lambda t: t.encode()),
    st.builds(
        lambda n, unit: unit * n,
        st.integers(30_000, 80_000),
        st.sampled_from([b"a", b"ab\n", "é".encode(), b"\x1b[1m"]),
    ),
)
_EVENT = st.one_of(
    st.tuples(st.just("out"), st.sampled_from(["stdout", "stderr", "system", "input"]), _DATA),
    st.tuples(st.just("resume"), st.integers(-1, 3), st.none()),
)
_SESSION = st.fixed_dictionaries(
    {
        "name": st.text(max_size=12),
        "argv": st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3),
        "tags": st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), max_size=3, unique=True),
        "env": st.none()
        | st.dictionaries(
            st.from_regex(r"[A-Z]{1,5}", fullmatch=True), st.text(max_size=6), max_size=2
        ),
        "context": _CONTEXT,
        "notes": st.text(max_size=20),
        "pinned": st.booleans(),
        "mode": st.sampled_from(["pipe", "pty"]),
        "started": st.booleans(),
        "events": st.lists(_EVENT, max_size=8),
        "exit": st.integers(-1, 255),
        "t0": st.floats(1e9, 2e9, allow_nan=False),
    }
)


async def _build(store, spec) -> None:  # type: ignore[no-untyped-def]
    t = spec["t0"]
    s = await store.sessions.create(
        spec["argv"],
        "/w",
        name=spec["name"],
        tags=spec["tags"],
        env=spec["env"],
        context=spec["context"],
        mode=spec["mode"],
        created_at=t,
    )
    await store.sessions.update(s.id, notes=spec["notes"], pinned=spec["pinned"])
    if not spec["started"]:
        await store.sessions.set_status(s.id, "failed", reason="could not start", at=t + 0.5)
        return
    await store.runs.start(s.id, at=t + 1)
    for i, (kind, a, b) in enumerate(spec["events"]):
        t += 0.125 * (i + 1)
        if kind == "out":
            await store.output.append(s.id, a, b, t)
        else:
            await store.runs.finish(s.id, exit_code=a, at=t)
            await store.runs.start(s.id, at=t + 0.01)
    await store.runs.finish(s.id, exit_code=spec["exit"], at=t + 1)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(_SESSION, min_size=1, max_size=3))
def test_property_export_then_import_is_identity(specs):
    async def go(tmp: Path) -> None:
        src, dst = tmp / "a.db", tmp / "b.db"
        async with open_store(src) as a:
            for spec in specs:
                await _build(a, spec)
        await _roundtrip(src, dst)
        assert snapshot(dst) == snapshot(src)
        assert_output_index_exact(dst)
        async with open_store(src) as a, open_store(dst) as b:
            for s in await a.sessions.list():
                t = await b.sessions.get_by_uid(s.uid)
                assert t is not None and t.origin == "imported"
                assert await b.output.read_bytes(t.id) == await a.output.read_bytes(s.id)

    with tempfile.TemporaryDirectory() as d:
        asyncio.run(go(Path(d)))


async def test_unknown_session_is_refused_before_writing(store):
    ids = await seed(store)
    buf = io.BytesIO()
    with pytest.raises(SessionNotFound):
        await export_sessions(store, [ids[0], 999], buf)
    assert buf.getvalue() == b""
    with pytest.raises(ValueError, match="unknown export format"):
        await export_sessions(store, ids, buf, fmt="xml")


async def test_progress_reaches_the_total(store):
    ids = await seed(store)
    seen: list[tuple[int, int]] = []
    await export_sessions(store, ids, io.BytesIO(), progress=lambda d, t: seen.append((d, t)))
    total = sum(s.output_bytes for s in await store.sessions.list(ids=ids))
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# -- transcripts --------------------------------------------------------------------------
async def test_markdown_transcript(store):
    ids = await seed(store)
    md = (await export_doc(store, ids, "md")).decode()
    assert md.startswith("# #1 build\n")
    assert "- **Command:** `make -j4 test`" in md
    assert "- **Status:** succeeded, exit 0" in md
    assert "- **Tags:** `ci` `nightly`" in md
    assert "> second ``` line" in md  # notes, quoted
    assert "## Run 1 · " in md and "## Run 2 · " in md and "`make test`" in md
    assert "\x1b" not in md and "\x00" not in md
    assert "compiling ok\n" in md  # ANSI stripped
    assert "progress 100%\n" in md and "progress 10%" not in md  # CR collapsed
    assert "prompt> \nyes\n" in md  # an unterminated line ends where another stream starts
    # Each fence is longer than every backtick run inside it.
    run2 = md[md.index("## Run 2") :]
    assert "\n`````text\nsecond run ```` fence\n`````\n" in run2
    assert "# #3 true" in md and "## Output before the first run\n\n```text\ncould not" in md
    assert md.count("\n---\n") == 2  # between sessions
    empty = await store.sessions.create(["sleep", "1"], "/tmp")
    md = (await export_doc(store, [empty.id], "md")).decode()
    assert md.startswith("# #4 sleep 1\n") and md.endswith("\n_No output._\n")


async def test_markdown_fence_outgrows_any_backticks(store):
    s = await store.sessions.create(["sh"], "/")
    await store.runs.start(s.id)
    await store.output.append(s.id, "stdout", b"a ``````````` b\n```\n")
    await store.runs.finish(s.id, exit_code=0)
    md = (await export_doc(store, [s.id], "md")).decode()
    assert "\n" + "`" * 12 + "text\na " + "`" * 11 + " b\n```\n" + "`" * 12 + "\n" in md


async def test_txt_is_the_plain_output(store):
    ids = await seed(store)
    txt = (await export_doc(store, ids[1:2], "txt")).decode()
    assert txt == "epoch 1\n" + "x" * 150_000 + "\ntail\n"  # a long line stays one line
    both = (await export_doc(store, ids[:2], "txt")).decode()
    assert both.startswith("==> #1 build <==\ncompiling ok\n")
    assert "\n\n==> #2 python train.py <==\nepoch 1\n" in both
    assert "\x1b" not in both and "\x00" not in both


async def test_jsonl_has_one_object_per_line(store):
    ids = await seed(store)
    out = (await export_doc(store, ids, "jsonl")).decode().splitlines()
    records = [json.loads(line) for line in out]
    sessions = await store.sessions.list(ids=ids)
    assert len(records) == sum(s.output_lines for s in sessions)
    build = sessions[-1] if sessions[-1].name == "build" else sessions[0]
    mine = [r for r in records if r["session"] == build.uid]
    assert [r["line"] for r in mine] == list(range(1, build.output_lines + 1))
    assert mine[0] == {
        "session": build.uid,
        "line": 1,
        "run": 1,
        "stream": "stdout",
        "ts": T0 + 1.5,
        "text": "compiling ok",
    }
    assert {r["stream"] for r in mine} == {"stdout", "stderr", "input", "system"}
    assert set(records[0]) == {"session", "line", "run", "stream", "ts", "text"}


# -- redaction ---------------------------------------------------------------------------------
async def _secret_session(store) -> int:  # type: ignore[no-untyped-def]
    s = await store.sessions.create(
        ["deploy", "--api-key", "zq8Xv2LmN4pR", "--region", "eu"],
        "/srv",
        name="deploy",
        env={"DB_PASSWORD": "hunter2-horse"},
        context={"auth_token": "ctx-secret-99"},
    )
    await store.runs.start(s.id)
    head = f"key {AWS_KEY}\nAuthorization: Bearer {GITHUB_TOKEN}\njwt={JWT}\n".encode()
    line = b"line %05d of ordinary build output\n"
    count = (64 * 1024 - 300 - len(head)) // len(line % 0)  # the PEM straddles 64 KiB
    filler = b"".join(line % i for i in range(count))
    out = (
        head
        + filler
        + PEM.encode()  # starts near the end of the first 64 KiB chunk
        + b"connecting with password hunter2-horse\n"
        + b"args: --api-key zq8Xv2LmN4pR and ctx-secret-99\n"
    )
    await store.output.append(s.id, "stdout", out)
    await store.runs.finish(s.id, exit_code=0)
    await store.runs.start(s.id)  # the separator line repeats the command
    await store.runs.finish(s.id, exit_code=0)
    return s.id


async def test_pem_block_really_spans_chunks(store):
    sid = await _secret_session(store)
    chunks = [c async for c in store.output.iter_chunks(sid)]
    holders = [c for c in chunks if b"MIIEpAIBAAKCAQEAx7yQ1vZ2c3Rh" in c.data]
    assert len(holders) == 2  # the test below is only worth something if this holds


LEARNED = ("zq8Xv2LmN4pR", "hunter2-horse", "ctx-secret-99")


def visible_text(doc: bytes, fmt: str) -> str:
    """Every string an export holds, decoded (JSON escapes and base64 undone)."""
    if fmt not in ("json", "jsonl"):
        return doc.decode()
    values = [json.loads(doc)] if fmt == "json" else [json.loads(x) for x in doc.splitlines()]
    out: list[str] = []
    while values:
        v = values.pop()
        if isinstance(v, dict):
            if "base64" in v:
                out.append(base64.b64decode(v["base64"]).decode("utf-8", "replace"))
            values += list(v.values()) + list(v.keys())
        elif isinstance(v, list):
            values += v
        elif isinstance(v, str):
            out.append(v)
    return "\n".join(out)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_secrets_redacted_in_every_format_by_default(store, fmt):
    sid = await _secret_session(store)
    buf = io.BytesIO()
    result = await export_sessions(store, [sid], buf, fmt=fmt, redactor=Redactor())
    text = visible_text(buf.getvalue(), fmt)
    for secret in (*SECRETS, *LEARNED):
        assert secret not in text, (fmt, secret)
    assert "[REDACTED:" in text
    assert result.redactions["aws-access-key-id"] >= 1
    assert result.redactions["private-key"] >= 1
    assert result.redaction_total == sum(result.redactions.values())
    assert "line 01700 of ordinary build output" in text  # ordinary text untouched


@pytest.mark.parametrize("fmt", FORMATS)
async def test_no_redact_keeps_secrets(store, fmt):
    sid = await _secret_session(store)
    buf = io.BytesIO()
    result = await export_sessions(store, [sid], buf, fmt=fmt, redactor=None)
    text = visible_text(buf.getvalue(), fmt)
    for secret in (AWS_KEY, GITHUB_TOKEN, JWT, *LEARNED):
        assert secret in text, (fmt, secret)
    assert result.redacted is False and result.redactions == {}


async def test_redacted_json_imports_with_consistent_numbering(store, tmp_path):
    sid = await _secret_session(store)
    doc = await export_doc(store, [sid], redactor=Redactor())
    whole = json.loads(doc)
    s = whole["sessions"][0]
    assert whole["redacted"] is True and whole["summary"]["redacted"] is True
    assert s["session"]["argv"][2] == "[REDACTED:assignment]"
    assert s["session"]["env"] == {"DB_PASSWORD": "[REDACTED:assignment]"}
    # The PEM body lines are gone, so the numbering is the export's own.
    original = (await store.sessions.require(sid)).output_lines
    assert s["summary"]["lines"] < original
    async with open_store(tmp_path / "b.db") as b:
        result = await import_file(b, write(tmp_path / "r.json", doc))
        new = await b.sessions.require(result.sessions[0].id)
        data = await b.output.read_bytes(new.id)
        assert AWS_KEY.encode() not in data and b"[REDACTED:private-key]" in data
        assert new.output_lines == s["summary"]["lines"]
        runs = await b.runs.list(new.id)
        assert [r.number for r in runs] == [1, 2]
        sep = await b.output.read_lines(new.id, runs[1].first_line - 1, runs[1].first_line)
        assert sep[0].stream == "system" and "── run 2" in sep[0].text
        assert "zq8Xv2LmN4pR" not in sep[0].text


async def test_user_patterns_from_config_are_applied(store):
    s = await store.sessions.create(["x"], "/")
    await store.output.append(s.id, "stdout", b"ticket INTERNAL-12345 opened\n")
    buf = io.BytesIO()
    result = await export_sessions(
        store, [s.id], buf, fmt="txt", redactor=Redactor([r"INTERNAL-\d+"])
    )
    assert buf.getvalue() == b"ticket [REDACTED:custom] opened\n"
    assert result.redactions == {"custom": 1}


# -- streaming -------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "txt"])
async def test_export_memory_is_bounded(store, tmp_path, fmt):
    s = await store.sessions.create(["big"], "/")
    await store.runs.start(s.id)
    block = b"".join(
        b"%08d some ordinary output text of a long running job\n" % i for i in range(20_000)
    )
    for _ in range(24):  # about 24 MB
        await store.output.append(s.id, "stdout", block)
    await store.runs.finish(s.id, exit_code=0)
    size = (await store.sessions.require(s.id)).output_bytes
    assert size > 20_000_000
    tracemalloc.start()
    try:
        with open(tmp_path / f"big.{fmt}", "wb") as f:
            await export_sessions(store, [s.id], f, fmt=fmt, redactor=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12_000_000, peak  # a few batches of 64 KiB chunks, never the session
    assert (tmp_path / f"big.{fmt}").stat().st_size >= size


# -- helpers the CLI and the runner use ------------------------------------------------
def test_format_for_path():
    assert format_for_path("out.json") == "json"
    assert format_for_path("/x/y/Run.MD") == "md"
    assert format_for_path("log.txt") == "txt"
    assert format_for_path("lines.jsonl") == "jsonl"
    assert format_for_path("lines.ndjson") == "jsonl"
    assert format_for_path("noext") is None
    assert format_for_path("a.pdf") is None


async def test_matching_sessions_uses_output_and_filters(store):
    from runner.screen.render import render_session

    ids = await seed(store)
    # A pty session's output is searched in its rendered transcript (since schema v15),
    # which its supervisor stores as it runs; seed() wrote the bytes alone: build it.
    assert await matching_sessions(store, parse("epoch")) == []
    await render_session(store, ids[1])
    assert await matching_sessions(store, parse("epoch")) == [ids[1]]
    assert await matching_sessions(store, parse("compiling")) == [ids[0]]
    assert await matching_sessions(store, parse("status:failed")) == [ids[2]]
    assert await matching_sessions(store, parse("tag:ci")) == [ids[0]]
    assert await matching_sessions(store, parse("nothing-like-this")) == []


async def test_export_to_file_is_private_and_all_or_nothing(store, tmp_path):
    import stat

    from storage.transfer.export import export_to_file

    ids = await seed(store)
    out = tmp_path / "all.md"
    out.write_text("old")
    result = await export_to_file(store, ids, out)  # the format from the name
    assert result.sessions == 3 and out.read_text().startswith("# #1 build\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with pytest.raises(SessionNotFound):
        await export_to_file(store, [ids[0], 99], out)
    assert out.read_text().startswith("# #1 build\n")  # the old file is untouched
    with pytest.raises(ValueError, match="cannot tell the format"):
        await export_to_file(store, ids, tmp_path / "x.pdf")
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name or p.suffix == ".pdf"]


async def test_export_to_file_writes_into_pipes_and_replaces_symlinks(store, tmp_path):
    import os
    import stat
    import threading

    from storage.transfer.export import export_to_file

    ids = await seed(store)
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    await export_to_file(store, ids[1:2], fifo)
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe: written into, not replaced
    assert got == [b"epoch 1\n" + b"x" * 150_000 + b"\ntail\n"]
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    await export_to_file(store, ids[1:2], link)
    # A link at the path is replaced, never written through (it may have been planted
    # by another user in a shared directory: storage/files.py).
    assert not link.is_symlink() and link.read_bytes().startswith(b"epoch 1\n")
    assert real.read_bytes() == b"old"


async def test_markdown_says_how_long_the_latest_run_took(store):
    # Two short runs an hour apart: the header's duration is the last run's, not the
    # hour since the first start (as the list, the toast and `show` count it).
    s = await store.sessions.create(["make"], "/", created_at=T0)
    await store.runs.start(s.id, at=T0)
    await store.runs.finish(s.id, exit_code=0, at=T0 + 2)
    await store.runs.start(s.id, at=T0 + 3600)
    await store.runs.finish(s.id, exit_code=0, at=T0 + 3605)
    md = (await export_doc(store, [s.id], "md")).decode()
    ended = next(line for line in md.splitlines() if line.startswith("- **Ended:**"))
    assert ended.endswith("(5s)"), ended
