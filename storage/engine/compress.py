"""Output chunks compressed at rest (zstd), read back exactly as they were written.

A chunk row holds its bytes as is (``plain_size`` NULL) or as one zstd frame
(``plain_size`` = the size before compression). ``plain`` turns either back into the
bytes; every reader of ``output_chunks.data`` goes through it (``storage.models.
chunk_from_row`` for ``OutputChunk``, the search's scanner, the index's deletes).

When: a chunk is compressed when it is indexed (``store.output.index_pending``, or an
append indexed at once) if its last line is complete: such a chunk never changes
again. The one chunk of a session that ends in an unterminated line stays plain while
the next write may continue it; chunks from before schema v9 are compressed by the
upkeep step (``storage.engine.output_index``). Chunks under ``MIN_BYTES``, and any
that would not shrink, stay plain.

Dictionary: most chunks are small (a supervisor flushes every 100 ms, and each run of
one stream is a chunk), and zstd compresses a 1 KB chunk poorly on its own. A
dictionary trained on the database's own output (``train``, once there is
``TRAIN_AFTER`` of it, kept in ``chunk_dicts`` and named in each frame) takes the
realistic-log corpus from 0.31x to 0.21x of the raw size (bench/cases/disk.py); it is
kept only if it pays on the sample it was trained on. Dictionaries are loaded when a
frame names one this process has not seen, from the databases it has opened (``know``).
"""

from __future__ import annotations

import sqlite3
import sys
from _thread import get_ident

TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike
    from typing import Any

    import aiosqlite

LEVEL = 3  # zstd level: -3 and -6 differ by 3% here, -6 compresses at half the speed
MIN_BYTES = 64  # smaller chunks stay plain: a frame's header eats the gain
DICT_BYTES = 64 * 1024
TRAIN_AFTER = 1024 * 1024  # output bytes before a dictionary is trained
RETRAIN_GROWTH = 32  # a new one when the output has grown this many times since
SAMPLES = 2000  # chunks a dictionary is trained on, at most...
# ...and at most this many bytes of them (zstd's advice: ~100x the dictionary). Training
# takes time in proportion: a 200 MB burst's 2000 chunks of 64 KiB were 131 MB to read,
# decompress and train on, 2.8-3.5 s of CPU (4.9 s in the supervisor under load) that the
# burst's indexing waited for; 8 MB trains in ~0.3 s to the same ratios (tried on seq and
# log corpora, chunks of 1-64 KiB compressed with each dictionary).
SAMPLE_BYTES = 8 * 1024 * 1024
_PAYS = 0.9  # a dictionary is kept if the sample compresses to at most this share of
# what it does without

_dicts: dict[int, Any] = {}  # zstd dictionary id -> ZstdCompressionDict
# (thread, dictionary id) -> its ZstdDecompressor / ZstdCompressor. zstd's contexts are
# not thread-safe: one used by two threads at once fails ("Src size is incorrect") or
# worse. A supervisor compresses on its event loop and beside it (the transcript's
# chunks, runner/screen/keeper.py), the TUI purges in a worker thread. (A thread id
# may be reused once its thread ended: by then nothing else uses its contexts.)
_decompressors: dict[tuple[int, int], Any] = {}
_compressors: dict[tuple[int, int], Any] = {}
_paths: list[str] = []  # databases this process opened: where unknown dictionaries are


class UnknownDictionary(LookupError):
    """A compressed chunk names a dictionary that none of the opened databases holds."""


def know(path: str | PathLike[str]) -> None:
    """Remember a database this process reads, to load its dictionaries from on demand."""
    p = str(path)
    if p not in _paths:
        _paths.append(p)


_backend: Any = None


def _zstd() -> Any:
    """zstandard's C backend, imported on first use (a command that never reads output
    skips it). Loaded as the package would load it, without the package's ``__init__``:
    that imports ``platform`` only to choose the backend (~1 ms of every ``tether
    search``, whose whole process is the figure: issue 18). Everything used here is in
    the backend; an ``import zstandard`` later reuses this very module."""
    global _backend
    if _backend is None:
        _backend = sys.modules.get("zstandard.backend_c") or _load_backend()
    return _backend


