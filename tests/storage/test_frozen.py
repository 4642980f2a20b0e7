"""``storage.frozen.Frozen``: the records that were frozen dataclasses (sessions, hits,
the parsed query...) behave as they did, for the code that embeds ``storage``:
read-only, ``==``/``hash``/``repr`` over their fields in order, copy and pickle, and
the functions of ``dataclasses`` (fields, replace, asdict, astuple) still work on them."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

import runner.identity
import runner.reconcile
import storage.engine.metrics
import storage.engine.queue
import storage.engine.search.core
import storage.engine.search.filters
import storage.engine.search.lines
import storage.query.parse
from storage.engine.queue import Limits
from storage.frozen import Frozen, replace
from storage.models import Line, SearchHit, Session
from storage.query import Query, Word, parse


def a_session(**changes) -> Session:
    values = dict(
        id=7, uid="u7", name="build", argv=("make",), cwd="/src", env=None, mode="pipe",
        status="running", exit_code=None, signal=None, pid=42, created_at=1.0,
        updated_at=2.0, started_at=1.5, ended_at=None, notes="", context=None,
        pinned=False, deleted_at=None, origin="cli", resume_argv=None, run_count=1,
        output_bytes=10, output_lines=2, last_output_at=None,
    )  # fmt: skip
    return Session(**(values | changes))


def every_record_class() -> list[type[Frozen]]:
    found, todo = [], list(Frozen.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return [c for c in found if c.__module__.split(".")[0] in ("storage", "runner")]


def test_the_records_that_were_dataclasses_are_frozen_records():
    names = {c.__name__ for c in every_record_class()}
    assert {"Session", "Run", "Line", "OutputChunk", "SearchHit", "Query", "Word"} <= names
    assert {"SearchResults", "SessionHits", "Limits", "Sample", "ProcStat"} <= names
    for cls in every_record_class():
        assert [f.name for f in dataclasses.fields(cls)] == list(cls.__slots__), cls
        assert cls.__match_args__ == cls.__slots__


def test_a_record_is_read_only():
    s = a_session()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del s.name  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.anything = 1  # type: ignore[attr-defined]
    assert s.name == "build"


def test_records_compare_and_hash_by_their_fields_in_order():
    assert a_session() == a_session()
    assert a_session() != a_session(name="other")
    assert Word("x") == Word("x", prefix=False) != Word("x", prefix=True)
    assert hash(Word("x")) == hash(("x", False))
    assert len({Word("x"), Word("x"), Word("y")}) == 2
    line = Line(1, 0, "stdout", 1.0, 1, b"a", True)
    assert hash(line) == hash((1, 0, "stdout", 1.0, 1, b"a", True))
    # Only a record of the same class compares equal, never a tuple of the same values.
    assert Word("x") != ("x", False)
    assert parse("disk full").terms == parse("disk  full").terms
    assert parse("disk full") == parse("disk full") != parse("disk  full")
    with pytest.raises(TypeError):  # a dict field, as with the dataclass
        hash(a_session(env={"A": "1"}))


def test_a_record_shows_its_class_and_fields():
    assert repr(Word("x")) == "Word(text='x', prefix=False)"
    assert repr(SearchHit(1, 2, "stdout", 3.0, "t", ((0, 1),), 9)) == (
        "SearchHit(session_id=1, line=2, stream='stdout', at=3.0, text='t', "
        "spans=((0, 1),), chunk_id=9, row=None)"
    )
    assert repr(a_session()).startswith("Session(id=7, uid='u7', name='build', argv=('make',),")


def test_the_functions_of_dataclasses_see_a_dataclass():
    s = a_session()
    assert dataclasses.is_dataclass(s) and dataclasses.is_dataclass(Session)
    changed = dataclasses.replace(s, name="other", tags=("a",))
    assert (changed.name, changed.tags, changed.id) == ("other", ("a",), 7)
    assert dataclasses.asdict(s)["argv"] == ("make",)
    assert dataclasses.astuple(Word("x")) == ("x", False)
    defaults = {f.name: f.default for f in dataclasses.fields(Session)}
    assert defaults["tags"] == () and defaults["attention"] is None
    assert defaults["id"] is dataclasses.MISSING
    groups = dataclasses.fields(Limits)[1]
    assert groups.default_factory is dict and groups.default is dataclasses.MISSING
    assert Limits().groups == {} and Limits().groups is not Limits().groups
    with pytest.raises(TypeError):
        dataclasses.replace(s, colour="red")


def test_replace_here_is_dataclasses_replace():
    q = Query(text="a", terms=(Word("a"),))
    assert replace(q, since=5.0) == dataclasses.replace(q, since=5.0)
    assert replace(q, since=5.0).terms == (Word("a"),) and q.since is None
    with pytest.raises(TypeError, match="no field 'colour'"):
        replace(q, colour="red")


def test_a_record_copies_and_pickles():
    s = a_session(context={"k": [1]})
    assert copy.copy(s) == s
    deep = copy.deepcopy(s)
    assert deep == s and deep.context is not s.context
    assert pickle.loads(pickle.dumps(s)) == s
    assert pickle.loads(pickle.dumps(parse("a -b"))) == parse("a -b")


def test_a_record_whose_init_does_not_take_its_fields_is_refused_when_defined():
    with pytest.raises(TypeError, match="not its fields"):

        class Wrong(Frozen):
            __slots__ = ("a", "b")

            def __init__(self, b: int, a: int) -> None:
                object.__setattr__(self, "a", a)
                object.__setattr__(self, "b", b)


# The modules imported above hold records; importing them defines their classes.
_MODULES = (
    runner.identity, runner.reconcile, storage.engine.metrics, storage.engine.queue,
    storage.engine.search.core, storage.engine.search.filters, storage.engine.search.lines,
    storage.query.parse,
)  # fmt: skip
