"""The one table of which session action applies in which status.

Every screen's ``check_action`` asks ``applies`` (so the footer and the help show only
the keys that mean something now), and ``SessionActions`` checks it again before it
acts. No Textual here: the table is plain data over ``storage.models``' status sets.
"""

from __future__ import annotations

from storage.models import ACTIVE, ENDED, LIVE, STATUSES

ANY_STATUS = frozenset(STATUSES)

ACTION_STATUSES: dict[str, frozenset[str]] = {
    # need a session, whatever its status
    "open": ANY_STATUS,
    "output": ANY_STATUS,
    "delete": ANY_STATUS,
    "tags": ANY_STATUS,
    "pin": ANY_STATUS,
    "export": ANY_STATUS,
    # make sense only in some statuses
    "stop": ACTIVE,
    "pause": LIVE,  # pause or continue
    "send_input": LIVE,
    "attach": LIVE,
    "resume": ENDED,
    # a session waiting in the queue (the screens also check that it is in line)
    "queue_up": frozenset({"pending"}),
    "queue_down": frozenset({"pending"}),
    "start_now": frozenset({"pending"}),
}
"""Actions on a session (binding ids) and the statuses where they mean something.
An action not listed here does not act on a session and always applies."""


def applies(action: str, status: str | None) -> bool:
    """Whether ``action`` makes sense for a session in ``status`` (None: no session)."""
    statuses = ACTION_STATUSES.get(action)
    if statuses is None:
        return True
    return status is not None and status in statuses
