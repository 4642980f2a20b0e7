"""The context key table: each session's context JSON flattened for the ``ctx.`` filters.

``session_context`` holds one row per object member a filter can reach: ``key`` (letters,
digits, ``_`` and ``-``, as the query language allows), its JSON ``type`` and its
``value`` (``json_tree``'s atom: the text, the number, 1/0 for true/false, NULL for null,
objects and arrays). Nesting is kept as a tree: ``node`` is the member's id in its
document and ``parent`` the node of the object that holds it (0 at the top), so
``ctx.usage.input_tokens`` is a member ``input_tokens`` whose parent is the top-level
member ``usage``. Members inside arrays, and under keys no filter can name, are left out.

Triggers keep it in step with ``sessions.context`` on every insert, update and delete,
whoever writes (the storage API, an import, a raw SQL statement), and the migration that
creates it fills it from the existing sessions (v8, ``storage.engine.schema``).

It answers exactly what ``json_type``/``json_extract`` on the text answered before
(``storage.query.context`` has the meanings): the rows come from SQLite's own parse
(``json_tree``) of the stored text; a context SQLite cannot read (``NaN``) has no rows;
a key written twice keeps its first value, as ``json_extract`` reads it (``OR IGNORE``
on the primary key; rows come in document order).

Filters read it through its indexes instead of parsing every session's JSON: ``(key,
type, value)`` finds the members with a value, ``(key, parent, session_id, type)`` (v13)
gives every member of a key in session order; ``bench/cases/context_filters.py`` has the
figures.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.query.terms import ContextFilter

# The members of one context, as rows of session_context (``ctx`` is a JSON text).
_ROWS = """
    SELECT {sid}, CASE WHEN t.path = '$' THEN 0 ELSE t.parent END, t.key, t.id, t.type, t.atom
    FROM json_tree(CASE WHEN json_valid({ctx}) THEN {ctx} END) AS t
    WHERE typeof(t.key) = 'text' AND t.key <> '' AND t.key NOT GLOB '*[^A-Za-z0-9_-]*'
      AND instr(t.path, '[') = 0
