"""Capture benchmark: how much does recording into tether slow a chatty command down,
and how soon is its output readable and searchable?

A producer writes ``--mb`` megabytes (seq-like numbers, or log-like lines) as fast
as it can, run four ways: (a) into /dev/null, (b) through ``tee`` to a file, (c)
through ``script -q`` to a file (a terminal, like tether's pty mode), (d) as a tether
session (pipe mode, and pty mode). The producer times itself (first write to last).
For tether it also measures, from the producer's end, the time until ``tether logs
--tail 1`` shows the last line (readable) and until a search finds it with nothing
left unindexed (searchable), and how long a full ``tether logs --raw`` takes.

Figures only, no asserts. Targets (issue 3): tether's producer time <= 1.5x tee's;
readable within 3 s of the producer ending; searchable within 10 s.

    .venv/bin/python bench/cases/capture.py            # 200 MB each
    .venv/bin/python bench/cases/capture.py --mb 20    # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

TETHER = Path(sys.executable).with_name("tether")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness.figures import figure, write_figures  # noqa: E402

PRODUCER = r"""
import os, sys, time
data = open(sys.argv[1], "rb").read()
out = sys.stdout.fileno()
view = memoryview(data)
t0 = time.time(); p0 = time.perf_counter()
for i in range(0, len(data), 65536):
    chunk = view[i:i + 65536]
    while chunk:
        n = os.write(out, chunk)
        chunk = chunk[n:]
p1 = time.perf_counter(); t1 = time.time()
with open(sys.argv[2], "w") as f:
    f.write(f"{p1 - p0} {t1}")
