"""Each running session's output rate, as a few cells of sparkline for the session list.

No query of its own: the list samples the byte counter of the rows it shows as it
ticks (once a second; the state store keeps those rows current), and a cell is the
rate over ``STEP`` seconds. Nothing is drawn until a session has written while it was
watched, so a quiet session's cell stays blank.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from home.plots import sparkline

STEP = 2.0  # seconds a cell stands for
CELLS = 5


class OutputRates:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[int, tuple[float, int]] = {}
        self._cells: dict[int, deque[float]] = {}

    def sample(self, session_id: int, output_bytes: int) -> None:
        """Note the session's byte counter now; a cell is added every ``STEP`` s."""
        now = self._clock()
        last = self._seen.get(session_id)
        if last is None:
            self._seen[session_id] = (now, output_bytes)
            return
        if now - last[0] < STEP:
            return
        rate = max(0, output_bytes - last[1]) / (now - last[0])
        self._cells.setdefault(session_id, deque(maxlen=CELLS)).append(rate)
        self._seen[session_id] = (now, output_bytes)

    def rates(self, session_id: int) -> list[float]:
        """Bytes a second of the last cells, oldest first."""
        return list(self._cells.get(session_id, ()))

    def spark(self, session_id: int) -> str:
        """The cells as a sparkline ("" until it has written while watched)."""
        cells = self.rates(session_id)
        return sparkline(cells) if any(cells) else ""
