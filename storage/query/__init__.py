"""The query language of ``ls``, ``search`` and the TUI's filter.

``parse`` (``storage.query.parse``) turns text into a ``Query`` (``storage.query.terms``):
words, phrases, ``-`` exclusions, ``OR``, and filters such as ``status:failed`` or
``since:2h`` (``storage.query.filters``). ``storage.query.match`` compiles a query into
an FTS5 MATCH expression and into a matcher for single lines. Pure Python:
no SQL is run here.
"""

from storage.query.parse import parse
from storage.query.terms import And, Not, Or, Phrase, Query, QueryError, Term, Word

__all__ = ["And", "Not", "Or", "Phrase", "Query", "QueryError", "Term", "Word", "parse"]
