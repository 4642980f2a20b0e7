"""Several processes (and coroutines) on one database at once: nothing lost, nothing
duplicated, no 'database is locked' reaching a caller."""

from __future__ import annotations

import asyncio
import json
import time

from storage import open_store
from tests.support.database import (
    assert_output_index_exact,
    check_unique_ids,
    create_concurrently,
    rows,
    spawn_python,
)

_WRITER = r"""
import asyncio, json, random, sys
from storage import open_store
path, go = sys.argv[1], sys.argv[5]
shared, me, records = (int(a) for a in sys.argv[2:5])
rng = random.Random(me)
async def main():
    import os, time
    while not os.path.exists(go):
        time.sleep(0.005)
    async with open_store(path, actor=f"writer{me}") as st:
        own = await st.sessions.create(["writer", str(me)], cwd="/")
        i = 0
        while i < records:
            n = rng.randint(1, 3)
            batch = b"".join(b"w%d r%05d %s\n" % (me, j, b"x" * rng.randint(0, 300))
                             for j in range(i, min(i + n, records)))
            i += n
            if rng.random() < 0.3:
                await st.output.append_many([(shared, "stdout", batch, None),
                                             (own.id, "stderr", batch, None)])
            else:
                await st.output.append(shared, "stdout" if me % 2 else "stderr", batch)
                await st.output.append(own.id, "stderr", batch)
            if rng.random() < 0.05:
                await st.sessions.update(own.id, notes=f"at {i}")
        print(json.dumps({"own": own.id}))
asyncio.run(main())
"""

_READER = r"""
import asyncio, json, sys, time
from storage import open_store
path, shared, go, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
async def main():
    import os
    while not os.path.exists(go):
        time.sleep(0.005)
    reads, mark, seen = 0, -1, 0
    async with open_store(path, actor="reader") as st:
        version = await st.data_version()
        while not os.path.exists(stop):
            sessions = await st.sessions.list()
            assert await st.sessions.count() >= len(sessions) - 8
            n = await st.output.line_count(shared)
            lines = await st.output.read_lines(shared, 0, n)
            assert [ln.number for ln in lines] == list(range(n)), "gap or duplicate"
            assert all(ln.terminated for ln in lines), "a record was cut"
            new = await st.output.since(shared, mark)
            assert [ln.number for ln in new] == list(range(mark + 1, mark + 1 + len(new)))
            if new:
                mark = new[-1].number
                seen += len(new)
            await st.output.tail(shared, 20, stream="stderr")
            await st.search("r00001")
            if await st.data_version() != version:
                version = await st.data_version()
            reads += 1
    print(json.dumps({"reads": reads, "seen": seen}))
asyncio.run(main())
"""


def test_eight_writers_and_a_reader(db_path, tmp_path):
    async def setup() -> int:
        async with open_store(db_path) as st:
            return (await st.sessions.create(["shared"], cwd="/")).id

    shared = asyncio.run(setup())
    go, stop = tmp_path / "go", tmp_path / "stop"
    per_writer = 120
    writers = [
        spawn_python(_WRITER, str(db_path), str(shared), str(me), str(per_writer), str(go))
        for me in range(8)
    ]
    reader = spawn_python(_READER, str(db_path), str(shared), str(go), str(stop))
    time.sleep(0.3)
    go.touch()
    outs = [w.communicate(timeout=300) for w in writers]
    stop.touch()
    r_out, r_err = reader.communicate(timeout=60)
    for (_, err), w in zip(outs, writers, strict=True):
        assert w.returncode == 0, err
        assert "locked" not in err
    assert reader.returncode == 0, r_err
    assert json.loads(r_out)["reads"] > 0
    owns = [json.loads(out)["own"] for out, _ in outs]

    async def check() -> None:
        async with open_store(db_path) as st:
            data = await st.output.read_bytes(shared)
            got = data.split(b"\n")[:-1]
            assert len(got) == 8 * per_writer  # nothing lost...
            assert len(set(got)) == len(got)  # ...nothing twice
            for me in range(8):
                mine = [ln for ln in got if ln.startswith(b"w%d " % me)]
                assert [int(ln.split()[1][1:]) for ln in mine] == list(range(per_writer))
            s = await st.sessions.get(shared)
            assert s.output_lines == len(got) and s.output_bytes == len(data)
            for me, own in enumerate(owns):
                own_data = await st.output.read_bytes(own)
                lines = own_data.split(b"\n")[:-1]
                assert [int(ln.split()[1][1:]) for ln in lines] == list(range(per_writer))
                assert all(ln.startswith(b"w%d " % me) for ln in lines)
            assert len({s.uid for s in await st.sessions.list()}) == 9
            assert (await st.integrity_check()).ok

    asyncio.run(check())
    assert_output_index_exact(db_path)
    chunks = rows(db_path, "SELECT session_id, first_line, line_count FROM output_chunks")
    by_session: dict[int, list[tuple[int, int]]] = {}
    for sid, first, count in chunks:
        by_session.setdefault(sid, []).append((first, count))
    for spans in by_session.values():  # chunks tile the line numbers exactly
        spans.sort()
        assert spans[0][0] == 0
        assert all(a + n == b for (a, n), (b, _) in zip(spans, spans[1:], strict=False))


def test_ids_and_uids_are_unique_across_processes(db_path, tmp_path):
    asyncio.run(_touch(db_path))
    results = create_concurrently(db_path, tmp_path, [40] * 6)
    check_unique_ids(db_path, results)
    assert rows(db_path, "SELECT count(*) FROM sessions") == [(240,)]


async def _touch(db_path) -> None:
    async with open_store(db_path):
        pass


async def test_many_coroutines_on_one_store_and_a_second_store(db_path):
    async with open_store(db_path) as a, open_store(db_path) as b:
        s = await a.sessions.create(["x"], cwd="/")

        async def write(store, tag: int) -> None:
            for i in range(40):
                await store.output.append(s.id, "stdout", b"t%d %d\n" % (tag, i))

        async def read() -> int:
            n = 0
            for _ in range(40):
                count = await b.output.line_count(s.id)
                assert len(await b.output.read_lines(s.id, 0, count)) == count
                n += 1
            return n

        await asyncio.gather(*(write(a if t % 2 else b, t) for t in range(6)), read())
        lines = (await a.output.read_bytes(s.id)).split(b"\n")[:-1]
        assert sorted(lines) == sorted(b"t%d %d" % (t, i) for t in range(6) for i in range(40))
        assert await a.output.line_count(s.id) == 240
