"""An agent's hook report (runner/hooks.py) left by a supervisor killed with -9 goes
with the session's other runtime files when they are swept, never while a supervisor
holds the session's lock."""

from __future__ import annotations

from runner.hooks import signal_file
from runner.locations import SupervisorLock, socket_path, sweep


def test_a_leftover_hook_report_is_swept_with_the_lock(paths):  # type: ignore[no-untyped-def]
    paths.ensure()
    report = signal_file(str(socket_path(paths, 78)))
    report.write_text('{"state": "needs_you", "at": 1}')
    holder = SupervisorLock(paths.lock_file(78))
    assert holder.acquire()
    try:
        assert sweep(paths, keep=set()) == 0
        assert report.exists()  # its supervisor lives: nothing of it goes
    finally:
        holder.release()
    assert sweep(paths, keep=set()) == 1
    assert not report.exists()
