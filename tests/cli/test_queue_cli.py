"""The queue from the command line: run.max_parallel from config.toml, run --group and
--after, ls/show --json queue_position, tether queue, and a supervisor killed with -9
whose slot the next command frees. Real tether processes and real supervisors."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

GATE = "while [ ! -e {gate} ]; do sleep 0.02; done; exit {code}"


@pytest.fixture
def tether_config() -> str:
    return "[general]\nstop_grace = 1.0\n[run]\nmax_parallel = 1\n[groups.gpu]\nmax_parallel = 1\n"


@pytest.fixture(autouse=True)
def _gates_opened_after(tmp_path):  # type: ignore[no-untyped-def]
    """Every gated command ends with its test: one whose supervisor the test killed, or
    that a test left waiting, would otherwise loop on its gate file for ever."""
    yield
    for n in range(1, 33):
        (tmp_path / f"gate-{n}").touch()


def gated(tether, tmp_path, n: int, *extra: str, code: int = 0) -> tuple[str, object]:
    gate = tmp_path / f"gate-{n}"
    done = tether("run", *extra, "--", "sh", "-c", GATE.format(gate=gate, code=code))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), gate


def places(tether) -> dict[int, int | None]:
    return {s["id"]: s["queue_position"] for s in tether.json("ls")}


def test_beyond_max_parallel_run_queues_and_ls_shows_the_place(tether, tmp_path):
    a, gate_a = gated(tether, tmp_path, 1)
    b = tether("run", "--json", "--", "true")
    assert b.returncode == 0
    assert "is queued (1st), waiting for a slot" in b.stderr
    queued = json.loads(b.stdout)
    assert queued["status"] == "pending" and queued["queue_position"] == 1
    c, _ = gated(tether, tmp_path, 3)
    assert places(tether) == {int(a): None, queued["id"]: 1, int(c): 2}
    table = tether.ok("ls")
    assert "queued 1" in table and "queued 2" in table
    assert tether.json("show", c)["queue_position"] == 2
    listing = tether.json("queue")
    assert listing["limits"] == {"max_parallel": 1, "groups": {"gpu": 1}}
    assert [s["id"] for s in listing["queue"]] == [queued["id"], int(c)]
    gate_a.touch()
    tether.wait_status(str(queued["id"]), ("succeeded",))
    tether.wait_status(c, ("running",))


def test_group_limit_and_queue_commands(tether, tmp_path):
    tether.ok("config", "set", "run.max_parallel", "0")
    g1, _ = gated(tether, tmp_path, 1, "--group", "gpu")
    g2, _ = gated(tether, tmp_path, 2, "--group", "gpu")
    g3, _ = gated(tether, tmp_path, 3, "-g", "gpu")
    free, _ = gated(tether, tmp_path, 4)
    shown = {s["id"]: s["status"] for s in tether.json("ls")}
    assert shown == {
        int(g1): "running",
        int(g2): "pending",
        int(g3): "pending",
        int(free): "running",
    }
    assert tether.json("show", g2)["group"] == "gpu"

    assert tether.ok("queue", "up", g3) == f"#{g3} is now 1st in the queue\n"
    assert places(tether)[int(g3)] == 1 and places(tether)[int(g2)] == 2
    stopped = tether.json("stop", g2)  # stop of a queued session: it never starts
    assert stopped["status"] == "stopped" and stopped["runs"] == []
    assert "removed from the queue before it started" in tether.ok("logs", g2)
    assert tether.ok("queue", "start", g3) == f"#{g3} running\n"  # over the group's limit
    assert tether.json("queue")["queue"] == []


def test_after_waits_for_success_and_fails_with_its_dependency(tether, tmp_path):
    tether.ok("config", "set", "run.max_parallel", "0")
    ok, gate_ok = gated(tether, tmp_path, 1)
    bad, gate_bad = gated(tether, tmp_path, 2, code=4)
    waits_ok = tether("run", "--after", ok, "--", "true")
    assert f"waiting for #{ok} to succeed" in waits_ok.stderr
    waits_ok = waits_ok.stdout.strip()
    waits_bad = tether.ok("run", "--after", f"#{bad}", "--", "true").strip()
    gate_bad.touch()
    failed = tether.wait_status(waits_bad, ("failed",))
    assert failed["runs"] == [] and failed["queue_position"] is None
    assert tether.ok("logs", waits_bad) == (
        f"not started: #{bad}, which it waited for (--after), ended failed\n"
    )
    assert tether.json("show", waits_ok)["status"] == "pending"
    gate_ok.touch()
    assert tether.wait_status(waits_ok, ("succeeded",))["runs"][0]["exit_code"] == 0


def test_a_supervisor_killed_with_9_frees_its_slot_at_the_next_command(tether, tmp_path):
    """Its guardian too (it would kick the queue itself): only ``tether ls`` is left."""
    a, _ = gated(tether, tmp_path, 1)
    b = tether.ok("run", "--", "true").strip()
    assert tether.json("show", b)["status"] == "pending"
    lock = next((tether.home / "run").glob(f"*/{a}.lock"))
    supervisor = int(lock.read_text())
    command = tether.json("show", a)["pid"]
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    (guardian,) = [int(p) for p in children if int(p) != command]
    os.kill(guardian, signal.SIGKILL)
    os.kill(supervisor, signal.SIGKILL)
    shown = {s["id"]: s["status"] for s in tether.json("ls")}  # reconcile, then kick
    assert shown[int(a)] == "lost"
    assert shown[int(b)] in ("running", "succeeded")
    tether.wait_status(b, ("succeeded",))


def test_bad_queue_input_is_refused_clearly(tether, tmp_path):
    done = tether("run", "--after", "999", "--", "true")
    assert done.returncode == 1 and done.stderr == "tether: no session #999\n"
    assert tether.json("ls") == []  # nothing was created
    done = tether("queue", "up")
    assert done.returncode == 2 and "queue up needs a session id" in done.stderr
    done = tether("queue", "sideways", "1")
    assert done.returncode == 2 and "invalid choice" in done.stderr
    sid = tether.ok("run", "--", "true").strip()
    tether.wait_status(sid, ("succeeded",))
    done = tether("queue", "cancel", sid)
    assert done.returncode == 1
    assert done.stderr == f"tether: session #{sid} is not in the queue: it is succeeded\n"


def test_resume_beyond_max_parallel_queues_like_run(tether, tmp_path):
    first = tether.ok("run", "--", "true").strip()
    tether.wait_status(first, ("succeeded",))
    a, gate_a = gated(tether, tmp_path, 1)
    resumed = tether("resume", first)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == first
    assert f"#{first} is queued (1st), waiting for a slot" in resumed.stderr
    assert places(tether) == {int(a): None, int(first): 1}
    gate_a.touch()  # a's supervisor starts the resumed run
    tether.wait_status(a, ("succeeded",))
    tether.wait_status(first, ("succeeded",))
    shown = tether.json("show", first)
    assert shown["run_count"] == 2 and shown["queue_position"] is None
