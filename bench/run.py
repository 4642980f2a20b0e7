"""Run every benchmark, one after another, and write BENCHMARKS.md.

    .venv/bin/python bench/run.py            # the issues' full sizes; writes BENCHMARKS.md
    .venv/bin/python bench/run.py --quick    # small sizes, a few minutes: checks the harness
    .venv/bin/python bench/run.py --only search --only purge   # some of them
    .venv/bin/python bench/run.py --report-only  # the report again from bench/out/run.json

(``./dev bench`` does the same after setting up ``.venv``.)

The benchmarks (each a script in ``bench/`` that also runs on its own, see its docstring):

    storage_ingest   issue 2  ingest 200 MB of logs, beside plain sqlite3 executemany
    storage_search   issue 2  20 queries on that data, beside grep (and rg)
    capture          issue 3  a 200 MB producer under tether, beside /dev/null, tee, script -q
    tui              issue 4  first paint, a 10 M-line session, live latency; beside a bare
                              Textual app, Toolong and tail -f (in a real terminal, tmux)
    search           issue 5  150 queries over 1 GB in 500 sessions, beside grep and rg
    purge            issue 6  purge 1 GB in 200 sessions, beside deleting flat files
    transfer         issue 7  export and import of a 200 MB session, beside sqlite3 and cat

They run strictly one at a time (they would compete for the CPUs otherwise). Before a
full run, ``run.py`` waits until the 1-minute load average is below ``--max-load``
(polling every 30 s, at most ``--settle`` seconds; then it runs anyway and says so).
Each script is given ``--summary PATH`` and writes its figures as JSON rows
(``bench/figures.py``); its printed tables are kept too. Generated data is cached in
``bench/data/`` (git-ignored) and reused while it is what the current code would build
(``bench/cache.py``). Progress goes to the terminal, each script's output to
``bench/out/<name>.log``.

BENCHMARKS.md then holds: the machine (CPU model, cores, memory, load average before and
during the run, Python, SQLite and tool versions) and the date; a summary table of every
target (issue, figure, measured median with min-max and runs, reference, ratio, target,
met or missed); then one section per benchmark with how it measures, all its figures,
and its own printed table. ``--quick`` writes ``bench/out/BENCHMARKS-quick.md`` unless
``--output`` says otherwise: its small sizes are not the issues' figures.

Needs: the project's .venv, tmux (the TUI benchmark), ripgrep (``rg``, optional: without
it the rg columns are empty), ``script`` and ``tee`` (util-linux, coreutils); Toolong is
installed from PyPI into ``bench/out/toolong-venv`` on first use.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
DATA = HERE / "data"
PYTHON = ROOT / ".venv" / "bin" / "python"
sys.path.insert(0, str(HERE))

from figures import Figure, read_figures  # noqa: E402


@dataclass(frozen=True)
class Bench:
    name: str
    issue: int
    title: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    method: str


BENCHES = (
    Bench(
        "storage_ingest",
        2,
        "Storage ingest",
        ("--mb", "200", "--runs", "5"),
        ("--mb", "10", "--runs", "2"),
        "About 200 MiB (2 M lines) of generated logs (build, tests, access, service, traces, "
        "progress bars, ANSI colour; `bench/common.py`) in 6 sessions, cut into write "
        "transactions the way a supervisor flushes them (about 64 KiB, cut inside lines), "
        "appended through the public API (`store.output.append_many`) on a fresh database "
        "file each time. Timed: the appends (and for the deferred variant the indexing "
        "after them). Reference: the same bytes as rows of an `output_chunks`-shaped table "
        "inserted with plain `sqlite3` `executemany` in one transaction (WAL, "
        "synchronous=NORMAL), and the same plus an FTS5 insert. Each round runs every "
        "variant once; figures are medians over the rounds. MB/s are decimal megabytes of "
        "output per wall-clock second.",
    ),
    Bench(
        "storage_search",
        2,
        "Storage search",
        ("--mb", "200", "--runs", "5", "--tool-runs", "3"),
        ("--mb", "10", "--runs", "3", "--tool-runs", "2"),
        "On the ingest benchmark's (b) database: 20 queries (5 rare terms with known counts, "
        "5 common terms, 5 phrases, 5 prefixes), each returning the newest 50 matching lines "
        "with 100-character snippets through the query engine "
        "(`storage.search_engine.search`, counts off), and the 10 word queries through "
        "`store.search`. Each query is run once to warm up, then timed `--runs` times; the "
        "figure is the p95 over the 20 queries of one run, median over the runs. Reference: "
        "`grep -c -F -i` over the same output as one text file (page cache warm), timed the "
        "same way. grep counts every matching line of the file; tether returns the newest "
        "50 with snippets: related work, not identical.",
    ),
    Bench(
        "capture",
        3,
        "Capture",
        ("--mb", "200", "--runs", "5"),
        ("--mb", "10", "--runs", "2"),
        "A Python producer writes 200 MB (seq-like numbers, then log-like lines) in 64 KiB "
        "writes from memory and times itself, first write to last. It runs (a) into "
        "/dev/null, (b) through `tee` to a file, (c) under `script -q` to a file (a "
        "terminal), (d) as a tether session, pipe mode and pty mode (`tether run`). For "
        "tether, from the producer's last write: readable = until `tether logs --tail 2` "
        "(a whole CLI process per poll, about every 20 ms) shows the last line; searchable = "
        "until a search finds the last line and nothing of the session is left unindexed. "
        "Each round runs every mode once; figures are medians over the rounds. The issue's "
        "1.5x target is for the pipe session beside tee; the pty session is shown beside "
        "`script -q`, the terminal equivalent.",
    ),
    Bench(
        "tui",
        4,
        "TUI",
        (
            *("--sessions", "10000", "--lines", "10000000", "--runs", "6"),
            *("--ticks", "150", "--latency-runs", "3"),
        ),
        (
            *("--sessions", "300", "--lines", "200000", "--runs", "2"),
            *("--ticks", "20", "--latency-runs", "2"),
        ),
        "Everything in a real terminal: a 120x36 tmux pane polled with `capture-pane` about "
        "every 5 ms; a time is the midpoint of the poll that first showed the awaited text "
        "and the one before. (a) From launching `tether` (10 000 sessions in the database) "
        "to the first session rows on screen, beside a bare Textual app showing a 10-row "
        "DataTable, alternated, `--runs` times after one warm-up. (b) A 10 M-line session built "
        "through the storage API: from pressing `o` on it in the list to its last line on "
        "screen, beside `o` on a 10-line session in the same database; a cold start that "
        "opens on that session (restored state) until its last line shows, beside Toolong "
        "(1.5.0, its own venv) opening the same lines as a file; peak RSS (VmHWM) after "
        "paging around (PageUp x20, Home, PageDown x10, End), beside Toolong's. `--runs`/2 "
        "rounds after a warm-up round; a try in which the end is never shown (15 s for `o`, 60 s "
        "cold) is counted as a failure, not timed. (c) A real session prints `tick N "
        "<time>` at random 30-150 ms intervals while tether shows its output; latency = "
        "when the tick is first seen minus the time in it; reference: the same printer "
        "into a file under `tail -f` in the same pane. 150 ticks per run; the figure is "
        "the p95 of one run, median over the runs.",
    ),
    Bench(
        "search",
        5,
        "Search",
        ("--mb", "1024", "--sessions", "500", "--runs", "5"),
        ("--mb", "20", "--sessions", "20", "--runs", "2"),
        "1 GiB of generated logs (Zipf vocabulary, six kinds of session; "
        "`bench/search_corpus.py`) in 500 sessions, stored through the storage API. "
        "30 queries of each of five kinds (rare words and request ids, common words, "
        "phrases, prefixes, words with filters), each timed once per pass as tether runs "
        "it (`storage.search_engine.search`, first page of 50): newest first with "
        "per-session counts (what `tether search` prints), newest first without counts (what "
        "the search screen shows first; counts follow), and ranked. Figures: the p95 of "
        "the worst kind in one pass, median over the passes. References, once per query: "
        "`grep -F -c -r` and `rg -F -c` over the same ANSI-stripped text as one file per "
        "session (page cache warm); for a query with filters they get its word alone. "
        "grep and rg count lines holding a case-sensitive substring; tether matches whole "
        "tokens case-insensitively and returns the hits. tether is timed in-process (a "
        "library call), grep and rg as processes. Two limits of the engine shape these "
        "figures (both documented in `storage/search_engine.py` and flagged in its "
        "results): per-session counts read at most 4 MiB of chunks per page (past that a "
        "count is a lower bound), and ranking scores at most the newest 3000 matching "
        "chunks.",
    ),
    Bench(
        "purge",
        6,
        "Purge",
        (
            *("--mb", "1024", "--sessions", "200", "--runs", "5"),
            *("--dir", str(DATA / "purge-1024mb-200s"), "--reuse"),
        ),
        (
            *("--mb", "40", "--sessions", "20", "--keep", "4", "--keep-mb", "5", "--runs", "2"),
            *("--dir", str(DATA / "purge-40mb-20s"), "--reuse"),
        ),
        "A database built through the storage API with 1 GiB of indexed output in 200 "
        "sessions plus 50 MiB in 20 sessions that stay. Timed: "
        "`storage.purge.purge_sessions` of the 200 (it picks its strategy) plus reclaiming "
        "the space, on a fresh copy of the database each run. Reference: the same output "
        "as one flat file per session, deleted with `unlink`, then `sync`. Shrink = how "
        "much the database file (with its WAL) shrank, as a share of the purged output "
        "bytes (it can exceed 100%: the index goes too). Medians over the runs.",
    ),
    Bench(
        "transfer",
        7,
        "Export and import",
        ("--mb", "200", "--runs", "3"),
        ("--mb", "10", "--runs", "2"),
        "One 200 MB session (indexed, one secret in every 1 MB block). Each step runs in "
        "its own Python process so its peak RSS is its own: export in each format (json "
        "with and without redaction, txt, md, jsonl) and import of the json export into a "
        "fresh database. References: reading the same chunks with the `sqlite3` module and "
        "writing them to a file, and `cat` of a flat log of the same bytes. MB/s of session "
        "output, medians over the runs. Issue 7 sets no target.",
    ),
)


@dataclass
class Result:
    bench: Bench
    argv: list[str]
    seconds: float = 0.0
    code: int | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


# -- running ------------------------------------------------------------------------------
def settle(max_load: float, timeout: float, poll: float = 30.0) -> tuple[float, bool]:
    """Wait until the 1-minute load average is below ``max_load``; (waited s, settled)."""
    start = time.monotonic()
    while True:
        load = os.getloadavg()
        waited = time.monotonic() - start
        if load[0] < max_load:
            return waited, True
        if waited >= timeout:
            print(f"load average still {load[0]:.2f} after {waited / 60:.0f} min: running anyway")
            return waited, False
        print(
            f"waiting for the load average to fall below {max_load}: "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({waited / 60:.1f} min so far)",
            flush=True,
        )
        time.sleep(poll)


def run_one(bench: Bench, quick: bool) -> Result:
    summary = OUT / f"summary-{bench.name}.json"
    summary.unlink(missing_ok=True)
    args = list(bench.quick if quick else bench.full)
    argv = [str(PYTHON), str(HERE / f"{bench.name}.py"), *args, "--summary", str(summary)]
    result = Result(bench, argv, load_before=os.getloadavg())
    print(f"\n== {bench.name} (issue {bench.issue}): {' '.join(args)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )

    def pump(stream, sink: list[str], prefix: str) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))
            print(f"  {prefix}{line.rstrip()}", flush=True)

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, result.stdout, "")),
        threading.Thread(target=pump, args=(proc.stderr, result.stderr, "! ")),
    ]
    for t in threads:
        t.start()
    result.code = proc.wait()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - start
    result.load_after = os.getloadavg()
    (OUT / f"{bench.name}.log").write_text(
        "\n".join(result.stdout) + "\n--- stderr ---\n" + "\n".join(result.stderr) + "\n"
    )
    if summary.exists():
        result.figures = read_figures(summary)
    state = "done" if result.code == 0 else f"FAILED (exit {result.code})"
    print(f"== {bench.name} {state} in {result.seconds / 60:.1f} min", flush=True)
    return result


# -- the machine --------------------------------------------------------------------------
def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine() -> dict[str, str]:
    info: dict[str, str] = {}
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["CPU"] = f"{cpu}, {os.cpu_count()} cores"
    try:
        kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        info["memory"] = f"{kb / 1024**2:.1f} GiB"
    except (OSError, StopIteration):
        info["memory"] = "unknown"
    info["system"] = platform.platform()
    versions = subprocess.run(
        [
            str(PYTHON),
            "-c",
            "import sqlite3, sys, importlib.metadata as m; "
            "print(sys.version.split()[0], sqlite3.sqlite_version, m.version('textual'))",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    if len(versions) == 3:
        info["Python"], info["SQLite"], info["Textual"] = versions
    else:
        info["Python"], info["SQLite"] = platform.python_version(), sqlite3.sqlite_version
    info["grep"] = _first_line(["grep", "--version"])
    info["ripgrep"] = _first_line(["rg", "--version"])
    info["tmux"] = _first_line(["tmux", "-V"])
    info["script"] = _first_line(["script", "--version"])
    toolong = OUT / "toolong-venv" / "bin" / "python"
    if toolong.exists():
        info["Toolong"] = _first_line(
            [
                str(toolong),
                "-c",
                "import importlib.metadata as m; "
                "print(m.version('toolong'), 'with textual', m.version('textual'))",
            ]
        )
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    info["commit"] = commit + (" (with uncommitted changes in the tree)" if dirty else "")
    return info


# -- the report ---------------------------------------------------------------------------
def num(x: float | None) -> str:
    if x is None or x != x:
        return "-"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def measured(f: Figure) -> str:
    if f.runs == 0:
        return "not measured"
    spread = f" ({num(f.min)}-{num(f.max)}, {f.runs} runs)" if f.runs > 1 else " (1 run)"
    return f"**{num(f.value)} {f.unit}**{spread}"


def reference(f: Figure) -> str:
    if f.reference_name is None:
        return "-"
    return f"{num(f.reference_value)} {f.unit} ({f.reference_name})"


def verdict(f: Figure) -> str:
    if f.target is None:
        return ""
    if f.met is None:
        return "not measured"
    return "met" if f.met else "**MISSED**"


def ratio(f: Figure) -> str:
    if f.ratio is None:
        return "-"
    if f.unit in ("ms", "s") and 0 < f.ratio < 0.9:  # a time: say how many times faster
        return f"{f.ratio:.2f}x ({1 / f.ratio:.1f}x faster)"
    return f"{f.ratio:.2f}x"


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def figure_table(figures: list[Figure], with_issue: bool) -> list[str]:
    head = ["figure", "measured: median (min-max, runs)", "reference", "ratio", "target"]
    head += ["result"]
    if with_issue:
        head = ["issue", *head]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in figures:
        row = [f.figure, measured(f), reference(f), ratio(f), f.target or "-", verdict(f)]
        if with_issue:
            row = [str(f.issue), *row]
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return lines


def load_text(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def write_report(
    path: Path,
    results: list[Result],
    info: dict[str, str],
    started: dt.datetime,
    seconds: float,
    load_before: tuple[float, float, float],
    settled: tuple[float, bool],
    quick: bool,
    load_after: tuple[float, float, float],
) -> None:
    info = dict(info)
    out: list[str] = ["# Benchmarks", ""]
    cmd = "bench/run.py" + (" --quick" if quick else "")
    out.append(
        f"Measured by `.venv/bin/python {cmd}` on {started:%Y-%m-%d} from "
        f"{started:%H:%M} UTC, in {seconds / 60:.1f} minutes, at commit {info.pop('commit')}."
    )
    if quick:
        out += ["", "**Quick run: small sizes to check the harness, not the issues' figures.**"]
    out += ["", "## Machine", ""]
    for key, value in info.items():
        out.append(f"- {key}: {value}")
    waited, ok = settled
    wait_note = (
        f"after waiting {waited / 60:.0f} min for it to settle below the threshold"
        if ok and waited >= 1
        else ("(it never settled below the threshold; the run went ahead)" if not ok else "")
    )
    out.append(
        f"- load average (1, 5, 15 min) before the run: {load_text(load_before)} {wait_note}"
    )
    out.append(f"- load average after the run: {load_text(load_after)}")
    out.append(
        "- during the run: per benchmark below (a load average taken just after a "
        "benchmark counts its own processes too). The machine was shared: other work "
        "running at the same time slows wall-clock figures, tether's and the references' "
        "alike (they are measured in the same rounds)."
    )
    out += [
        "",
        "How to read: every figure is a median over runs (min-max and the number of runs "
        "beside it); the reference is measured in the same run; ratio = measured / "
        "reference. A target is checked against the median.",
        "",
    ]
    every = [f for r in results for f in r.figures]
    targets = [f for f in every if f.target is not None]
    met = sum(1 for f in targets if f.met)
    missed = [f for f in targets if f.met is False]
    unknown = [f for f in targets if f.met is None]
    out += ["## Summary: every target", ""]
    out += figure_table(targets, with_issue=True)
    out.append("")
    line = f"{met} of {len(targets)} targets met"
    if missed:
        line += f"; missed: {', '.join(f.figure for f in missed)}"
    if unknown:
        line += f"; not measured: {', '.join(f.figure for f in unknown)}"
    out.append(line + ".")
    failed = [r for r in results if r.code != 0]
    if failed:
        out += ["", "Benchmarks that failed (their figures are missing or partial): "]
        out[-1] += ", ".join(f"`{r.bench.name}` (exit {r.code})" for r in failed)
    for r in results:
        b = r.bench
        out += ["", f"## Issue {b.issue}: {b.title} (`bench/{b.name}.py`)", ""]
        out.append(f"Method: {b.method}")
        out.append("")
        args = " ".join(r.argv[2:-2])
        out.append(
            f"Run: `{b.name}.py {args}`, {r.seconds / 60:.1f} min, exit {r.code}; load "
            f"average before {load_text(r.load_before)}, after {load_text(r.load_after)}."
        )
        if r.figures:
            out += ["", *figure_table(r.figures, with_issue=False)]
        else:
            out += ["", "No figures: the benchmark did not finish."]
        out += ["", "Its output:", "", "```text", *_printed(r), "```"]
        if r.code != 0 and r.stderr:
            out += ["", "The end of its error output:", "", "```text", *r.stderr[-15:], "```"]
    path.write_text("\n".join(out) + "\n")


def _printed(r: Result) -> list[str]:
    # Progress lines of corpus builds are not part of the results.
    return [
        line
        for line in r.stdout
        if not line.startswith(("  00:", "building", "  built"))
        and not (line.startswith("  ") and "sessions," in line and "MB/s" in line)
    ]


def save_run(run: dict) -> dict:
    """The run as JSON, so that ``--report-only`` can write the report again."""
    out = dict(run)
    out["started"] = run["started"].isoformat()
    out["info"] = dict(run["info"])
    out["results"] = [
        {
            "name": r.bench.name,
            "argv": r.argv,
            "seconds": r.seconds,
            "code": r.code,
            "load_before": r.load_before,
            "load_after": r.load_after,
            "stdout": r.stdout,
            "stderr": r.stderr,
            "figures": [dataclasses.asdict(f) for f in r.figures],
        }
        for r in run["results"]
    ]
    return out


def load_run(saved: dict) -> dict:
    by_name = {b.name: b for b in BENCHES}
    run = dict(saved)
    run["started"] = dt.datetime.fromisoformat(saved["started"])
    run["settled"] = tuple(saved["settled"])
    run["load_before"] = tuple(saved["load_before"])
    run["load_after"] = tuple(saved["load_after"])
    run["results"] = [
        Result(
            by_name[r["name"]],
            r["argv"],
            seconds=r["seconds"],
            code=r["code"],
            load_before=tuple(r["load_before"]),
            load_after=tuple(r["load_after"]),
            stdout=r["stdout"],
            stderr=r["stderr"],
            figures=[Figure(**f) for f in r["figures"]],
        )
        for r in saved["results"]
    ]
    return run


# -- main ---------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes: a check of the harness")
    names = [b.name for b in BENCHES]
    ap.add_argument("--only", action="append", choices=names, help="run only these")
    ap.add_argument("--output", type=Path, help="the report (default BENCHMARKS.md)")
    ap.add_argument("--max-load", type=float, default=1.5, help="wait for a load below (1.5)")
    ap.add_argument("--settle", type=float, default=1500, help="wait at most, seconds (1500)")
    ap.add_argument("--no-wait", action="store_true", help="do not wait for the load")
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="write the report again from the last run's bench/out/run.json (no benchmarks)",
    )
    args = ap.parse_args()
    if args.report_only:
        saved = json.loads((OUT / "run.json").read_text())
        args.quick = saved["quick"]
    output = args.output or (OUT / "BENCHMARKS-quick.md" if args.quick else ROOT / "BENCHMARKS.md")
    if args.report_only:
        write_report(output, **load_run(saved))
        print(f"wrote {output} from {OUT / 'run.json'}")
        return 0
    if not PYTHON.exists():
        sys.exit(f"{PYTHON} is missing: run ./dev test (or ./dev bench) once to set up .venv")
    for tool in ("tmux", "rg", "script", "tee", "grep"):
        if not shutil.which(tool):
            print(f"warning: {tool} is not installed; the benchmarks that use it will say so")
    OUT.mkdir(parents=True, exist_ok=True)
    DATA.mkdir(parents=True, exist_ok=True)
    benches = [b for b in BENCHES if not args.only or b.name in args.only]

    settled = (0.0, True)
    if not args.no_wait and not args.quick:
        settled = settle(args.max_load, args.settle)
    load_before = os.getloadavg()
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    print(f"load average {load_text(load_before)}; {len(benches)} benchmarks", flush=True)
    results = []
    for n, bench in enumerate(benches, 1):
        print(f"\n[{n}/{len(benches)}] {time.perf_counter() - t0:.0f} s so far", flush=True)
        results.append(run_one(bench, args.quick))
    seconds = time.perf_counter() - t0
    load_after = os.getloadavg()
    info = machine()
    run = {
        "results": results,
        "info": info,
        "started": started,
        "seconds": seconds,
        "load_before": load_before,
        "settled": settled,
        "quick": args.quick,
        "load_after": load_after,
    }
    (OUT / "run.json").write_text(json.dumps(save_run(run), indent=1) + "\n")
    write_report(output, **run)
    targets = [f for r in results for f in r.figures if f.target is not None]
    print(f"\nall done in {seconds / 60:.1f} min; wrote {output}")
    for f in targets:
        print(f"  {'met   ' if f.met else 'MISSED' if f.met is False else '?     '} {f.figure}")
    return 0 if all(r.code == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
