"""The report (BENCHMARKS.md): the machine, a summary of every target, one section
per case with its method, figures and printed output; and the saved run that
``--report-only`` writes it again from."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from bench.harness.figures import Figure
from bench.harness.running import Bench, Result


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
        out += ["", f"## Issue {b.issue}: {b.title} (`bench/cases/{b.name}.py`)", ""]
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


def load_run(saved: dict, benches: Sequence[Bench]) -> dict:
    """A run saved by ``save_run``, its results matched to ``benches`` by name."""
    by_name = {b.name: b for b in benches}
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
