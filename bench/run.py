"""Run every benchmark, one after another, and write BENCHMARKS.md.

    .venv/bin/python bench/run.py            # the issues' full sizes; writes BENCHMARKS.md
    .venv/bin/python bench/run.py --quick    # small sizes, a few minutes: checks the harness
    .venv/bin/python bench/run.py --only search --only purge   # some of them
    .venv/bin/python bench/run.py --report-only  # the report again from bench/out/run.json

(``./dev bench`` does the same after setting up ``.venv``.)

The benchmarks (each a script in ``bench/cases/`` that also runs on its own, see its
docstring; the harness that runs them and writes the report is ``bench/harness/``):

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
(``bench/harness/figures.py``); its printed tables are kept too. Generated data is cached in
``bench/data/`` (git-ignored) and reused while it is what the current code would build
(``bench/harness/cache.py``). Progress goes to the terminal, each script's output to
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
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cases import BENCHES  # noqa: E402
from bench.harness.machine import machine  # noqa: E402
from bench.harness.paths import DATA, OUT, PYTHON, ROOT  # noqa: E402
from bench.harness.report import load_run, load_text, save_run, write_report  # noqa: E402
from bench.harness.running import run_one, settle  # noqa: E402


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
        write_report(output, **load_run(saved, BENCHES))
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
