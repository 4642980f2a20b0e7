"""How often a supervisor writes: at once while its session is quiet, in batches while
it keeps printing.

Every write transaction costs whole pages (the chunk's, its indexes', the database
header's), whatever it holds: a session printing 100 short lines a second and writing
each tenth of a second wrote about 40 bytes for each byte of output
(bench/cases/many_sessions.py). So transactions are rationed like tokens: a session
has ``burst`` quick writes in hand and earns ``rate`` more a second. While it has one,
new output is written at once (a prompt, a log line, a command's answer show up
without delay); once they are spent, output waits for the next token, at most
``1 / rate`` seconds, unless a batch's worth (``flush_bytes``) arrives first. A
quiet session earns its tokens back and is quick again.

The rate is shared: about ``SHARED_RATE`` writes a second for all running sessions
together, but never under ``MIN_RATE`` for one (the writer counts the running sessions
every few seconds). A lone session printing flat out is written ten times a second
as before; each of twenty or more once every two seconds.

Why so few: a write of one session's steady stream costs about seven pages whatever it
holds (its chunk's leaf and the table's interior page, its entries in the chunks' two
indexes, its session row, the header page and the pointer map page for the page it
adds): with 50 sessions printing 100 lines a second and writing once a second each,
the writes put 3.35x the output into the WAL, 2.3x of it those pages beside the chunk's
(of 4.5x; the index steps' 1.1x came on top, and checkpoints copied about 1.3x more:
bench/cases/many_sessions_wal.py). Writing every two seconds halves them (1.9x). A live
view does not wait for this: while one watches, output is written at once
(runner/writer.py, WATCHED_GAP).

The cost: output waiting in memory is what a ``kill -9`` of the supervisor loses, so
that window is up to ``1 / rate`` seconds of a steady stream: 0.1 s alone, up to 2 s
with twenty or more sessions running (it was 1 s).
"""

from __future__ import annotations

import time

QUICK_RATE = 2.0  # quick writes earned per second, until the running sessions are counted
QUICK_BURST = 4.0  # quick writes in hand after a quiet spell
SHARED_RATE = 10.0  # quick writes a second shared by all running sessions...
MIN_RATE = 0.5  # ...but at least this many for each: a steady stream waits 2 s at most


def shared_rate(running: int) -> float:
    """Quick writes a second for one of ``running`` sessions."""
    return max(MIN_RATE, SHARED_RATE / max(1, running))


class Pace:
    """Tokens for quick writes (see the module docstring)."""

    def __init__(self, rate: float = QUICK_RATE, burst: float = QUICK_BURST) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = time.monotonic()

    def _refill(self, now: float) -> float:
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        return self._tokens

    def delay(self, now: float | None = None) -> float:
        """Seconds until a quick write may go (0: now)."""
        now = time.monotonic() if now is None else now
        tokens = self._refill(now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def spend(self, now: float | None = None) -> None:
        """A write went: one token less (none below zero)."""
        now = time.monotonic() if now is None else now
        self._tokens = max(0.0, self._refill(now) - 1)
