"""Context filters (``ctx.model:opus``, ``ctx.tokens>5``, ``has:ctx.thread``): parsing,
errors with positions, and what they match in a real database, checked against the
meaning computed in Python."""

from __future__ import annotations

import asyncio
import json
import math
import string
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import open_store
from storage.engine.search.core import search
from storage.engine.search.filters import context_sql, filter_session_ids, list_sessions
from storage.query import QueryError, parse
from storage.query.terms import ContextFilter

NOW = 1_800_000_000.0


def error(text: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(text, now=NOW)
    return info.value


# -- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("ctx.model:opus", ContextFilter(("model",), "is", values=("opus",))),
        ("ctx.model=opus", ContextFilter(("model",), "is", values=("opus",))),
        ("CTX.Model:Opus", ContextFilter(("Model",), "is", values=("Opus",))),
        ("ctx.model:opus,sonnet", ContextFilter(("model",), "is", values=("opus", "sonnet"))),
        ("ctx.model:claude*", ContextFilter(("model",), "is", prefixes=("claude",))),
        ('ctx.model:"claude*"', ContextFilter(("model",), "is", values=("claude*",))),
        ('ctx.title:"a, b"', ContextFilter(("title",), "is", values=("a, b",))),
        ('ctx.title:">5"', ContextFilter(("title",), "is", values=(">5",))),
        ("ctx.thread:abc", ContextFilter(("thread",), "is", values=("abc",))),
        ("-ctx.model:opus", ContextFilter(("model",), "is", values=("opus",), negated=True)),
        ("ctx.tokens>100000", ContextFilter(("tokens",), ">", number=100000)),
        ("ctx.tokens>=1.5", ContextFilter(("tokens",), ">=", number=1.5)),
        ("ctx.tokens<-3", ContextFilter(("tokens",), "<", number=-3)),
        ("ctx.tokens<=1e3", ContextFilter(("tokens",), "<=", number=1000.0)),
        ("ctx.tokens:>5", ContextFilter(("tokens",), ">", number=5)),
        ("-ctx.tokens>5", ContextFilter(("tokens",), ">", number=5, negated=True)),
        (
            "ctx.usage.input_tokens>5",
            ContextFilter(("usage", "input_tokens"), ">", number=5),
        ),
        ("has:ctx.thread", ContextFilter(("thread",), "has")),
        ("-has:ctx.a-b.c_d", ContextFilter(("a-b", "c_d"), "has", negated=True)),
    ],
)
def test_context_filters_parse(text: str, want: ContextFilter) -> None:
    query = parse(text, now=NOW)
    assert query.context == (want,)
    assert query.terms == ()


def test_context_filters_combine_with_text_and_other_filters() -> None:
    query = parse("error ctx.model:opus status:failed has:ctx.thread", now=NOW)
    assert [f.op for f in query.context] == ["is", "has"]
    assert query.statuses == frozenset({"failed"}) and query.has_text


def test_a_key_without_an_operator_is_text() -> None:
    query = parse("ctx.model", now=NOW)
    assert query.context == () and query.has_text


def test_the_json_path_is_quoted_member_by_member() -> None:
    (f,) = parse("ctx.usage.input-tokens>1", now=NOW).context
    assert f.path == '$."usage"."input-tokens"'


