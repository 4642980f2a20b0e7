"""The SQLite engine: connection, schema and migrations, the session, run, output and
audit facets, the context key table (``context_keys``: what ``ctx.`` filters read), the
full-text search engine, index merging, backup, doctor and purge.

All SQL of tether lives in this package.
"""
