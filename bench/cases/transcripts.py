"""Agent transcripts: re-checking 10 000 unchanged transcripts, beside a bare stat loop.

    .venv/bin/python bench/cases/transcripts.py --files 10000 --runs 7

Builds (once; reused while valid, see ``bench/harness/cache.py``) ``--files`` Claude
Code transcripts in its on-disk layout (``projects/<cwd slug>/<id>.jsonl``, 100 projects;
each the recorded-format fixture of tests/fixtures/agents/transcripts with its own
session id, about 4 KB), imports them through the product (``import_transcripts``: a
session each, every transcript read and indexed; timed once, when built), then times:

- ``re-check``: ``agents.transcripts.index.sync`` with nothing changed (what ``tether
  search`` and the TUI's search screen do first): the known files from the database,
  one ``os.stat`` each, nothing read (checked: the files read must be 0);
- ``re-check, reader``: its reading half (``plan``) on the read-only ``Reader`` that
  ``tether search`` uses, so no store is opened when nothing changed;
- ``one appended line``: a prompt appended to one transcript, then ``sync`` (it reads
  that line only: the bytes read are checked).

Reference, in the same run: a bare ``os.stat`` loop over the same paths (page cache
warm, as for tether). Target (issue 16): 10 000 unchanged transcripts re-checked in <= 1 s.
Figures are medians over ``--runs``; no asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agents.kinds import cwd_slug  # noqa: E402
from agents.transcripts.importing import find_files, import_transcripts  # noqa: E402
from agents.transcripts.index import plan, sync  # noqa: E402
from bench.harness import cache, tables  # noqa: E402
from bench.harness.figures import figure, write_figures  # noqa: E402
from bench.harness.paths import DATA  # noqa: E402
from storage import open_store  # noqa: E402
from storage.engine.reader import open_reader  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "agents" / "transcripts" / "claude-session.jsonl"
FIXTURE_ID = "7f9c2b1e-4a3d-4e8f-9b6a-2c1d0e5f8a7b"
FIXTURE_CWD = "/home/ada/src/shop"


def write_transcripts(home: Path, count: int) -> list[Path]:
    """``count`` transcripts in Claude Code's layout, each its own conversation."""
    text = FIXTURE.read_text()
    paths = []
    for i in range(count):
        cwd = f"/home/dev/src/project-{i % 100}"
        native = f"{i:08x}-0000-4000-8000-{i:012x}"
        folder = home / "projects" / cwd_slug(cwd)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{native}.jsonl"
        path.write_text(
            text.replace(FIXTURE_ID, native).replace(json.dumps(FIXTURE_CWD)[1:-1], cwd)
        )
        paths.append(path)
    return paths


async def build(home: Path, db: Path, count: int) -> float:
    """The transcripts and the database that indexed them; seconds the import took."""
    write_transcripts(home / "claude", count)
    env = {"CLAUDE_CONFIG_DIR": str(home / "claude")}
    files = find_files("claude", None, env)
    start = time.perf_counter()
    async with open_store(db) as store:
        report = await import_transcripts(store, "claude", files, env)
    took = time.perf_counter() - start
    if len(report.imported) != count:
        raise SystemExit(f"imported {len(report.imported)} of {count} transcripts")
    return took


def stat_loop(paths: list[str]) -> int:
    n = 0
    for p in paths:
        os.stat(p)
        n += 1
    return n


async def main_async(args: argparse.Namespace) -> None:
    home = args.dir / f"transcripts-{args.files}"
    db, marker = home / "tether.db", home / "READY"
    want = cache.stamp(build, write_transcripts, FIXTURE.read_text(), str(args.files))
    if not cache.valid(marker, db, want):
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        took = await build(home, db, args.files)
        cache.mark(marker, want, f"{took:.3f}")
        print(f"built and imported {args.files:,} transcripts in {took:.1f} s")
    first_index = float(cache.extra(marker)[0])
    times: dict[str, list[float]] = {k: [] for k in ("sync", "reader", "append", "stat")}
    async with open_store(db) as store:
        paths = [f.path for f in await _files(store)]
        size = sum(os.path.getsize(p) for p in paths)
        print(f"data: {len(paths):,} transcripts, {size / 1e6:.1f} MB, {db}")
        await sync(store)  # warm-up; also takes any line a previous run appended
        for run in range(args.runs):
            start = time.perf_counter()
            report = await sync(store)
            times["sync"].append(time.perf_counter() - start)
            if report.read or report.checked != len(paths):
                raise SystemExit(f"an unchanged re-check read files: {report}")

            with open_reader(db) as reader:
                start = time.perf_counter()
                work = reader.run(plan(reader))
                times["reader"].append(time.perf_counter() - start)
            if work:
                raise SystemExit(f"the reader found work in unchanged files: {work}")

            start = time.perf_counter()
            stat_loop(paths)
            times["stat"].append(time.perf_counter() - start)

            line = _prompt(paths[run % len(paths)], run)
            with open(paths[run % len(paths)], "a") as f:
                f.write(line)
            start = time.perf_counter()
            report = await sync(store)
            times["append"].append(time.perf_counter() - start)
            if (report.read, report.bytes_read, report.entries) != (1, len(line.encode()), 1):
                raise SystemExit(f"one appended line: {report}")
    rows = [
        ("re-check (sync, nothing changed)", *_spread(times["sync"])),
        ("re-check, its read-only half (plan on a Reader)", *_spread(times["reader"])),
        ("one appended line among them (sync)", *_spread(times["append"])),
        ("reference: bare os.stat loop", *_spread(times["stat"])),
    ]
    print()
    print(tables.table(["10 000 transcripts" if args.files == 10_000 else "", "median ms",
                        "min ms", "max ms"], rows))  # fmt: skip
    print(f"first import and index of all of them (when built): {first_index:.1f} s")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    ref = ("bare os.stat loop over the same files", [v * 1000 for v in times["stat"]])
    write_figures(
        args.summary,
        [
            figure(
                16,
                f"{args.files:,} unchanged transcripts re-checked (sync)",
                [v * 1000 for v in times["sync"]],
                "ms",
                reference=ref,
                target="<= 1 s",
                met=lambda v, ratio: v <= 1000,
            ),
            figure(
                16,
                "the same, read-only (what tether search does when nothing changed)",
                [v * 1000 for v in times["reader"]],
                "ms",
                reference=ref,
                target="<= 1 s",
                met=lambda v, ratio: v <= 1000,
            ),
            figure(
                16,
                "one appended line among them",
                [v * 1000 for v in times["append"]],
                "ms",
                reference=ref,
            ),
        ],
    )


def _spread(values: list[float]) -> tuple[float, float, float]:
    ms = [v * 1000 for v in values]
    return statistics.median(ms), min(ms), max(ms)


def _prompt(path: str, run: int) -> str:
    native = Path(path).stem
    entry = {
        "type": "user",
        "message": {"role": "user", "content": f"benchmark prompt {run}"},
        "sessionId": native,
        "cwd": "/home/dev/src",
        "timestamp": "2026-11-20T10:00:00.000Z",
    }
    return json.dumps(entry) + "\n"


async def _files(store):
    from storage.engine.transcripts import Transcripts

    return await Transcripts(store).files()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000, help="transcripts (10000)")
    ap.add_argument("--runs", type=int, default=7, help="timed runs (7)")
    ap.add_argument("--dir", type=Path, default=DATA)
    ap.add_argument(
        "--summary", type=Path, help="write the figures as JSON (bench/harness/figures.py)"
    )
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
