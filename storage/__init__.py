"""tether's storage layer: durable sessions and their output in one SQLite file.

Usable as a library without the TUI::

    from storage import open_store

    async with open_store("sessions.db") as store:
        s = await store.sessions.create(["make", "test"], cwd="/src/app")
        await store.output.append(s.id, "stdout", b"ok\\n")

Names are loaded lazily (PEP 562), so importing ``storage`` costs almost nothing.
"""

from __future__ import annotations

_EXPORTS = {
    "open_store": "engine.store",
    "Store": "engine.store",
    "ChangeWatcher": "engine.store",
    "SESSION_EDITABLE": "engine.sessions",
    "Session": "models",
    "Run": "models",
    "ProcessIdentity": "models",
    "Line": "models",
    "OutputChunk": "models",
    "AppendResult": "models",
    "SearchHit": "models",
    "AuditEntry": "models",
    "IntegrityReport": "models",
    "ACTIVE": "models",
    "ENDED": "models",
    "LIVE": "models",
    "StoreError": "errors",
    "SessionNotFound": "errors",
    "IllegalTransition": "errors",
    "RunSuperseded": "errors",
    "SchemaTooNew": "errors",
    "StoreCorrupt": "errors",
    "StoreFull": "errors",
    "StoreBusy": "errors",
    "StoreReadOnly": "errors",
    "MigrationFailed": "errors",
    "ImportRejected": "errors",
    "SCHEMA_VERSION": "engine.schema",
    "STATUSES": "models",
    "STREAMS": "models",
}

__all__ = sorted(_EXPORTS)

# ``typing.TYPE_CHECKING`` without importing ``typing``: type checkers take any name
# TYPE_CHECKING as true. The modules on a one-query command's path (``tether search``,
# ``ls``, ``logs``) define it so; importing ``typing`` (and the ``re`` it loads in 3.11)
# is ~3 ms of a start issue 18 wants close to Python's own (tests/cli/test_cli_startup.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.engine.schema import SCHEMA_VERSION  # noqa: F401
    from storage.engine.sessions import SESSION_EDITABLE  # noqa: F401
    from storage.engine.store import ChangeWatcher, Store, open_store  # noqa: F401
    from storage.errors import (  # noqa: F401
        IllegalTransition,
        ImportRejected,
        MigrationFailed,
        RunSuperseded,
        SchemaTooNew,
        SessionNotFound,
        StoreBusy,
        StoreCorrupt,
        StoreError,
        StoreFull,
        StoreReadOnly,
    )
    from storage.models import (  # noqa: F401  # noqa: F401
        ACTIVE,
        ENDED,
        LIVE,
        STATUSES,
        STREAMS,
        AppendResult,
        AuditEntry,
        IntegrityReport,
        Line,
        OutputChunk,
        ProcessIdentity,
        Run,
        SearchHit,
        Session,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'storage' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
