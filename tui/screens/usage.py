"""The usage screen (``U``): where the space goes, drawn rather than listed.

- the database on disk by part (output, index, trash, other, free, WAL, backups) as
  bars, with the quota when one is set;
- the database size over the last 14 days and the output of each day, as sparklines
  (Textual's ``Sparkline``) with their range and the growth a day;
- the biggest sessions as bars;
- the last day of metrics (capture rate, index lag, search time) as sparklines.

It opens on the instant figures (``storage.engine.usage``, ``exact=False``: the file
split by the sessions' counters) and then measures the file page by page in a thread,
on a connection of its own so the app's store stays free; the split is marked
estimated until then. Opening it also records a ``db_bytes`` sample when none was
taken in the last minute.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from home.plots import bar, timeline
from storage.units import DAY, format_size
from tui.keys import bindings
from tui.screens.base import TetherScreen
from tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from storage.engine.metrics import Sample
    from storage.engine.usage import Space, Usage
    from storage.quota import QuotaState

DAYS = 14
TOP = 8
BAR = 16
TOP_BAR = 40
METRICS = (  # name, title, how samples share a span, how a value reads
    ("capture_rate", "capture rate", "sum", lambda v: f"{format_size(int(v))}/s"),
    ("index_lag", "index lag", "max", lambda v: f"{v:.1f} s"),
    ("search_ms", "search time", "max", lambda v: f"{v:.0f} ms"),
)


@dataclass(frozen=True)
class Figures:
    """What the screen draws: the usage, the quota, a day of each metric, as of ``now``."""

    usage: Usage
    quota: QuotaState | None
    series: dict[str, list[Sample]]
    now: float


class UsageScreen(TetherScreen[None]):
    """Sizes, growth, the biggest sessions and the metrics, as plots."""

    HELP_TITLE = "usage"
    BINDINGS: ClassVar = [
        *bindings("back"),
        Binding("ctrl+r", "refresh", "Refresh", id="usage_refresh", tooltip="Measure again"),
    ]
    DEFAULT_CSS = """
    UsageScreen { layout: vertical; }
    UsageScreen #usage-title { height: 1; padding: 0 1; text-style: bold; }
    UsageScreen .panel { border: round $primary; padding: 0 1; height: auto; }
    UsageScreen #usage-top-row { height: auto; }
    UsageScreen #space { width: 1fr; }
    UsageScreen #growth { width: 1fr; }
    UsageScreen Sparkline { height: 3; margin: 0 0; }
    UsageScreen .metric { height: 1; }
    UsageScreen .metric Static { width: 1fr; }
    UsageScreen .metric Sparkline { height: 1; width: 48; }
    UsageScreen .caption { color: $text-muted; height: 1; }
    """

    def __init__(self, figures: Figures | None = None) -> None:
        """``figures``: show these instead of measuring (screenshots of fixed data)."""
        super().__init__()
        self.ready = False  # the instant figures and the page-by-page split are shown
        self.usage: Usage | None = None
        self._fixed = figures

    def compose(self) -> ComposeResult:
        yield Static("usage", id="usage-title")
        with Horizontal(id="usage-top-row"):
            space = Static("measuring…", id="space", classes="panel")
            space.border_title = "Where the space goes"
            yield space
            with Vertical(id="growth", classes="panel") as growth:
                growth.border_title = f"Database size, last {DAYS} days"
                yield Sparkline([], id="db-sizes")
                yield Static("", id="db-caption", classes="caption")
                yield Static("Output per day", classes="caption")
                yield Sparkline([], id="days")
                yield Static("", id="days-caption", classes="caption")
        top = Static("", id="top", classes="panel")
        top.border_title = "Biggest sessions"
        yield top
        with Vertical(id="metrics", classes="panel") as metrics:
            metrics.border_title = "Metrics, last 24 hours"
            for name, title, _, _ in METRICS:
                with Horizontal(classes="metric"):
                    yield Static(title, id=f"{name}-text")
                    yield Sparkline([], id=f"{name}-spark")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        if self._fixed is not None:
            self._show(self._fixed)
            self.ready = True
        else:
            self.run_worker(self._load(), group="usage", exclusive=True)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.ready = False
        self.run_worker(self._load(), group="usage", exclusive=True)

    async def _load(self) -> None:
        from home.quota import check
        from storage.engine import metrics

        app = self.tether
        now = app.clock()
        quota = check(app.paths, app.config)
        # On a read-only connection of its own, in a thread: one hop for a dozen
        # queries (through the app's store each would cross to its thread and back),
        # and the app's store stays free.
        paths = app.paths
        found, series = await asyncio.to_thread(_measure, paths.db, paths.backups, now, False)
        self._show(Figures(found, quota, series, now))  # totals, sessions, sizes, metrics
        found, series = await asyncio.to_thread(_measure, paths.db, paths.backups, now, True)
        self._show(Figures(found, quota, series, now))  # and the days, the estimated split
        try:
            await metrics.sample_db_bytes(app.store, now=now)
        except Exception as e:  # noqa: BLE001 - a read-only or busy database: no sample
            self.log.warning(f"no db_bytes sample: {e}")
        exact = await asyncio.to_thread(_measure_exactly, app.paths.db, app.paths.backups)
        self._show_space(exact, quota, found)
        self.ready = True

    # -- drawing ------------------------------------------------------------------------
    def _show(self, figures: Figures) -> None:
        u, now = figures.usage, figures.now
        self.usage = u
        self._show_space(u.space, figures.quota, u)
        self._show_growth(u, now)
        self._show_top(u)
        for name, title, how, shown in METRICS:
            points = [(s.at, s.value) for s in figures.series.get(name, [])]
            values = timeline(points, now - DAY, now, 48, how)
            spark = self.query_one(f"#{name}-spark", Sparkline)
            spark.data = values
            text = Text(f"{title:<13}", style="bold")
            if points:
                mean = sum(v for _, v in points) / len(points)
                text.append(f" now {shown(points[-1][1])}, mean {shown(mean)}, ")
                text.append(f"max {shown(max(v for _, v in points))}")
            else:
                text.append(" nothing recorded", style="dim")
            self.query_one(f"#{name}-text", Static).update(text)

    def _show_space(self, s: Space, quota: QuotaState | None, u: Usage) -> None:
        title = Text(f"usage · on disk {format_size(s.total)}")
        title.stylize("bold", 0, 5)
        if quota is not None:
            style = {"ok": "", "near": "yellow", "over": "bold red"}[quota.level]
            title.append(
                f" · quota {format_size(quota.limit)} ({quota.fraction * 100:.0f}%)", style
            )
        self.query_one("#usage-title", Static).update(title)
        parts = [
            ("output", s.output, _sessions(u.sessions)),
            ("index", s.index, "search" if s.exact else "search, tables"),
            ("trash", s.trash, _sessions(u.trashed)),
            ("other", s.other, "tables"),
            ("free", s.free, "in the file"),
            ("WAL", s.wal, ""),
            ("backups", s.backups, f"{s.backup_files} files"),
        ]
        largest = max(v for _, v, _ in parts) or 1
        text = Text()
        for name, value, note in parts:
            if name == "other" and not s.exact:
                continue
            text.append(f"{name:<8}{format_size(value):>11} ")
            text.append(f"{bar(value, largest, BAR):<{BAR}}", style="cyan")
            text.append(f" {note}\n", style="dim")
        if not s.split:
            text = Text(f"{'content':<8}{format_size(s.content):>11}\n")
            text.append(f"{'WAL':<8}{format_size(s.wal):>11}\n")
            text.append(f"{'backups':<8}{format_size(s.backups):>11}\n")
            text.append("measuring where it goes…", style="dim italic")
        else:
            text.append(
                "split page by page" if s.exact else "estimated from the chunks; measuring…",
                style="dim italic",
            )
        self.query_one("#space", Static).update(text)

    def _show_growth(self, u: Usage, now: float) -> None:
        points = [(s.at, s.value) for s in u.db_sizes]
        sizes = self.query_one("#db-sizes", Sparkline)
        sizes.data = timeline(points, now - DAYS * DAY, now, 2 * DAYS, "last")
        t = u.trend
        if points:
            low, high = min(v for _, v in points), max(v for _, v in points)
            caption = f"{format_size(int(low))} → {format_size(int(high))}"
        else:
            caption = "no size recorded yet"
        if t.bytes_per_day is not None:
            caption += f"   {'+' if t.bytes_per_day >= 0 else '-'}"
            caption += f"{format_size(int(abs(t.bytes_per_day)))} a day ({t.source})"
        self.query_one("#db-caption", Static).update(caption)
        self.query_one("#days", Sparkline).data = [float(d.bytes) for d in u.days]
        most = max((d.bytes for d in u.days), default=0)
        self.query_one("#days-caption", Static).update(
            f"{u.days[0].key[5:]} … {u.days[-1].key[5:]}   most {format_size(most)} a day"
            if u.days
            else ""
        )

    def _show_top(self, u: Usage) -> None:
        from storage.text import visible

        text = Text()
        largest = u.top[0].bytes if u.top else 1
        for s in u.top:
            label = visible(s.label)
            label = label if len(label) <= 30 else label[:29] + "…"
            text.append(f"#{s.id:<5}", style="bold")
            text.append(f"{label:<31}{format_size(s.bytes):>11} ")
            text.append(f"{bar(s.bytes, largest, TOP_BAR):<{TOP_BAR}}", style="magenta")
            note = "trash" if s.trashed else ("★ " if s.pinned else "") + s.status
            text.append(f" {note}\n", style="dim")
        if not u.top:
            text.append("no output recorded yet", style="dim")
        text.rstrip()
        self.query_one("#top", Static).update(text)


def _sessions(n: int) -> str:
    return f"{n} session" + ("" if n == 1 else "s")


def _measure(db, backups, now, chunks):  # type: ignore[no-untyped-def]
    """The figures (with ``chunks``: the days and the estimated split too) and a day of
    each metric, in a thread."""
    from storage.engine import metrics
    from storage.engine.reader import open_reader
    from storage.engine.usage import usage

    with open_reader(db, create=False) as reader:
        found = reader.run(
            usage(reader, backups_dir=backups, top=TOP, days=DAYS, now=now, chunks=chunks)
        )
        series = {
            name: reader.run(metrics.series(reader, name, since=now - DAY)) for name, *_ in METRICS
        }
    return found, series


def _measure_exactly(db, backups):  # type: ignore[no-untyped-def]
    """The page-by-page split, on a read-only connection of its own (in a thread)."""
    from storage.engine.reader import open_reader
    from storage.engine.usage import space

    with open_reader(db, create=False) as reader:
        return reader.run(space(reader, backups_dir=backups, exact=True))
