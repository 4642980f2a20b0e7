"""What a guardian becomes once its supervisor died (``then``: the queue's kick) can be
stopped: the termination signals the guardian ignores are not ignored there (ignored
signals stay ignored across ``exec``; such kicks once outlived every ``kill``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from runner import guardian

PROBE = (
    "import signal, sys; h = [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, "
    "signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE)]; open(sys.argv[1], 'w').write("
    "' '.join(getattr(x, 'name', getattr(x, '__name__', '?')) for x in h))"
)


def test_what_the_guardian_becomes_takes_termination_signals(tmp_path) -> None:
    command = subprocess.Popen(["sleep", "60"], start_new_session=True)
    seen = tmp_path / "dispositions"
    keeper = guardian.start(
        command.pid, 5.0, [signal.SIGTERM], then=[sys.executable, "-c", PROBE, str(seen)]
    )
    os.close(keeper._fd)  # as a kill -9 of the supervisor closes it
    assert command.wait(timeout=30) == -signal.SIGTERM  # the guardian ended the group...
    _, status = os.waitpid(keeper.pid, 0)  # ...then became the probe, which exited
    assert os.waitstatus_to_exitcode(status) == 0
    assert seen.read_text().split() == ["SIG_DFL", "SIG_DFL", "default_int_handler"] + [
        "SIG_DFL",
        "SIG_IGN",  # Python itself ignores SIGPIPE at start
    ]