"""


def make_data(kind: str, mb: int, path: Path, marker: str) -> int:
    """Write about ``mb`` MB of ``kind`` lines, ending with a unique marker line."""
    target = mb * 1_000_000
    size = 0
    with open(path, "wb") as f:
        if kind == "seq":
            n = 1
            while size < target:
                block = ("\n".join(map(str, range(n, n + 100_000))) + "\n").encode()
                f.write(block)
                size += len(block)
                n += 100_000
        else:
            levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
            paths = ("/api/v1/items", "/api/v1/users", "/healthz", "/api/v2/search", "/login")
            i = 0
            while size < target:
                lines = []
                for j in range(i, i + 20_000):
                    lines.append(
                        f"2026-11-21T{(j // 3600) % 24:02d}:{(j // 60) % 60:02d}:{j % 60:02d}."
                        f"{j % 1000:03d}Z {levels[j % 6]:<5} worker-{j % 16} "
                        f"{'GET' if j % 3 else 'POST'} {paths[j % 5]}/{j * 7919 % 100000} "
                        f"status={200 if j % 17 else 500} bytes={j * 31 % 65536} "
                        f"took={j % 997}ms req={j * 2654435761 % 2**32:08x}\n"
                    )
                block = "".join(lines).encode()
                f.write(block)
                size += len(block)
                i += 20_000
        tail = f"{marker}\n".encode()
        f.write(tail)
        size += len(tail)
    return size


def run_producer(command: str, timing: Path, env: dict[str, str] | None = None) -> float:
    subprocess.run(["sh", "-c", command], check=True, env=env, stdin=subprocess.DEVNULL)
    return float(timing.read_text().split()[0])


def wait_timing(timing: Path, timeout: float = 600) -> tuple[float, float]:
    deadline = time.monotonic() + timeout
    while not (timing.exists() and timing.read_text().strip()):
        if time.monotonic() > deadline:
            raise SystemExit(f"the producer never finished ({timing})")
        time.sleep(0.005)
    took, end = timing.read_text().split()
    return float(took), float(end)


def tether_run(
    env: dict[str, str], producer: list[str], pty: bool, marker: str, size: int
) -> dict[str, float]:
    timing = Path(producer[-1])
    args = [str(TETHER), "run", "--json", *(["--pty"] if pty else []), "--", *producer]
    started = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    sid = str(json.loads(started.stdout)["id"])
    took, end = wait_timing(timing)
    # Readable: what a user sees from `tether logs`.
    while True:
        tail = subprocess.run(
            [str(TETHER), "logs", sid, "--tail", "2"], env=env, capture_output=True, text=True
        ).stdout
        if marker in tail:
            readable = time.time() - end
            break
        time.sleep(0.02)
    # Searchable: the marker is found and nothing of the session is left unindexed.
    searchable = asyncio.run(_wait_searchable(env, int(sid), marker)) - end
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run([str(TETHER), "logs", sid, "--raw"], env=env, stdout=null, check=True)
    dump = time.perf_counter() - t0
    stored = asyncio.run(_stored_bytes(env, int(sid)))
    return {
        "took": took,
        "readable": readable,
        "searchable": searchable,
        "dump": dump,
        "stored": stored,
        "expected": size,
    }


async def _wait_searchable(env: dict[str, str], sid: int, marker: str) -> float:
    from home.paths import resolve_paths
    from storage import open_store

    paths = resolve_paths(env=env)
    async with open_store(paths.db) as store:
        while True:
            hits = await store.search(marker, session_id=sid, limit=1)
            if hits and await store.output.unindexed_bytes(sid) == 0:
                return time.time()
            await asyncio.sleep(0.02)


async def _stored_bytes(env: dict[str, str], sid: int) -> int:
    from home.paths import resolve_paths
    from storage import open_store

    async with open_store(resolve_paths(env=env).db) as store:
        s = await store.sessions.require(sid)
        return s.output_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="megabytes per producer run")
    parser.add_argument("--kinds", default="seq,log", help="comma-separated: seq, log")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (databases)")
    parser.add_argument("--runs", type=int, default=1, help="runs of every mode; medians (1)")
    parser.add_argument("--summary", type=Path, help="write the figures as JSON")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tether-bench-"))
    py = shlex.quote(sys.executable)
    producer_py = work / "producer.py"
    producer_py.write_text(PRODUCER)
    rows = []
    for kind in args.kinds.split(","):
        marker = f"END-MARKER-{uuid.uuid4().hex}"
        data = work / f"{kind}.txt"
        size = make_data(kind, args.mb, data, marker)
        data.read_bytes()  # into the page cache: every mode reads it from memory
        timing = work / "timing"

        def prod(timing: Path = timing, data: Path = data) -> str:
            timing.unlink(missing_ok=True)
            return f"{py} {producer_py} {data} {timing}"

        results: dict[str, list[float]] = {}
        tether_figures: dict[str, list[dict[str, float]]] = {}
        for n in range(args.runs):
            # One round runs every mode once, so a busy spell hits them alike.
            null = run_producer(f"{prod()} > /dev/null", timing)
            out = work / "out.txt"
            tee = run_producer(f"{prod()} | tee {out} > /dev/null", timing)
            out.unlink()
            script = run_producer(
                f"script -q -c {shlex.quote(prod())} {out} > /dev/null < /dev/null", timing
            )
            out.unlink()
            for label, took in (("/dev/null", null), ("tee", tee), ("script -q", script)):
                results.setdefault(label, []).append(took)
            for pty in (False, True):
                home = work / f"home-{kind}-{'pty' if pty else 'pipe'}-{n}"
                env = {**os.environ, "TETHER_HOME": str(home)}
                env.pop("TETHER_DB", None)
                prod()
                figures = tether_run(
                    env,
                    [sys.executable, str(producer_py), str(data), str(timing)],
                    pty,
                    marker,
                    size,
                )
                label = "tether --pty" if pty else "tether"
                db = home / "tether.db"
                figures["db_mb"] = db.stat().st_size / 1e6 if db.exists() else 0.0
                results.setdefault(label, []).append(figures["took"])
                tether_figures.setdefault(label, []).append(figures)
                if not args.keep:
                    shutil.rmtree(home, ignore_errors=True)
        rows.append((kind, size, results, tether_figures))

    print(f"\ncapture benchmark: {args.mb} MB per run, producer writes 64 KiB blocks")
    load = os.getloadavg()[0]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {load:.1f}\n")
    head = f"{'kind':<5} {'mode':<13} {'producer s':>10} {'vs tee':>7} {'MB/s':>7}"
    head += f" {'readable s':>10} {'searchable s':>12} {'dump s':>7} {'stored':>8} {'db MB':>7}"
    print(head)
    print("-" * len(head))
    for kind, size, all_runs, all_tf in rows:
        # Medians over the runs (one run: the figures themselves).
        results = {mode: statistics.median(v) for mode, v in all_runs.items()}
        tf = {
            mode: {k: statistics.median(f[k] for f in fs) for k in fs[0]}
            for mode, fs in all_tf.items()
        }
        for mode, took in results.items():
            line = (
                f"{kind:<5} {mode:<13} {took:>10.2f} {took / results['tee']:>6.2f}x "
                f"{size / 1e6 / took:>7.0f}"
            )
            if mode in tf:
                f = tf[mode]
                whole = all(x["stored"] >= x["expected"] for x in all_tf[mode])
                complete = "all" if whole else f"{min(x['stored'] for x in all_tf[mode])}"
                line += (
                    f" {f['readable']:>10.2f} {f['searchable']:>12.2f} {f['dump']:>7.2f}"
                    f" {complete:>8} {f['db_mb']:>7.0f}"
                )
            print(line)
    print(
        "\ntargets: tether producer <= 1.5x tee; readable <= 3 s and searchable <= 10 s "
        "after the producer ends.\nreadable is measured with `tether logs --tail 2` "
        "(a whole CLI start each poll); pty runs store \\r\\n line ends, hence more bytes."
    )
    if args.runs > 1:
        print(f"(medians of {args.runs} runs of every mode)")
    summary = []
    for kind, _size, all_runs, all_tf in rows:
        for label, ref in (("tether", "tee"), ("tether --pty", "script -q")):
            pipe = label == "tether"
            summary.append(
                figure(
                    3,
                    f"capture {kind}: producer wall time, {label}",
                    all_runs[label],
                    "s",
                    reference=(f"{ref} to a file", all_runs[ref]),
                    target="<= 1.5x tee" if pipe else None,
                    met=lambda v, ratio: ratio <= 1.5,
                )
            )
            if not pipe:  # the pty run beside tee as well, the reference
                tee_ratio = [t / r for t, r in zip(all_runs[label], all_runs["tee"], strict=True)]
                summary.append(
                    figure(3, f"capture {kind}: tether --pty producer time / tee", tee_ratio, "x")
                )
            for key, limit, what in (
                ("readable", 3, "readable through logs"),
                ("searchable", 10, "searchable"),
            ):
                summary.append(
                    figure(
                        3,
                        f"capture {kind}: {what} after the producer ends, {label}",
                        [f[key] for f in all_tf[label]],
                        "s",
                        target=f"<= {limit} s",
                        met=lambda v, ratio, limit=limit: v <= limit,
                    )
                )
            incomplete = [f for f in all_tf[label] if f["stored"] < f["expected"]]
            if incomplete:
                print(f"WARNING: {kind} {label}: output not stored whole in {len(incomplete)} runs")
    write_figures(args.summary, summary)
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