@pytest.mark.parametrize(
    ("text", "message", "at", "length"),
    [
        ("ctx.:x", "needs a key after 'ctx.'", 0, 4),
        ("has:ctx.", "needs a key after 'ctx.', like has:ctx.model", 4, 4),
        ("ctx.a..b:x", "empty key", 5, 1),
        ("ctx.a.:x", "empty key", 5, 1),
        ("ctx.a$b:x", "'$' cannot be in a context key", 5, 1),
        ("ctx.a')--:x", '"\'" cannot be in a context key', 5, 1),
        ('ctx.a"b:x', "'\"' cannot be in a context key", 5, 1),
        ("ctx.a[0]:x", "'[' cannot be in a context key", 5, 1),
        ("x ctx.tokens>abc", "'abc' is not a number", 13, 3),
        ("ctx.tokens>", "needs a value", 0, 11),
        ("ctx.tokens:>", "needs a value", 0, 12),
        ("ctx.tokens>nan", "not a number", 11, 3),
        ("ctx.tokens>1e999", "not a number", 11, 5),
        ("ctx.tokens>1_000", "not a number", 11, 5),
        ('ctx.tokens>"5"', "not quoted text", 12, 1),
        ("ctx.tokens>1,2", "takes one number", 11, 3),
        ("ctx.model:", "'ctx.model:' needs a value, like ctx.model:opus", 0, 10),
        ("ctx.model:a,,b", "empty item", 12, 1),
        ("ctx:model", "'ctx:' needs a key", 0, 4),
        ("has:", "'has:' needs a value, like has:ctx.model", 0, 4),
        ("has:model", "'has:' takes a context key", 4, 5),
        ("ctx.model:x OR y", "a filter cannot be one side of OR", 0, 11),
        ("(ctx.model:x y)", "filters cannot go inside parentheses", 1, 11),
        ("ctx.m:a\udcff", "not valid text", 7, 1),
    ],
)
def test_mistakes_are_query_errors_with_a_position(
    text: str, message: str, at: int, length: int
) -> None:
    e = error(text)
    assert message in e.message
    assert (e.position, e.length) == (at, length), str(e)


_CTX_TEXT = st.one_of(
    st.text(max_size=30).map(lambda s: "ctx." + s),
    st.text(max_size=30).map(lambda s: "-has:ctx." + s),
    st.text(alphabet="ctx.:=<>-*,\"' a1é$()", max_size=30),
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(_CTX_TEXT)
def test_the_parser_never_crashes_on_context_filters(text: str) -> None:
    try:
        query = parse(text, now=NOW)
    except QueryError as e:
        assert 0 <= e.position <= len(text)
        return
    for f in query.context:
        assert all(k and set(k) <= set(string.ascii_letters + string.digits + "_-") for k in f.keys)
        # The SQL text is the same whatever the key: keys and paths are bound parameters.
        assert context_sql(f)[0] == context_sql(replace(f, keys=("k",) * len(f.keys)))[0]


@settings(max_examples=60, deadline=None)
@given(_CTX_TEXT)
def test_any_context_filter_runs_or_is_a_query_error(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("ctx") / "t.db"

    async def go():
        async with open_store(path) as store:
            if not await store.sessions.ids():
                await _seed(store)
            try:
                query = parse(text, now=NOW)
            except QueryError:
                return
            await filter_session_ids(store, query)
            await search(store, query, limit=5)

    asyncio.run(go())


# -- what they match -----------------------------------------------------------------------

CONTEXTS = {
    "opus": {"model": "claude-OPUS-4", "tokens": 150_000, "thread": "abc", "done": True},
    "sonnet": {"model": "sonnet", "tokens": 90_000.5, "usage": {"input_tokens": 7}},
    "strtok": {"model": "Opus", "tokens": "200000", "usage": {"input_tokens": "9"}},
    "nulls": {"model": None, "thread": None, "usage": None, "done": False},
    "nested": {"usage": {"input_tokens": 3, "cache": {"hit": 1}}, "tags": ["opus"]},
    "accent": {"model": "Été", "path": "/home/u/x_y%z", "quote": 'say "hi"\\'},
    "nan": {"model": "opus", "score": math.nan},  # json.dumps writes NaN: not JSON
    "list": ["model", "opus"],
    "scalar": "opus",
    "none": None,
}


async def _seed(store) -> dict[str, int]:
    ids = {}
    for i, (name, context) in enumerate(CONTEXTS.items()):
        s = await store.sessions.create(
            ["true"], cwd="/", name=name, context=context, created_at=NOW + i
        )
        ids[name] = s.id
    return ids


@pytest.fixture
async def seeded(store):
    return store, await _seed(store)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("ctx.model:opus", {"strtok"}),  # exact, ASCII case ignored; "nan" is unreadable
        ("ctx.model:OPUS,sonnet", {"strtok", "sonnet"}),
        ("ctx.model:claude*", {"opus"}),
        ("ctx.model:CLAUDE-opus*", {"opus"}),
        ("ctx.model:*", {"opus", "sonnet", "strtok", "accent"}),
        ("ctx.model:Été", {"accent"}),
        ("ctx.model:été", set()),  # only ASCII letters fold, as in tag:
        ('ctx.quote:"say \\"hi\\"\\\\"', set()),  # quotes end at the first ": no escapes
        ("ctx.path:/home/u/x_y%z", {"accent"}),
        ("ctx.path:/home/u/xxy*", set()),  # _ and % are not wildcards
        ("ctx.thread:abc", {"opus"}),
        ("ctx.thread:ABC", {"opus"}),
        ("ctx.thread:ab", set()),
        ("ctx.tokens:150000", {"opus"}),
        ("ctx.tokens:1.5e5", {"opus"}),
        ("ctx.tokens:200000", {"strtok"}),  # the string "200000" as text
        ("ctx.tokens>100000", {"opus"}),  # strings never compare
        ("ctx.tokens>=90000.5", {"opus", "sonnet"}),
        ("ctx.tokens<100000", {"sonnet"}),
        ("ctx.tokens<=90000.5", {"sonnet"}),
        ("ctx.tokens:>100000", {"opus"}),
        ("ctx.usage.input_tokens>5", {"sonnet"}),
        ("ctx.usage.input_tokens<5", {"nested"}),
        ("ctx.usage.cache.hit:1", {"nested"}),
        ("ctx.done:true", {"opus"}),
        ("ctx.done:FALSE", {"nulls"}),
        ("ctx.done:1", set()),  # booleans are not numbers
        ("ctx.tags:opus", set()),  # arrays never match a value
        ("has:ctx.thread", {"opus"}),  # null is not "has"
        ("has:ctx.usage", {"sonnet", "strtok", "nested"}),
        ("has:ctx.usage.cache", {"nested"}),
        ("has:ctx.model", {"opus", "sonnet", "strtok", "accent"}),
        ("-has:ctx.model", {"nulls", "nested", "nan", "list", "scalar", "none"}),
        ("-ctx.model:opus", set(CONTEXTS) - {"strtok"}),
        ("-ctx.tokens>100000", set(CONTEXTS) - {"opus"}),
        ("ctx.model:opus,sonnet -ctx.tokens<100000", {"strtok"}),
        ("ctx.tokens>1 ctx.tokens<100000", {"sonnet"}),
        ("has:ctx.Model", set()),  # keys are case-sensitive, as in JSON
    ],
)
async def test_what_each_context_filter_matches(seeded, text: str, names: set[str]) -> None:
    store, ids = seeded
    got = set(await filter_session_ids(store, parse(text, now=NOW)))
    assert got == {ids[n] for n in names}


