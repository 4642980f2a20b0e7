"""kill -9 in the middle of the three multi-step writes: a TUI autosave, ``tether
import``, ``tether cleanup --yes``.

The kills are aimed, not only timed: the import is killed while it reads the file
(its read offset, from /proc) and at points of its write transaction (the size of
the -wal file); the cleanup after given numbers of purged sessions (its progress
lines), while it makes its backup, and while it reclaims space; the TUI right after
its autosave committed the first of several edits (watched through a second
connection), at a seeded random moment while edits are being typed, and before any
autosave. Afterwards the database passes its integrity checks and everything is
either as before or completely as intended: no session, edit or import half-written.
"""

from __future__ import annotations

import asyncio
import os
import random
import shlex
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from storage import open_store
from storage.engine.search import search_sessions
from tests.support.reliability import files_of
from tests.support.tether_cli import TETHER, Tether
from tests.support.tmux import Tmux
from tests.support.transfer import snapshot

OLD = time.time() - 30 * 86400


def _fresh_home(root: Path, name: str, config: str = "") -> Tether:
    home = root / name
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("[general]\nstop_grace = 1.0\n" + config)
    return Tether(home)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> bool:  # type: ignore[no-untyped-def]
    """SIGKILL ``proc`` as soon as ``ready()`` holds; False if it exited first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.001)
    return False


def _integrity(db: Path) -> None:
    async def check() -> None:
        async with open_store(db) as store:
            report = await store.integrity_check()
            assert report.ok, report.problems

    asyncio.run(check())


# -- tether import -------------------------------------------------------------------------
async def _seed_export_source(db: Path) -> None:
    async with open_store(db) as store:
        for i in range(8):
            s = await store.sessions.create(["make", f"t{i}"], "/src", name=f"imp-{i}", tags=["x"])
            await store.runs.start(s.id, at=OLD)
            data = b"".join(
                b"session %d line %d imported words here\n" % (i, n) for n in range(40000)
            )
            await store.output.append(s.id, "stdout", data, OLD + 1, index=False)
            await store.runs.finish(s.id, exit_code=0, at=OLD + 2)


def _read_offset(pid: int, name: str) -> int | None:
    """Where process ``pid`` is reading the file ``name`` (None when it has it not open)."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").endswith(name):
                    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                        return int(f.readline().split()[1])
            except (OSError, ValueError, IndexError):
                continue
    except OSError:
        pass
    return None


def _wal_size(db: Path) -> int:
    try:
        return os.path.getsize(f"{db}-wal")
    except OSError:
        return 0