"""
_INSERT = "INSERT OR IGNORE INTO session_context (session_id, parent, key, node, type, value)"

MIGRATION = [
    """
    CREATE TABLE session_context (
        session_id INTEGER NOT NULL,
        parent     INTEGER NOT NULL,                -- node of the enclosing object; 0: top
        key        TEXT    NOT NULL,
        node       INTEGER NOT NULL,
        type       TEXT    NOT NULL,                -- json_type: text integer real true ...
        value      COLLATE NOCASE,                  -- the atom; text compares as ctx. does
        PRIMARY KEY (session_id, parent, key)
    ) WITHOUT ROWID
    """,
    f"""
    CREATE TRIGGER session_context_insert AFTER INSERT ON sessions
    WHEN NEW.context IS NOT NULL BEGIN
        {_INSERT} {_ROWS.format(sid="NEW.id", ctx="NEW.context")};
    END
    """,
    f"""
    CREATE TRIGGER session_context_update AFTER UPDATE OF context ON sessions
    WHEN NEW.context IS NOT OLD.context BEGIN
        DELETE FROM session_context WHERE session_id = OLD.id;
        {_INSERT} {_ROWS.format(sid="NEW.id", ctx="NEW.context")};
    END
    """,
    """
    CREATE TRIGGER session_context_delete AFTER DELETE ON sessions BEGIN
        DELETE FROM session_context WHERE session_id = OLD.id;
    END
    """,
    # The sessions already there (in the migration's transaction; ~1 s per 100 000).
    f"{_INSERT} {_ROWS.format(sid='s.id', ctx='s.context')}".replace(
        "FROM json_tree", "FROM sessions AS s, json_tree"
    ),
    "CREATE INDEX session_context_value ON session_context (key, type, value)",
    # A filter's matches come back newest first: the live sessions in that order without
    # reading their (wide) rows.
    "CREATE INDEX sessions_live ON sessions (deleted_at, created_at)",
]


# Looking a session up by id and sorting it costs about what testing three sessions on a
# walk newest first does (measured with 100 000 sessions: even at about 30 000 matches).
LOOKUP_COST = 3


def context_sql(f: ContextFilter, *, how: str | None = None) -> tuple[str, list[Any]]:
    """An SQL condition on ``sessions s`` for one context filter (true or false, never
    NULL), and its parameters. Keys and values are always parameters. ``how`` plans it:

    - ``"lookup"``: the matches looked up by id (the filter drives);
    - ``"test"``: each session walked is tested on its own (a walk that stops early
      under a LIMIT, or the few sessions another filter drives to);
    - ``"walk"``: every session is walked and tested against the list of the matches,
      built once, in id order, from ``session_context_member`` (schema v13);
    - None: as SQLite chooses."""
    negated = "NOT " if f.negated else ""
    if how == "test":
        members, params = members_sql(f, of_session=True)
        return f"{negated}EXISTS ({members})", params
    members, params = members_sql(f)
    column = "+s.id" if how == "walk" else "s.id"  # +: never a lookup by id
    return f"{column} {negated}IN ({members})", params


def members_sql(f: ContextFilter, *, of_session: bool = False) -> tuple[str, list[Any]]:
    """The ids of the sessions whose context holds what ``f`` asks (``negated`` aside),
    as an SQL query and its parameters; ``of_session``: only session ``s.id``."""
    n = len(f.keys)
    joins = "".join(
        f" JOIN session_context x{i} ON x{i}.session_id = x{i - 1}.session_id"
        f" AND x{i}.parent = x{i - 1}.node AND x{i}.key = ?"
        for i in range(2, n + 1)
    )
    check, args = _check(f, f"x{n}")
    sql = (
        f"SELECT x{n}.session_id FROM session_context x1{joins}"
        f" WHERE {'x1.session_id = s.id AND ' if of_session else ''}"
        f"x1.parent = 0 AND x1.key = ? AND {check}"
    )
    return sql, [*f.keys[1:], f.keys[0], *args]


def _check(f: ContextFilter, x: str) -> tuple[str, list[Any]]:
    """The condition on the member's row ``x`` (type and value)."""
    from storage.query.context import number  # not for the schema's importers

    numeric = f"{x}.type IN ('integer', 'real')"
    if f.op == "has":
        return f"{x}.type <> 'null'", []
    if f.op != "is":  # a comparison: numbers only
        return f"{numeric} AND {x}.value {f.op} ?", [f.number]
    ors: list[str] = []
    params: list[Any] = []
    if f.values or f.prefixes:
        texts = [f"{x}.value = ?" for _ in f.values]
        params += f.values
        for prefix in f.prefixes:
            # The range lets the index find them; substr says exactly which.
            upper = _after(prefix)
            texts.append(
                f"({x}.value >= ?{f' AND {x}.value < ?' if upper else ''}"
                f" AND substr({x}.value, 1, ?) = ? COLLATE NOCASE)"
            )
            params += [prefix, *([upper] if upper else []), len(prefix), prefix]
        ors.append(f"({x}.type = 'text' AND ({' OR '.join(texts)}))")
    numbers = [v for v in (number(v) for v in f.values) if v is not None]
    if numbers:
        ors.append(f"({numeric} AND {x}.value IN ({','.join('?' * len(numbers))}))")
        params += numbers
    words = {v.lower() for v in f.values}
    ors += [f"{x}.type = '{word}'" for word in ("true", "false") if word in words]
    return f"({' OR '.join(ors)})", params


def _after(prefix: str) -> str | None:
    """A text above every text starting with ``prefix`` in NOCASE order, or None: the
    prefix folded to lower case (as NOCASE compares ASCII) with its last character
    raised by one."""
    folded = "".join(c.lower() if c.isascii() else c for c in prefix)
    last = ord(folded[-1]) + 1 if folded else 0
    if not folded or 0xD800 <= last <= 0xDFFF or last > 0x10FFFF:
        return None
    return folded[:-1] + chr(last)