async def test_ls_path_lists_matching_sessions_newest_first_with_a_limit(seeded) -> None:
    store, ids = seeded
    query = parse("has:ctx.model", now=NOW)
    listed = await list_sessions(store, query)
    assert [s.name for s in listed] == ["accent", "strtok", "sonnet", "opus"]
    assert [s.name for s in await list_sessions(store, query, limit=2)] == ["accent", "strtok"]
    await store.sessions.trash([ids["accent"]])
    assert [s.name for s in await list_sessions(store, query)] == ["strtok", "sonnet", "opus"]
    assert len(await list_sessions(store, query, include_deleted=True)) == 4
    trashed = await list_sessions(store, parse("is:trashed has:ctx.model", now=NOW))
    assert [s.name for s in trashed] == ["accent"]


async def test_context_filters_narrow_an_output_search(seeded) -> None:
    store, ids = seeded
    for name in ("opus", "sonnet"):
        await store.output.append(ids[name], "stdout", b"error: rate limited\n", NOW)
    results = await search(store, parse("error ctx.tokens>100000", now=NOW))
    assert [g.session.id for g in results.groups] == [ids["opus"]]
    results = await search(store, parse("error -ctx.tokens>100000", now=NOW))
    assert [g.session.id for g in results.groups] == [ids["sonnet"]]


async def test_keys_and_paths_are_bound_parameters(store) -> None:
    """A key with characters of SQL or of a JSON path never reaches the database: the
    parser refuses it, and the path it builds is a parameter, not SQL text."""
    (f,) = parse("ctx.usage.input_tokens>5", now=NOW).context
    sql, params = context_sql(f)
    assert "input_tokens" not in sql and "usage" not in sql
    assert "input_tokens" in params and "usage" in params
    for text in ("ctx.a'):x", 'ctx.a".b:x', "ctx.a)OR(1:x", "has:ctx.$", "ctx.a/**/b:x"):
        with pytest.raises(QueryError):
            parse(text, now=NOW)