def _load_backend() -> Any:
    import os
    from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec, PathFinder

    name = "zstandard.backend_c"
    try:
        found = PathFinder.find_spec("zstandard")
        where = list(found.submodule_search_locations or ()) if found else []
        path = next(
            p
            for d in where
            for p in (os.path.join(d, "backend_c" + s) for s in EXTENSION_SUFFIXES)
            if os.path.exists(p)
        )
        loader = ExtensionFileLoader(name, path)
        module = loader.create_module(ModuleSpec(name, loader, origin=path))
        loader.exec_module(module)
    except Exception:  # (not laid out as expected: the package's own way)
        import zstandard

        return zstandard
    sys.modules[name] = module
    return module


def remember(dict_id: int, data: bytes) -> None:
    if dict_id not in _dicts:
        _dicts[dict_id] = _zstd().ZstdCompressionDict(bytes(data))


def _load(dict_id: int) -> None:
    for path in _paths:
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            continue
        try:
            row = db.execute("SELECT data FROM chunk_dicts WHERE id = ?", (dict_id,)).fetchone()
        except sqlite3.Error:
            row = None
        finally:
            db.close()
        if row is not None:
            remember(dict_id, row[0])
            return
    raise UnknownDictionary(f"no compression dictionary {dict_id} in {', '.join(_paths)}")


def _decompressor(dict_id: int) -> Any:
    d = _decompressors.get((get_ident(), dict_id))
    if d is None:
        z = _zstd()
        if dict_id:
            if dict_id not in _dicts:
                _load(dict_id)
            d = z.ZstdDecompressor(dict_data=_dicts[dict_id])
        else:
            d = z.ZstdDecompressor()
        _decompressors[get_ident(), dict_id] = d
    return d


def plain(data: bytes | memoryview, plain_size: int | None) -> bytes:
    """A chunk's bytes as written, from its stored ``data`` and ``plain_size``."""
    if plain_size is None:
        return bytes(data)
    frame = bytes(data)
    dict_id = _zstd().get_frame_parameters(frame).dict_id
    return _decompressor(dict_id).decompress(frame, max_output_size=plain_size)


def pack(data: bytes, dict_id: int | None) -> tuple[bytes, int | None]:
    """``(stored data, plain_size)`` for a chunk's bytes: compressed (with the
    dictionary ``dict_id`` when given) when that makes them smaller, else as they are."""
    if len(data) < MIN_BYTES:
        return data, None
    key = dict_id or 0
    c = _compressors.get((get_ident(), key))
    if c is None:
        z = _zstd()
        if key:
            c = z.ZstdCompressor(level=LEVEL, dict_data=_dicts[key], write_content_size=False)
        else:
            c = z.ZstdCompressor(level=LEVEL, write_content_size=False)
        _compressors[get_ident(), key] = c
    frame = c.compress(data)
    return (frame, len(data)) if len(frame) < len(data) else (data, None)


def pack_text(text: str) -> tuple[str | bytes, int | None]:
    """``(stored text, plain_size)`` for a rendered transcript chunk's rows: one zstd
    frame of their UTF-8 (no dictionary: a chunk is up to 16 KiB) when that is smaller,
    else the text as it is (``plain_size`` NULL, as every chunk before schema v16)."""
    frame, size = pack(text.encode(), None)
    return (frame, size) if size is not None else (text, None)


def text_bytes(stored: str | bytes, plain_size: int | None) -> bytes:
    """A transcript chunk's rows as UTF-8, from its stored ``text`` and ``plain_size``."""
    if plain_size is None:
        return stored.encode() if isinstance(stored, str) else bytes(stored)
    return plain(stored, plain_size)


def text_of(stored: str | bytes, plain_size: int | None) -> str:
    """A transcript chunk's rows, from its stored ``text`` and ``plain_size``."""
    if plain_size is None and isinstance(stored, str):
        return stored
    return text_bytes(stored, plain_size).decode("utf-8")


async def newest_dict(db: aiosqlite.Connection) -> int | None:
    """The dictionary new chunks are compressed with (loaded into this process)."""
    rows = await db.execute_fetchall(
        "SELECT id FROM chunk_dicts WHERE length(data) > 0 ORDER BY created_at DESC, id LIMIT 1"
    )
    if not rows:
        return None
    dict_id = int(rows[0][0])
    if dict_id not in _dicts:
        data = await db.execute_fetchall("SELECT data FROM chunk_dicts WHERE id = ?", (dict_id,))
        remember(dict_id, data[0][0])
    return dict_id


