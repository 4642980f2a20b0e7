"""``tether audit``: the log oldest first (``--tail N`` keeps the newest), one session by
its id or uid, purged ones too (scrubbed of their command line), ``--since`` as the
query's ``since:``, ``--json`` one object per line with secret env values masked."""

from __future__ import annotations

import asyncio
import json

from home.paths import resolve_paths
from storage import open_store

SECRET = "hunter2auditcli"


def _entries(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def _finished(tether, *argv: str, name: str | None = None) -> str:
    sid = tether.ok("run", *(["--name", name] if name else []), "--", *argv).strip()
    tether.wait_status(sid, ("succeeded", "failed"))
    return sid


def test_audit_lists_oldest_first_with_who_and_which_session(tether):
    a = _finished(tether, "true", name="build")
    b = _finished(tether, "echo", SECRET)
    tether.ok("rm", b)
    out = tether.ok("audit")
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "ACTOR", "ACTION", "SESSION", "DETAIL"]
    rows = [line.split(None, 5)[2:] for line in lines[1:]]  # after date and time
    assert rows == [
        ["cli", "create", "#1", "build  true"],
        ["cli", "create", "#2", SECRET.join(["echo ", ""])],
        ["cli", "trash", "#2"],
    ]
    assert (a, b) == ("1", "2")
    tail = tether.ok("audit", "--tail", "1").splitlines()
    assert len(tail) == 2 and " trash " in tail[1]
    only = _entries(tether.ok("audit", "#1", "--json"))
    assert [(e["action"], e["session_id"], e["actor"]) for e in only] == [("create", 1, "cli")]
    assert only[0]["detail"] == {"argv": ["true"]}


def test_audit_of_a_purged_session_keeps_what_was_done_not_its_command(tether):
    sid = _finished(tether, "echo", SECRET)
    uid = tether.json("show", sid)["uid"]
    tether.ok("rm", sid)
    tether.ok("cleanup", "--trash-days", "0s", "--yes")
    assert tether("show", sid).returncode == 1  # gone
    for ref in (sid, f"#{sid}", uid[:13]):
        entries = _entries(tether.ok("audit", ref, "--json"))
        assert [e["action"] for e in entries] == ["create", "trash", "purge"], ref
    text = tether.ok("audit", sid)
    assert SECRET not in text and SECRET not in json.dumps(entries)
    assert f"#{sid} (purged)" in text
    assert "command of 2 words · removed at purge" in text
    assert entries[-1]["detail"]["uid"] == uid


def test_audit_since_and_its_errors(tether):
    _finished(tether, "true")
    assert len(_entries(tether.ok("audit", "--since", "1h", "--json"))) == 1
    assert tether.ok("audit", "--since", "2999-01-01", "--json") == ""
    quiet = tether("audit", "--since", "2999-01-01")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "no audit entries\n")
    bad = tether("audit", "--since", "yesterdayish")
    assert bad.returncode == 2 and "--since: bad time 'yesterdayish'" in bad.stderr
    missing = tether("audit", "99")
    assert (missing.returncode, missing.stderr) == (1, "tether: no session #99\n")


def test_audit_masks_secret_env_values(tether):
    sid = tether.ok("run", "-e", "API_TOKEN=sk-abc123secret", "--", "true").strip()
    tether.wait_status(sid, ("succeeded",))
    # The env is recorded by an update (the TUI's or a library's edit).
    db = resolve_paths(env={"TETHER_HOME": str(tether.home)}).db

    async def edit() -> None:
        async with open_store(db, actor="tui") as store:
            await store.sessions.update(int(sid), env={"API_TOKEN": "sk-abc123secret", "A": "1"})

    asyncio.run(edit())
    out = tether.ok("audit", sid)
    js = tether.ok("audit", sid, "--json")
    assert "sk-abc123secret" not in out and "sk-abc123secret" not in js
    assert "env A=1 API_TOKEN=[REDACTED:env]" in out
    update = _entries(js)[-1]
    assert update["actor"] == "tui"
    assert update["detail"]["env"] == {"A": "1", "API_TOKEN": "[REDACTED:env]"}
