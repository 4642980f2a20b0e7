"""Labelled screens: fixture files of screens with the attention a person reads on them,
and how well ``judge`` agrees (precision and recall of ``needs_you`` per agent kind).

A fixture is a text file: ``key: value`` header lines (``label``, ``source``, ``quiet``
in seconds, ``reading`` and ``busy``: yes/no/unknown), a ``---`` line, then the screen's
rows. Fixtures live in tests/fixtures/agents/KIND/ (``generic`` for no agent); the test
(tests/agents/test_labelled.py) and the benchmark (bench/cases/attention.py) read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .attention import Signals, judge
from .kinds import BUILTIN, AgentKind

_TRUTH = {"yes": True, "no": False, "unknown": None}


@dataclass(frozen=True)
class Labelled:
    """One labelled screen."""

    path: Path
    kind: str  # the directory: an agent kind, or "generic"
    label: str
    source: str
    signals: Signals
    lines: tuple[str, ...]

    @property
    def recorded(self) -> bool:
        return self.source.startswith("recorded")


def load(path: Path) -> Labelled:
    """One fixture file; ``ValueError`` naming the file when it is malformed."""
    text = path.read_text("utf-8")
    head, sep, screen = text.partition("\n---\n")
    if not sep:
        raise ValueError(f"{path}: no '---' line between the header and the screen")
    fields = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
    try:
        signals = Signals(
            quiet=float(fields["quiet"]),
            reading=_TRUTH[fields.get("reading", "unknown")],
            busy=_TRUTH[fields.get("busy", "unknown")],
        )
        label = fields["label"]
    except (KeyError, ValueError) as e:
        raise ValueError(f"{path}: bad header ({e})") from None
    if label not in ("working", "idle", "needs_you"):
        raise ValueError(f"{path}: unknown label {label!r}")
    lines = tuple(screen.split("\n"))
    return Labelled(path, path.parent.name, label, fields.get("source", ""), signals, lines)


def load_all(root: Path) -> Iterator[Labelled]:
    for path in sorted(root.glob("*/*.txt")):
        yield load(path)


@dataclass(frozen=True)
class Score:
    """How ``judge`` did on one kind's screens."""

    kind: str
    screens: int
    recorded: int
    true_pos: int  # needs_you, judged needs_you
    false_pos: int  # judged needs_you, but not
    false_neg: int  # needs_you, judged otherwise
    agree: int  # the three states judged as labelled
    misses: tuple[tuple[str, str, str], ...]  # (file, label, judged)

    @property
    def precision(self) -> float:
        judged = self.true_pos + self.false_pos
        return self.true_pos / judged if judged else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_pos + self.false_neg
        return self.true_pos / wanted if wanted else 1.0

    @property
    def accuracy(self) -> float:
        return self.agree / self.screens if self.screens else 1.0


def score(
    screens: Iterable[Labelled], kinds: Mapping[str, AgentKind] = BUILTIN
) -> dict[str, Score]:
    """Per kind: each screen judged with its kind's shapes (none for ``generic``)."""
    tally: dict[str, list[Labelled]] = {}
    for screen in screens:
        tally.setdefault(screen.kind, []).append(screen)
    out = {}
    for name, group in tally.items():
        kind = kinds.get(name)
        tp = fp = fn = agree = 0
        misses = []
        for s in group:
            got = judge(s.lines, s.signals, kind)
            want_needs, got_needs = s.label == "needs_you", got == "needs_you"
            tp += want_needs and got_needs
            fp += got_needs and not want_needs
            fn += want_needs and not got_needs
            agree += got == s.label
            if got != s.label:
                misses.append((s.path.name, s.label, got))
        recorded = sum(s.recorded for s in group)
        out[name] = Score(name, len(group), recorded, tp, fp, fn, agree, tuple(misses))
    return out
