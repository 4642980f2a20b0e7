"""Pty index benchmark (issue 14): what not indexing pty sessions' raw stdout buys.

    .venv/bin/python bench/cases/pty_index.py            # 4 sessions x 8 MB
    .venv/bin/python bench/cases/pty_index.py --mb 4     # a quick run

A pty-heavy corpus: ``--sessions`` agent-like pty sessions (``screens.agent_stream``:
the recorded agents and full-screen programs drawn in place between runs of text that
scroll; 100x30), written as supervisors write them (``append_many`` unindexed in 64 KiB
reads, then ``index_pending``) and their rendered transcript stored (what the
supervisor's screen keeper stores as it runs: ``render_session`` here). Two databases:

- **v14 way**: the raw stdout indexed too (the sessions written as pipe sessions, then
  made pty: the tokenizing a v14 supervisor did), then the transcript.
- **v15 way**: the raw stdout marked, not indexed (this checkout), then the transcript.

Then both are merged and tidied as an idle supervisor does, and checkpointed. Measured:
the file, the output index (``output_words``), the transcript's index
(``rendered_words``) and chunks, per raw byte (``dbstat``); the index step's time; a
search of a phrase seen on the screens; beside ``zstd -3`` of the raw bytes and
``grep -c`` of the phrase over them. And the upgrade of the v14 way database: the
v15 migration's statement, and dropping the raw entries (``drop_raw_step``) and
building transcripts (``render_pending``) of sessions without one, in MB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.cases import logs  # noqa: E402
from bench.cases.screens import agent_stream  # noqa: E402
from bench.harness.figures import figure, write_figures  # noqa: E402

MB = 1024 * 1024
SPINNER = "\u273b Thinking\u2026 (%ds \u00b7 \u2191 %d.%dk tokens \u00b7 esc to interrupt)"


def agent_prose(megabytes: float, seed: int = 7) -> bytes:
    """Varied text as an agent draws it: realistic log lines (``logs.generate``: build,
    test, server, training output) with its words apart by cursor moves (as claude and
    codex draw them: ``Welcome``, ``ESC[1C``, ``to``), a status line redrawn in place
    between them. Unlike ``agent_stream`` (a unit repeated), its words vary."""
    out, size = [], 0
    target = int(megabytes * 1_000_000)
    for n, (_kind, _stream, line) in enumerate(logs.generate(target * 2, seed)):
        text = line.rstrip(b"\n").replace(b" ", b"\x1b[1C")
        status = (SPINNER % (n % 600, n % 90, n % 10)).encode()
        piece = b"\x1b[2K\r" + text + b"\r\n\x1b[2K\x1b[1m" + status + b"\x1b[0m\r"
        out.append(piece)
        size += len(piece)
        if size >= target:
            break
    return b"".join(out)


# Searched: words on rows drawn, then scrolled off (a phrase in the stream corpus; in the
# prose one a word, as grep finds it in the raw bytes too, where its neighbours are glued).
PHRASE = {"stream": "read src/module_3.py", "prose": "KeyError"}


async def _sql(store, *statements: str) -> None:
    async with store.transaction() as db:
        for sql in statements:
            await db.execute(sql)


async def write(path: Path, datas: list[bytes], *, v14: bool) -> dict[str, float]:
    from runner.screen.render import render_session
    from runner.screen.state import size_line
    from storage import open_store

    out: dict[str, float] = {}
    async with open_store(path) as store:
        ids = []
        for n in range(len(datas)):
            mode = "pipe" if v14 else "pty"
            s = await store.sessions.create(["agent", str(n)], cwd="/", mode=mode)
            await store.runs.start(s.id)
            await store.output.append(s.id, "system", size_line(100, 30))
            ids.append(s.id)
        t = time.perf_counter()
        index_s = 0.0
        for i in range(0, max(map(len, datas)), 64 * 1024):  # round-robin: concurrent sessions
            pieces = [d[i : i + 64 * 1024] for d in datas]
            records = [(sid, "stdout", d, None) for sid, d in zip(ids, pieces, strict=True)]
            await store.output.append_many([r for r in records if r[2]], index=False)
            if (i // (64 * 1024)) % 16 == 15:
                t0 = time.perf_counter()
                while await store.output.index_pending(max_bytes=4 * MB, merge=False):
                    pass
                index_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        while await store.output.index_pending(max_bytes=4 * MB, merge=False):
            pass
        index_s += time.perf_counter() - t0
        out["write_s"] = time.perf_counter() - t
        out["index_s"] = index_s
        for sid in ids:
            await store.runs.finish(sid, exit_code=0)
        if v14:
            await _sql(
                store,
                "UPDATE sessions SET mode = 'pty'",
                "INSERT INTO pty_raw_index (session_id) SELECT id FROM sessions",
            )
        t = time.perf_counter()
        for sid in ids:
            await render_session(store, sid)
        out["render_s"] = time.perf_counter() - t
        t = time.perf_counter()
        while await store.output.tidy_index():
            pass
        if not v14:  # (the v14 way's raw entries stay: what a v14 database holds)
            while await store.output.upkeep():
                pass
        out["tidy_s"] = time.perf_counter() - t
    _checkpoint(path)
    return out


def _checkpoint(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def sizes(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        rows = dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    finally:
        db.close()

    def share(*prefixes: str) -> int:
        return sum(v for k, v in rows.items() if k.startswith(prefixes))

    return {
        "file": path.stat().st_size,
        "output index": share("output_words", "output_fts"),
        "rendered index": share("rendered_words"),
        "transcript": share("rendered_chunks"),
        "chunks": share("output_chunks"),
    }


async def search_ms(path: Path, phrase: str, rounds: int = 5) -> tuple[float, int]:
    from storage import open_store
    from storage.engine.search import search
    from storage.query import parse

    took, hits = [], 0
    async with open_store(path) as store:
        for _ in range(rounds):
            t = time.perf_counter()
            r = await search(store, parse(f'"{phrase}"'), limit=50)
            took.append((time.perf_counter() - t) * 1000)
            hits = len(r.hits)
    return sorted(took)[len(took) // 2], hits


async def upgrade(path: Path) -> dict[str, float]:
    """The v14 way database upgraded: the migration's statement, then the raw entries of
    sessions whose transcript is built dropped; then, transcripts forgotten, built again
    by render_pending (the lazy path of a database from before screens were stored)."""
    from runner.screen.render import render_pending
    from storage import open_store
    from storage.engine import schema
    from storage.engine.output_index import drop_raw_step

    out: dict[str, float] = {}
    async with open_store(path) as store:
        await _sql(store, "DELETE FROM pty_raw_index")
        t = time.perf_counter()
        await _sql(store, schema.MIGRATIONS[14][1])
        out["migration_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        steps = 0
        while await drop_raw_step(store):
            steps += 1
        out["drop_s"] = time.perf_counter() - t
        out["drop_steps"] = steps
        # As a database from before screens: no transcript, raw entries (put back).
        await _sql(
            store,
            "DELETE FROM screen_renders",
            "INSERT INTO pty_raw_index (session_id) SELECT id FROM sessions",
        )
        t = time.perf_counter()
        out["rendered"] = await render_pending(store)
        out["render_pending_s"] = time.perf_counter() - t
    return out


def reference(cmd: list[str], raw: Path) -> tuple[float, bytes]:
    t = time.perf_counter()
    with open(raw, "rb") as f:
        done = subprocess.run(cmd, stdin=f, capture_output=True, check=False)
    return (time.perf_counter() - t) * 1000, done.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=8, help="MB of output per session")
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument(
        "--corpus",
        choices=("prose", "stream"),
        default="prose",
        help="prose: varied log text drawn as an agent draws it; stream: screens.agent_stream",
    )
    ap.add_argument("--summary", help="write figures as JSON here")
    args = ap.parse_args()
    from runner.screen import open_screen

    open_screen(100, 30).feed(b"warm")  # the emulator's library loaded before any timing
    import runner.screen.render  # noqa: F401  (and the code both ways run: not timed)
    import storage.engine.search.core  # noqa: F401

    if args.corpus == "prose":
        datas = [agent_prose(args.mb, 7 + n) for n in range(args.sessions)]
    else:
        datas = [agent_stream(args.mb)] * args.sessions
    total = sum(map(len, datas))
    load = os.getloadavg()
    print(
        f"pty index ({args.corpus}): {args.sessions} pty sessions x {args.mb:g} MB "
        f"({total / 1e6:.1f} MB raw); load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="tether-ptyidx-") as tmp:
        raw = Path(tmp) / "raw.bin"
        raw.write_bytes(b"".join(datas))
        zstd = len(reference(["zstd", "-3", "-c", "-q"], raw)[1])
        phrase = PHRASE[args.corpus]
        grep_ms, grep_out = reference(["grep", "-c", "-F", phrase], raw)
        found: dict[str, dict] = {}
        for way in ("v14", "v15"):
            path = Path(tmp) / f"{way}.db"
            times = asyncio.run(write(path, datas, v14=way == "v14"))
            ms, hits = asyncio.run(search_ms(path, phrase))
            found[way] = {**times, **sizes(path), "search_ms": ms, "hits": hits}
        print(
            f"{'':6} {'file':>7} {'out idx':>8} {'rend idx':>8} {'transcr':>8} {'chunks':>7} "
            f"{'index s':>8} {'render s':>8} {'search ms':>9} {'hits':>5}"
        )
        for way, f in found.items():
            print(
                f"{way:6} {f['file'] / total:6.3f}x {f['output index'] / total:7.3f}x "
                f"{f['rendered index'] / total:7.3f}x {f['transcript'] / total:7.3f}x "
                f"{f['chunks'] / total:6.3f}x {f['index_s']:8.2f} {f['render_s']:8.2f} "
                f"{f['search_ms']:9.1f} {f['hits']:5}"
            )
        print(
            f"{'refs':6} zstd -3 {zstd / total:.3f}x; grep -c -F '{phrase}' {grep_ms:.0f} ms "
            f"({int(grep_out or 0)} lines)"
        )
        up = asyncio.run(upgrade(Path(tmp) / "v14.db"))
        print(
            f"upgrade of the v14 way database: migration statement {up['migration_ms']:.1f} ms; "
            f"raw entries dropped in {up['drop_s']:.2f} s ({total / 1e6 / up['drop_s']:.0f} MB/s, "
            f"{up['drop_steps']:.0f} steps); {up['rendered']:.0f} transcripts built by "
            f"render_pending in {up['render_pending_s']:.2f} s "
            f"({total / 1e6 / up['render_pending_s']:.1f} MB/s)"
        )
        print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        v14, v15 = found["v14"], found["v15"]
        rows_out += [
            figure(14, "pty corpus: output index / raw, v15 (raw stdout not indexed)",
                   [v15["output index"] / total], "x",
                   reference=("the v14 way (raw stdout indexed)", [v14["output index"] / total])),
            figure(14, "pty corpus: file / raw, v15", [v15["file"] / total], "x",
                   reference=("the v14 way", [v14["file"] / total])),
            figure(14, "pty corpus: file / raw, v15, beside zstd -3", [v15["file"] / total], "x",
                   reference=("zstd -3 of the raw bytes", [zstd / total])),
            figure(14, "pty corpus: rendered index / raw", [v15["rendered index"] / total], "x"),
            figure(14, "pty corpus: index step time, v15", [v15["index_s"]], "s",
                   reference=("the v14 way", [v14["index_s"]])),
            figure(14, "pty corpus: phrase search, v15", [v15["search_ms"]], "ms",
                   reference=("grep -c -F over the raw bytes", [grep_ms])),
            figure(14, "upgrade: raw entries dropped", [total / 1e6 / up["drop_s"]], "MB/s"),
            figure(14, "upgrade: transcripts built (render_pending)",
                   [total / 1e6 / up["render_pending_s"]], "MB/s"),
        ]  # fmt: skip
    write_figures(args.summary, rows_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