# -- the law: a filter matches exactly the sessions whose context satisfies it --------------

_MISSING = object()
_KEYS = st.sampled_from(["a", "b", "A", "x-y", "n_1"])
_STORED_TEXT = st.text(alphabet='aAbBé1_-." \\%', max_size=5)
_TYPED_TEXT = st.text(alphabet="aAbBé1_-.%", min_size=1, max_size=5)
_NUMBERS = st.one_of(
    st.integers(-(2**62), 2**62),
    st.integers(-4000, 4000).map(lambda i: i / 4),  # exact in binary: no rounding doubt
)
_LEAF = st.one_of(st.none(), st.booleans(), _NUMBERS, _STORED_TEXT)
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=6,
)
_CONTEXT = st.one_of(st.none(), st.dictionaries(_KEYS, _VALUE, max_size=4))


def _lower(text: str) -> str:  # ASCII case only, as SQLite's NOCASE
    return text.translate(str.maketrans(string.ascii_uppercase, string.ascii_lowercase))


def _lookup(context: object, keys: tuple[str, ...]) -> object:
    for k in keys:
        if not isinstance(context, dict) or k not in context:
            return _MISSING
        context = context[k]
    return context


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@st.composite
def _filters(draw) -> tuple[str, object]:
    """A filter as typed, and its meaning as a Python predicate over a context."""
    keys = tuple(draw(st.lists(_KEYS, min_size=1, max_size=2)))
    key = "ctx." + ".".join(keys)
    kind = draw(st.sampled_from(["is", "has", ">", ">=", "<", "<="]))
    negated = draw(st.booleans())
    if kind == "has":
        text = f"has:{key}"

        def holds(v):
            return v is not _MISSING and v is not None

    elif kind == "is":
        items = draw(
            st.lists(
                st.one_of(
                    _TYPED_TEXT.map(lambda t: ("text", t)),
                    _TYPED_TEXT.map(lambda t: ("prefix", t)),
                    _NUMBERS.map(lambda n: ("number", n)),
                    st.sampled_from(["true", "FALSE"]).map(lambda b: ("bool", b)),
                ),
                min_size=1,
                max_size=3,
            )
        )
        shown = [t + "*" if k == "prefix" else (repr(t) if k == "number" else t) for k, t in items]
        text = f"{key}:{','.join(shown)}"

        def holds(v):
            for k, t in items:
                if isinstance(v, bool):
                    if k == "bool" and _lower(t) == str(v).lower():
                        return True
                elif _is_number(v):
                    if k == "number" and v == t:
                        return True
                elif isinstance(v, str):
                    typed = repr(t) if k == "number" else t
                    if k == "prefix" and _lower(v).startswith(_lower(t)):
                        return True
                    if k != "prefix" and _lower(v) == _lower(typed):
                        return True
            return False

    else:
        n = draw(_NUMBERS)
        text = f"{key}{kind}{n!r}"

        def holds(v):
            if not _is_number(v):
                return False
            return {">": v > n, ">=": v >= n, "<": v < n, "<=": v <= n}[kind]

    def predicate(context: object) -> bool:
        return holds(_lookup(context, keys)) != negated

    return ("-" if negated else "") + text, predicate


@settings(max_examples=150, deadline=None)
@given(st.lists(_CONTEXT, min_size=1, max_size=8), st.lists(_filters(), min_size=1, max_size=2))
def test_a_filter_matches_exactly_the_contexts_that_satisfy_it(
    tmp_path_factory, contexts, filters
) -> None:
    path = tmp_path_factory.mktemp("law") / "t.db"
    text = " ".join(t for t, _ in filters)

    async def go() -> tuple[set[int], set[int]]:
        async with open_store(path) as store:
            want = set()
            for i, context in enumerate(contexts):
                s = await store.sessions.create(["true"], cwd="/", context=context)
                assert json.loads(json.dumps(context)) == context
                if all(p(context) for _, p in filters):
                    want.add(s.id)
                del i
            got = set(await filter_session_ids(store, parse(text, now=NOW)))
            return got, want

    got, want = asyncio.run(go())
    assert got == want, text
