"""Machine-readable figures: what every benchmark writes with ``--summary PATH``.

Each benchmark keeps printing its own table for people; with ``--summary`` it also
writes a JSON list of rows, one per figure, which ``bench/run.py`` gathers into
``BENCHMARKS.md``. A row:

``issue``            the issue whose benchmark asked for the figure (2..7)
``figure``           what was measured, in words
``value``            the median over ``runs`` of the measured figure
``unit``             its unit (``ms``, ``s``, ``MB/s``, ``MB``, ``%``)
``reference_name``   the reference measured in the same run (``None`` if there is none)
``reference_value``  the reference's median, in the same unit
``ratio``            ``value / reference_value``
``target``           the issue's target in words (``None``: no target, reported only)
``met``              whether the target is met (``None`` when there is no target)
``runs``             how many runs (or samples) the median, min and max are over
``min``, ``max``     the smallest and largest of those runs

Targets are checked by the benchmark that measured the figure, against the figure the
issue names; this module only carries and writes them.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    issue: int
    figure: str
    value: float
    unit: str
    reference_name: str | None
    reference_value: float | None
    ratio: float | None
    target: str | None
    met: bool | None
    runs: int
    min: float
    max: float


def figure(
    issue: int,
    name: str,
    values: Sequence[float],
    unit: str,
    *,
    reference: tuple[str, Sequence[float]] | None = None,
    target: str | None = None,
    met: bool | Callable[[float, float | None], bool] | None = None,
) -> Figure:
    """A row from the per-run ``values`` (median, min, max) and the reference's
    per-run values (median). ``met`` is decided by the caller, who knows the target:
    a bool, or a function of (value, ratio) for the medians."""
    values = [v for v in values if v is not None and v == v]
    if not values:  # nothing could be measured: say so rather than invent a figure
        nan = float("nan")
        return Figure(issue, name, nan, unit, None, None, None, target, None, 0, nan, nan)
    value = statistics.median(values)
    ref_name = ref_value = ratio = None
    if reference is not None and list(reference[1]):
        ref_name = reference[0]
        ref_value = statistics.median(reference[1])
        ratio = value / ref_value if ref_value else None
    if callable(met):
        met = bool(met(value, ratio)) if ratio is not None or reference is None else None
    return Figure(
        issue=issue,
        figure=name,
        value=value,
        unit=unit,
        reference_name=ref_name,
        reference_value=ref_value,
        ratio=ratio,
        target=target,
        met=met if target is not None else None,
        runs=len(values),
        min=min(values),
        max=max(values),
    )


def write_figures(path: Path | str | None, rows: Sequence[Figure]) -> None:
    """Write ``rows`` as a JSON list to ``path`` (nothing when ``path`` is None)."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([_clean(asdict(r)) for r in rows], indent=1) + "\n")


def read_figures(path: Path | str) -> list[Figure]:
    return [Figure(**row) for row in json.loads(Path(path).read_text())]


def _clean(row: dict) -> dict:
    # NaN is not JSON: a figure that could not be measured is null.
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