def test_kill_9_of_import_mid_file_changes_nothing(tmp_path, figures):
    source = _fresh_home(tmp_path, "source")
    asyncio.run(_seed_export_source(source.home / "tether.db"))
    export = tmp_path / "sessions.json"
    source.ok("export", "--all", "-o", str(export))
    size = export.stat().st_size

    target = _fresh_home(tmp_path, "target")
    target.ok("run", "--", "echo", "mine")
    target.wait_status("1", ("succeeded",))
    db = target.home / "tether.db"
    _integrity(db)  # (closing the last connection checkpoints and removes the WAL)
    assert not Path(f"{db}-wal").exists()
    pristine_files, pristine = files_of(db), snapshot(db)

    # The control: left alone, the import succeeds; how big its transaction grows.
    control = _fresh_home(tmp_path, "control")
    shutil.copy(db, control.home / "tether.db")
    proc = control.popen("import", str(export), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    biggest = 0
    while proc.poll() is None:
        biggest = max(biggest, _wal_size(control.home / "tether.db"))
        time.sleep(0.001)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert len(snapshot(control.home / "tether.db")) == len(pristine) + 8
    assert biggest > 1_000_000, f"the write pass is too small to aim at ({biggest} bytes)"

    points = {
        "reading the file (40%)": lambda pid: (
            (_read_offset(pid, export.name) or 0) > 0.4 * size and not _wal_size(db)
        ),
        "writing (WAL at 10%)": lambda pid: _wal_size(db) > 0.1 * biggest,
        "writing (WAL at 50%)": lambda pid: _wal_size(db) > 0.5 * biggest,
        "writing (WAL at 90%)": lambda pid: _wal_size(db) > 0.9 * biggest,
    }
    killed = []
    for what, ready in points.items():
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        db.write_bytes(pristine_files["db"])
        proc = target.popen("import", str(export), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        landed = _kill_when(proc, lambda p=proc, r=ready: r(p.pid))
        if not landed:  # it finished first: then it must be all there
            assert len(snapshot(db)) == len(pristine) + 8, what
            continue
        after = snapshot(db)
        if after != pristine and len(after) == len(pristine) + 8:
            # Killed after its one transaction committed, before the process exited:
            # the import is whole, which is as atomic as nothing (seen once in CI).
            _integrity(db)
            continue
        killed.append(what)
        assert files_of(db)["db"] == pristine_files["db"], f"{what}: the database file changed"
        assert after == pristine, f"{what}: the killed import left something behind"
        _integrity(db)
        assert snapshot(db) == pristine
    figures.add("kill -9 import", trials=len(points), faults=len(killed))
    assert len(killed) >= 3, f"only these kills landed mid-import: {killed}"
    # And the same file imports completely afterwards.
    target.ok("import", str(export))
    assert len(snapshot(db)) == len(pristine) + 8


# -- tether cleanup --yes ------------------------------------------------------------------
async def _seed_cleanup(db: Path, *, big_recent: bool) -> None:
    async with open_store(db) as store:
        for i in range(30):
            s = await store.sessions.create(
                ["job", str(i)], "/w", name=f"old-{i}", tags=["nightly"], created_at=OLD
            )
            await store.runs.start(s.id, at=OLD)
            data = b"".join(b"old%d entry %d words to index\n" % (i, n) for n in range(4000))
            await store.output.append(s.id, "stdout", data, OLD + 1)
            await store.runs.finish(s.id, exit_code=i % 2, at=OLD + 2)
        for i in range(2):
            s = await store.sessions.create(["serve", str(i)], "/w", name=f"recent-{i}")
            await store.runs.start(s.id)
            n = 160_000 if big_recent else 1000
            data = b"".join(b"recent%d line %d stays\n" % (i, k) for k in range(n))
            await store.output.append(s.id, "stdout", data)
            await store.runs.finish(s.id, exit_code=0)


@pytest.fixture(scope="module")
def cleanup_templates(tmp_path_factory):
    """Two databases: with big recent sessions (the purge goes session by session)
    and without (the purge is one transaction that rebuilds the index)."""
    root = tmp_path_factory.mktemp("cleanup")
    out = {}
    for name, big in (("per-chunk", True), ("rebuild", False)):
        db = root / f"{name}.db"
        asyncio.run(_seed_cleanup(db, big_recent=big))
        out[name] = db.read_bytes()
    return out


def _progress(line: str) -> tuple[str, int]:
    """('purging', 12) from 'purging: 12/30 sessions, 40%'."""
    phase, _, rest = line.partition(": ")
    done = rest.split("/", 1)[0]
    return phase, int(done) if done.isdigit() else -1


# (template, where, when to kill, whether the kill must come before the cleanup ends:
# the short last phases may finish before the kill arrives)
CLEANUP_POINTS = [
    ("per-chunk", "backup", lambda phase, n: phase == "plan", True),
    ("per-chunk", "purging 5 sessions", lambda phase, n: phase == "purging" and n >= 5, True),
    ("per-chunk", "purging 18 sessions", lambda phase, n: phase == "purging" and n >= 18, True),
    ("per-chunk", "reclaiming space", lambda phase, n: phase == "reclaiming space", False),
    ("rebuild", "purging", lambda phase, n: phase == "purging" and n >= 10, True),
    ("rebuild", "re-indexing", lambda phase, n: phase.startswith("re-indexing"), False),
]


@pytest.mark.parametrize(
    "template,point,ready,must_land",
    CLEANUP_POINTS,
    ids=[f"{c[0]}: {c[1]}" for c in CLEANUP_POINTS],
)
def test_kill_9_of_cleanup_leaves_each_session_whole_or_gone(
    tmp_path, cleanup_templates, figures, template, point, ready, must_land
):
    t = _fresh_home(tmp_path, "home")
    db = t.home / "tether.db"
    db.write_bytes(cleanup_templates[template])
    before = snapshot(db)
    recent = {uid for uid, s in before.items() if s["session"][1].startswith("recent")}
    # stdout on a terminal shows the plan at once; progress comes line by line on a pipe.
    master, slave = os.openpty()
    proc = t.popen("cleanup", "--yes", "--older-than", "7d", stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    lines: list[str] = []
    stop = threading.Event()

    def read_progress() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.strip())
        stop.set()

    def read_plan() -> None:
        with open(master, "rb", buffering=0) as f:
            try:
                while f.read(4096):
                    lines.append("plan: ")
            except OSError:
                pass

    readers = [threading.Thread(target=read_progress), threading.Thread(target=read_plan)]
    for r in readers:
        r.start()
    landed = _kill_when(proc, lambda: any(ready(*_progress(x)) for x in list(lines)))
    stop.wait(10)
    for r in readers:
        r.join(10)
    figures.add("kill -9 cleanup", trials=1, faults=int(landed))
    assert landed or not must_land, f"cleanup ended before the kill ({point}): {lines[-5:]}"

    after = snapshot(db)  # (SQLite rolls back what the killed process left unfinished)
    _integrity(db)
    changed = [uid for uid in after if after[uid] != before[uid]]
    assert not changed, f"sessions changed but not gone: {changed}"
    assert recent <= set(after), "a recent session was purged"
    gone = set(before) - set(after)

    async def index_agrees() -> None:
        async with open_store(db) as store:
            for s in await store.sessions.list():
                assert s.id in await search_sessions(store, s.name, limit=100), s.name
            hits = await store.search("old29 entry")
            still = any(s["session"][1] == "old-29" for s in after.values())
            assert bool(hits) == still

    asyncio.run(index_agrees())
    for backup in (t.home / "backups").glob("*"):
        if not backup.name.endswith(".partial"):
            _integrity(backup)  # a finished backup is a whole database
    # The next cleanup finishes the job.
    t.ok("cleanup", "--yes", "--older-than", "7d")
    final = snapshot(db)
    assert set(final) == recent and all(final[u] == before[u] for u in recent)
    if template == "per-chunk" and point.startswith("purging"):
        assert gone, "sessions purged before the kill stay purged"
    if not landed:
        assert len(gone) == 30, "a cleanup that ended purged everything old"


# -- the TUI, during autosave --------------------------------------------------------------
EMPTY_TAGS = "words separated by spaces"  # the tags field's placeholder: shown when empty
TUI_TRIALS = [
    ("right after the first edit is saved", 6.0),
    ("at a random moment while editing", 0.5),
    ("before any autosave", 60.0),
]


class TuiTmux(Tmux):
    """Waits that give up as soon as the TUI under test has died."""

    def wait_shown(self, text: str, alive, timeout: float = 30.0, fail: bool = True) -> bool:  # type: ignore[no-untyped-def]
        """True when ``text`` is on screen; False when the TUI died first (or, without
        ``fail``, when the time is up)."""
        deadline = time.monotonic() + timeout
        while alive():
            if text in self.screen():
                return True
            if time.monotonic() > deadline:
                assert not fail, f"{text!r} never appeared:\n{self.screen()}"
                return False
            time.sleep(0.05)
        return False

    def wait_gone(self, text: str, alive, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while alive():
            if text not in self.screen():
                return True
            assert time.monotonic() < deadline, f"{text!r} stayed:\n{self.screen()}"
            time.sleep(0.05)
        return False


async def _seed_tui(db: Path) -> None:
    async with open_store(db) as store:
        for i in range(5):
            s = await store.sessions.create(["job", str(i)], "/w", name=f"job-{i}", tags=["old"])
            await store.sessions.set_status(s.id, "failed", reason="seeded")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _state(db: Path) -> dict[int, tuple[frozenset[str], bool, str]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tags: dict[int, set[str]] = {}
        for sid, tag in con.execute("SELECT session_id, tag FROM session_tags"):
            tags.setdefault(sid, set()).add(tag)
        return {
            sid: (frozenset(tags.get(sid, ())), bool(pinned), name)
            for sid, pinned, name in con.execute("SELECT id, pinned, name FROM sessions")
        }
    finally:
        con.close()


def _new_tags_seen(db: Path, prefix: str) -> bool:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            found = con.execute("SELECT 1 FROM session_tags WHERE tag LIKE ?", (prefix + "%",))
            return bool(found.fetchone())
        finally:
            con.close()
    except sqlite3.Error:
        return False


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize("trial", range(len(TUI_TRIALS)), ids=[t[0] for t in TUI_TRIALS])
def test_kill_9_of_the_tui_during_autosave_keeps_each_edit_whole(tmp_path, figures, trial):
    what, interval = TUI_TRIALS[trial]
    t = _fresh_home(tmp_path, "home", f"autosave_interval = {interval}\nreconcile_interval = 5\n")
    db = t.home / "tether.db"
    asyncio.run(_seed_tui(db))
    before = _state(db)
    # Edit k gives its session the tags tTka tTkb tTkc (unique on screen, so the test
    # can see that they were typed into the field before pressing enter).
    edits = [frozenset(f"t{trial}{k}{c}" for c in "abc") for k in range(4)]
    tmux = TuiTmux(f"tether-rel-{uuid.uuid4().hex[:8]}")
    env = f"TETHER_HOME={shlex.quote(str(t.home))} TERM=xterm-256color"
    command = " ".join(shlex.quote(a) for a in TETHER)
    tmux.run(
        "new-session", "-d", "-s", tmux.name, "-x", "120", "-y", "36",
        f"env {env} {command}; echo EXITED-$?; sleep 60",
    )  # fmt: skip
    killer: threading.Thread | None = None
    try:
        shell = int(tmux.run("display", "-p", "-t", tmux.name, "#{pane_pid}").strip())
        deadline = time.monotonic() + 30
        while not _children(shell):
            assert time.monotonic() < deadline, "tether did not start"
            time.sleep(0.05)
        pid = _children(shell)[0]

        def alive() -> bool:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] != "Z"
            except OSError:
                return False

        def kill() -> None:
            if alive():
                os.kill(pid, signal.SIGKILL)

        assert tmux.wait_shown("job-4", alive)
        if trial == 1:
            # Once the first edit is saved, wait a seeded moment while the next edits
            # are typed and autosaved one by one (every 0.5 s), then kill.
            delay = random.Random(trial).uniform(0.0, 1.5)

            def kill_later() -> None:
                deadline = time.monotonic() + 60
                while alive() and not _new_tags_seen(db, f"t{trial}"):
                    if time.monotonic() > deadline:
                        return
                    time.sleep(0.005)
                time.sleep(delay)
                kill()

            killer = threading.Thread(target=kill_later, daemon=True)
            killer.start()
        edited = attempts = 0
        while edited < 4 and alive() and attempts < 12:  # newest first: job-4 ... job-1
            attempts += 1
            tmux.keys("t")
            if not tmux.wait_shown("Tags of", alive):
                break
            typed = " ".join(sorted(edits[edited]))
            # The old tags go (ctrl+u), the new ones come in one edit. Textual runs
            # ctrl+u as a binding once the key has bubbled up to the app, while letters
            # typed after it go straight into the field: on a loaded machine a late
            # ctrl+u wiped them after they were seen, and enter saved "no tags". So type
            # only once the field is seen empty (a ctrl+u sent before the field had focus
            # is lost: then it never empties), and never retype into the same field.
            tmux.keys("C-u")
            seen = tmux.wait_shown(EMPTY_TAGS, alive, timeout=10, fail=False)
            if seen:
                tmux.type(typed)
                seen = tmux.wait_shown(typed, alive, timeout=30, fail=False)
            if not seen:
                # Never submit a field the test did not manage to fill: that would save
                # an edit ("no tags") the test never meant. Cancel and try again.
                if alive():
                    tmux.keys("Escape")
                    tmux.wait_gone("Tags of", alive)
                continue
            tmux.keys("Enter")
            if not tmux.wait_gone("Tags of", alive):
                break
            edited += 1
            tmux.keys("j")
        if alive() and edited == 4:
            tmux.keys("P")  # and pin the fifth
        if trial == 0:
            deadline = time.monotonic() + 60
            while alive() and not _new_tags_seen(db, f"t{trial}"):
                assert time.monotonic() < deadline, "the autosave never came"
                time.sleep(0.002)
            kill()
        elif killer is not None:
            killer.join()
        else:
            kill()
        deadline = time.monotonic() + 10
        while alive():
            assert time.monotonic() < deadline, "SIGKILL did not end the TUI"
            time.sleep(0.01)
    finally:
        tmux.kill()

    _integrity(db)
    after = _state(db)
    applied, pinned = [], []
    for sid, (tags, pin, name) in after.items():
        old_tags, old_pin, old_name = before[sid]
        assert tags == old_tags or tags in edits, f"#{sid}: tags {sorted(tags)} are half an edit"
        assert name == old_name
        if tags in edits:
            applied.append(tags)
        if pin != old_pin:
            pinned.append(sid)
    saved = len(applied)
    assert len(set(applied)) == saved, "one edit landed on two sessions"
    # Only the fifth session was pinned, after the four tag edits.
    assert len(pinned) <= 1 and not (pinned and after[pinned[0]][0] in edits), pinned

    async def index_agrees() -> None:
        async with open_store(db) as store:
            for word in ["old", *(f"t{trial}{k}a" for k in range(4))]:
                found = set(await search_sessions(store, word, limit=100))
                expect = {sid for sid, (tags, _, _) in after.items() if word in tags}
                assert found == expect, (word, found, expect)
            ui = await store.settings.get("tui.state")
            assert ui is None or isinstance(ui, dict)

    asyncio.run(index_agrees())
    figures.add("kill -9 TUI autosave", trials=1, faults=1)
    if trial in (0, 1):
        assert saved >= 1, "the kill came after an autosave had saved an edit"
    if trial == 2:
        assert saved == 0, "nothing is saved before the autosave interval"
