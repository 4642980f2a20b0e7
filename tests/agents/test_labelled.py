"""The attention judge on labelled screens (tests/fixtures/agents/, see its README):
recorded from the real claude and codex and from real programs where that was
possible, written from documented prompt shapes otherwise. Needs-you precision and
recall must be at least 95% for every agent kind and for the generic screens
(bench/cases/attention.py prints the figures)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from agents.attention import Signals, judge
from agents.kinds import BUILTIN
from agents.labelled import load, load_all, score

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "agents"
KINDS = ("claude", "codex", "aider", "gemini", "generic")
SCORES = score(load_all(FIXTURES))


def test_every_kind_has_at_least_30_labelled_screens_of_each_side():
    screens = list(load_all(FIXTURES))
    for kind in KINDS:
        labels = Counter(s.label for s in screens if s.kind == kind)
        assert sum(labels.values()) >= 30, kind
        assert labels["needs_you"] >= 10 and labels["needs_you"] < sum(labels.values()), kind
    recorded = Counter(s.kind for s in screens if s.recorded)
    assert recorded["claude"] >= 30 and recorded["codex"] >= 10 and recorded["generic"] >= 30


@pytest.mark.parametrize("kind", KINDS)
def test_needs_you_precision_and_recall_are_at_least_95_percent(kind):
    s = SCORES[kind]
    assert s.precision >= 0.95 and s.recall >= 0.95, s.misses


@pytest.mark.parametrize("kind", KINDS)
def test_most_screens_get_their_exact_state(kind):
    assert SCORES[kind].accuracy >= 0.9, SCORES[kind].misses


def test_a_question_above_the_input_box_is_history_not_a_prompt():
    """Claude asked something in its answer, then went back to its input box: idle."""
    lines = [
        "● The migration is ready.",
        "  Do you want to proceed with the migration?",
        "─" * 40,
        "❯ ",
        "─" * 40,
        "  ? for shortcuts",
    ]
    assert judge(lines, Signals(quiet=30), BUILTIN["claude"]) == "idle"
    menu = lines[:1] + [" Do you want to proceed?", " ❯ 1. Yes", "   2. No"]
    assert judge(menu, Signals(quiet=30), BUILTIN["claude"]) == "needs_you"


def test_generic_signals():
    assert judge(["$ make"], Signals(quiet=0.5)) == "working"  # output flowing
    assert judge(["$ make"], Signals(quiet=60, busy=True)) == "working"  # quiet compile
    assert judge(["$ make"], Signals(quiet=60, busy=False)) == "idle"
    assert judge(["Name:"], Signals(quiet=60, reading=True)) == "needs_you"  # read -p
    assert judge(["Name:"], Signals(quiet=60, reading=False)) == "idle"  # a log line
    assert judge([">>>"], Signals(quiet=60, reading=True)) == "idle"  # a REPL's prompt
    assert judge(["Continue? [y/N]"], Signals(quiet=0.5)) == "needs_you"
    assert judge(["", "", ""], Signals(quiet=10)) == "idle"


def test_a_malformed_fixture_is_named(tmp_path):
    (tmp_path / "x.txt").write_text("label: maybe\nquiet: 1\n---\nscreen\n")
    with pytest.raises(ValueError, match=r"x.txt: unknown label 'maybe'"):
        load(tmp_path / "x.txt")
    (tmp_path / "y.txt").write_text("label: idle\n")
    with pytest.raises(ValueError, match=r"y.txt: no '---' line"):
        load(tmp_path / "y.txt")