_indexed_since_check = 0


def note_indexed(nbytes: int) -> bool:
    """Count output indexed by this process. True once ``TRAIN_AFTER`` of it has been
    indexed since the last time it said so: time to see whether a dictionary is due
    (``train_due``, then ``train``, outside any write transaction)."""
    global _indexed_since_check
    _indexed_since_check += nbytes
    if _indexed_since_check < TRAIN_AFTER:
        return False
    _indexed_since_check = 0
    return True


async def train_due(store: Any) -> bool:
    """Whether there is enough new output for a (first or next) dictionary."""
    total = await store.scalar("SELECT coalesce(sum(output_bytes), 0) FROM sessions")
    trained_on = await store.scalar("SELECT max(trained_on) FROM chunk_dicts")
    if trained_on is None:
        return bool(total >= TRAIN_AFTER)
    return bool(total >= trained_on * RETRAIN_GROWTH)


async def train(store: Any) -> int | None:
    """Train a dictionary on a sample of the stored output and keep it if it pays.
    The sample is read and the dictionary trained outside any write transaction (a
    second or so under load: writers must not wait for it); only storing it is one.
    Returns its id, or None when it was not kept (the attempt is still recorded, so
    the next one waits for the output to grow)."""
    import asyncio
    import random
    import time

    ids = [r[0] for r in await store.fetchall("SELECT id FROM output_chunks")]
    rng = random.Random(len(ids))
    picked = rng.sample(ids, min(SAMPLES, len(ids)))  # in random order: read until
    samples: list[bytes] = []  # SAMPLE_BYTES, a sample of the whole output
    size = 0
    for start in range(0, len(picked), 100):
        if size >= SAMPLE_BYTES:
            break
        part = picked[start : start + 100]
        rows = await store.fetchall(
            f"SELECT data, plain_size FROM output_chunks WHERE id IN ({','.join('?' * len(part))})",
            part,
        )
        for d, n in rows:
            if size >= SAMPLE_BYTES:
                break
            text = plain(d, n)
            if len(text) >= MIN_BYTES:
                samples.append(text)
                size += len(text)
    total = await store.scalar("SELECT coalesce(sum(output_bytes), 0) FROM sessions")
    # Not from the seeded sample: two supervisors training at once would pick one id.
    dict_id = random.SystemRandom().randrange(1 << 16, 1 << 31)
    data = await asyncio.to_thread(_trained, samples, dict_id)
    async with store.transaction() as db:
        # Another process may have trained one meanwhile (supervisors index at once):
        # keep theirs, do not add a second for the same growth.
        if not await _still_due(db, total):
            return None
        # A dictionary that did not pay is recorded empty: a marker of the attempt.
        await db.execute(
            "INSERT INTO chunk_dicts (id, data, created_at, trained_on) VALUES (?, ?, ?, ?)",
            (dict_id, data, time.time() if data else 0.0, total),
        )
    if not data:
        return None
    remember(dict_id, data)
    return dict_id


async def _still_due(db: aiosqlite.Connection, total: int) -> bool:
    rows = await db.execute_fetchall("SELECT max(trained_on) FROM chunk_dicts")
    trained_on = rows[0][0] if rows else None
    return trained_on is None or total >= trained_on * RETRAIN_GROWTH


def _trained(samples: list[bytes], dict_id: int) -> bytes:
    """A dictionary trained on ``samples`` if it pays on them, else b""."""
    z = _zstd()
    if len(samples) < 16:
        return b""
    try:
        trained = z.train_dictionary(DICT_BYTES, samples, dict_id=dict_id, level=LEVEL)
    except z.ZstdError:
        return b""  # too little or too uniform a sample: no dictionary
    plain_c = z.ZstdCompressor(level=LEVEL, write_content_size=False)
    dict_c = z.ZstdCompressor(level=LEVEL, dict_data=trained, write_content_size=False)
    without = sum(len(plain_c.compress(s)) for s in samples)
    # (The dictionary's own size is paid once; training waits for TRAIN_AFTER of
    # output, against which 64 KiB is small.)
    with_dict = sum(len(dict_c.compress(s)) for s in samples)
    return trained.as_bytes() if with_dict <= without * _PAYS else b""
