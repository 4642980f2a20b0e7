"""30 sessions of 100 000 lines each at once, two readers following, a cleanup running.

Thirty ``tether run`` processes start at the same moment, each a command writing
100 000 numbered lines (tagged with its session's number) in odd-sized pieces over
a few seconds. Two ``tether logs -f`` follow two of them from the start, and a
``tether cleanup --yes`` purges twenty old sessions while all this goes on. Then:
every line of every session is stored exactly once and in order; both readers saw
exactly their session's lines; the cleanup purged the old sessions and nothing
else; all output was indexed; the database passes its integrity checks; no lock
error, traceback or "unexpected error" shows up in the stderr of any of the 33
processes; and the supervisors' log has no error or traceback. Under load a
supervisor may find the database locked for a moment: it logs a WARN and retries.
Such a retry is no failure when it worked, and the checks above are what show that
it did (nothing lost, every run recorded, everything indexed).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path

from runner.locations import lock_is_held
from storage import open_store
from tests.support.reliability import clean_stderr, numbered, producer
from tests.support.tether_cli import TETHER

SESSIONS = 30
LINES = 100_000
RATE = 350_000  # bytes a second per session: about 3 s each
OLD = time.time() - 30 * 86400


async def _seed_old(db: Path) -> None:
    async with open_store(db) as store:
        for i in range(20):
            s = await store.sessions.create(["old", str(i)], "/w", name=f"old-{i}", created_at=OLD)
            await store.runs.start(s.id, at=OLD)
            data = b"".join(b"old %d line %d\n" % (i, n) for n in range(5000))
            await store.output.append(s.id, "stdout", data, OLD + 1)
            await store.runs.finish(s.id, exit_code=0, at=OLD + 2)


async def _live(db: Path, ids: list[int]) -> list[int]:
    async with open_store(db) as store:
        return [i for i in ids if not (await store.sessions.require(i)).ended]


async def _wait_all_ended(db: Path, ids: list[int], timeout: float = 600) -> None:
    """(A deadline for a broken build, not a timing assertion.)"""
    deadline = time.monotonic() + timeout
    async with open_store(db) as store:
        while True:
            live = [i for i in ids if not (await store.sessions.require(i)).ended]
            if not live:
                return
            assert time.monotonic() < deadline, f"still running: {live}"
            await asyncio.sleep(0.5)


def _wait_supervisors_gone(home: Path, timeout: float = 600) -> None:
    """Every supervisor has let go of its lock: it indexes what is left after its run
    ends. (A deadline for a broken build, not a timing assertion.)"""
    deadline = time.monotonic() + timeout
    while held := [p for p in (home / "run").glob("*/*.lock") if lock_is_held(p)]:
        assert time.monotonic() < deadline, f"supervisors still running: {held}"
        time.sleep(0.2)


# What a supervisor logs when the database is locked for a moment and it tries again
# (runner/writer.py, runner/indexer.py); the writer also says when it could write again.
LOCK_RETRY = re.compile(
    r"^\S+ WARN #(\d+) pid \d+: (?:"
    r"could not .+ yet \(database (?:table )?is locked\); retrying"
    r"|(?:indexing|merging the index) postponed: database (?:table )?is locked"
    r"|cannot write output to the database \(database (?:table )?is locked\); buffering .+"
    r")$"
)
WRITER_WAITING = re.compile(r"^\S+ WARN #(\d+) pid \d+: cannot write output to the database")
WRITER_BACK = re.compile(r"^\S+ INFO #(\d+) pid \d+: the database is writable again$")


def _lock_trouble(log_text: str) -> list[str]:
    """Entries of the supervisors' log that mention a lock and are not a retry, and
    writers that waited for the database without writing again afterwards."""
    bad, waiting = [], set()
    for line in log_text.splitlines():
        if line.startswith(" "):  # continuation of an entry (tracebacks fail anyway)
            continue
        if m := WRITER_WAITING.match(line):
            waiting.add(m[1])
        elif m := WRITER_BACK.match(line):
            waiting.discard(m[1])
        if "locked" in line and not LOCK_RETRY.match(line):
            bad.append(line)
    return bad + [f"#{sid}: the writer never wrote again" for sid in sorted(waiting)]


def test_30_sessions_of_100k_lines_with_followers_and_a_cleanup(tether, home, tmp_path, figures):
    db = home / "tether.db"
    asyncio.run(_seed_old(db))
    logs = tmp_path / "logs"
    logs.mkdir()

    def spawn(name: str, *args: str) -> tuple[subprocess.Popen, Path, Path]:
        out, err = logs / f"{name}.out", logs / f"{name}.err"
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(
                [*TETHER, *args],
                env=tether.env,
                stdout=o,
                stderr=e,
                stdin=subprocess.DEVNULL,
            )
        return proc, out, err

    tags = [f"p{i:02d}" for i in range(SESSIONS)]
    # The sessions end only once the cleanup is done, so they are live while it runs
    # however slow the machine is (they write their lines first, at RATE).
    release = tmp_path / "release"
    runs = [
        spawn(
            f"run-{tag}",
            "run",
            "-n",
            tag,
            "--",
            *producer(
                "--seed", i, "--tag", tag, "--count", LINES, "--rate", RATE, "--hold", release
            ),
        )
        for i, tag in enumerate(tags)
    ]
    ids: dict[str, int] = {}
    for tag, (proc, out, _) in zip(tags, runs, strict=True):
        assert proc.wait(120) == 0, (tag, out.read_text(), (logs / f"run-{tag}.err").read_text())
        ids[tag] = int(out.read_text().strip())
    followers = {tag: spawn(f"follow-{tag}", "logs", "-f", str(ids[tag])) for tag in tags[:2]}
    cleanup = spawn("cleanup", "cleanup", "--yes", "--older-than", "7d")

    assert cleanup[0].wait(300) == 0, cleanup[2].read_text()
    overlapped = asyncio.run(_live(db, [ids[t] for t in tags]))
    release.touch()
    asyncio.run(_wait_all_ended(db, list(ids.values())))
    for tag, (proc, _, err) in followers.items():
        assert proc.wait(120) == 0, (tag, err.read_text())

    # Every process's stderr, and the supervisors' own log.
    for proc, _, err in [*runs, *followers.values(), cleanup]:
        clean_stderr(err.read_text(), " ".join(proc.args[-3:]))
    # The log, once every supervisor is done (indexing too). A lock met under load and
    # retried is logged at WARN and is fine: what it must not cost (a byte, a run's
    # record, the index) is checked below. An error, a traceback, or a lock that was
    # not retried or never got over is a failure.
    _wait_supervisors_gone(home)
    runtime_logs = list((home / "run").glob("*/supervisor.log"))
    log_text = "".join(p.read_text() for p in runtime_logs)
    assert " ERROR " not in log_text and "Traceback" not in log_text, log_text[-3000:]
    assert not _lock_trouble(log_text), (_lock_trouble(log_text), log_text[-3000:])

    async def check() -> int:
        checked = 0
        async with open_store(db) as store:
            report = await store.integrity_check()
            assert report.ok, report.problems
            for tag, sid in ids.items():
                s = await store.sessions.require(sid)
                assert s.status == "succeeded", (tag, s.status)
                data = await store.output.read_bytes(sid, "stdout")
                assert data == numbered(1, LINES + 1, tag), f"{tag}: the stored lines differ"
                assert s.output_lines == LINES + 1  # and the final system line
                # Postponed indexing was made good before the supervisor let go.
                assert await store.output.unindexed_bytes(sid) == 0, f"{tag}: not all indexed"
                checked += LINES
            names = {s.name for s in await store.sessions.list(include_deleted=True)}
            assert names == set(tags), f"the cleanup purged {set(tags) - names} / kept extra"
        return checked

    checked = asyncio.run(check())
    for tag, (_, out, _) in followers.items():
        seen = out.read_bytes()
        mine = b"".join(line for line in seen.splitlines(keepends=True) if line.startswith(b"p"))
        assert mine == numbered(1, LINES + 1, tag), f"follower of {tag} saw other lines"
        checked += LINES
    figures.add("30 sessions x 100k lines", trials=1, lines=checked, faults=0)
    # Worth something only if the cleanup and the readers ran while sessions wrote.
    assert overlapped, "every session had ended before the cleanup did"
