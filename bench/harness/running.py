"""Running the cases: one at a time, each a script of its own, output kept."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field

from bench.harness.figures import Figure, read_figures
from bench.harness.paths import CASES, OUT, PYTHON, ROOT


@dataclass(frozen=True)
class Bench:
    name: str
    issue: int
    title: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    method: str


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
    argv = [str(PYTHON), str(CASES / f"{bench.name}.py"), *args, "--summary", str(summary)]
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
        try:
            result.figures = read_figures(summary)
        except (ValueError, TypeError) as e:  # a case's bug must not lose the whole run
            result.stderr.append(f"its --summary {summary} is not a list of figures: {e}")
            result.code = result.code or 1
    state = "done" if result.code == 0 else f"FAILED (exit {result.code})"
    print(f"== {bench.name} {state} in {result.seconds / 60:.1f} min", flush=True)
    return result
