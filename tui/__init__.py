"""tether's full-screen app (Textual). What lives where:

- ``app``: ``TetherApp``: opens the store, restores where the user was, polls,
  reconciles and autosaves on timers; navigation (``open_detail``, ``open_output``...);
  owns ``state`` and ``actions``. ``run_app`` runs it.
- ``state``: ``AppState``, the single source of truth of the UI (the session index,
  selection, list query, pending edits and their autosave, where the user was).
- ``list_query``: ``ListQuery``, what the list is asked to show (filter text,
  statuses, sort), and the ordered ids that answer it. No Textual.
- ``actions``: ``SessionActions``, what the keys do to a session (start, stop, pause,
  resume, send input, delete, tag, pin), with their confirmations.
- ``action_statuses``: the one table of which action applies in which status.
- ``keys``: every key binding by id, and the ``[keys]`` remapping. No Textual at import.
- ``commands``: the command palette's providers (sessions, the app's commands).
- ``format``, ``search_render``: how sessions and search results read on screen (pure).
- ``screens/``: ``base`` (``TetherScreen``/``TetherModal``: typed ``self.tether``;
  ``SessionScreen``: the keys on the current session), ``sessions`` (home), ``detail``,
  ``output``, ``search``, ``cleanup``, ``export``, ``modals``, ``help``.
- ``widgets/``: ``session_table`` and ``preview`` (the list), ``status_bar``, and the
  live output view: ``output_view`` (the widget) over ``output_lines`` (pages of lines
  in memory), ``output_rows`` (screen rows, cached), ``output_render`` (a stored line
  made safe to draw) and ``output_find`` (find in the whole output); ``kept_strips``
  and ``scroll_thumb`` keep what a followed line redraws to the new row.

Imports flow one way: ``tui`` uses ``home``, ``runner`` and ``storage``, never ``cli``.
"""

FRAMES_PER_SECOND = 120  # Textual's default, 60, alone adds up to 17 ms to a new line


def faster_frames() -> None:
    """Let Textual redraw up to ``FRAMES_PER_SECOND`` times a second in this process.
    A change reaches the terminal at the next frame, so at 60 a line written to a live
    session waited 0-17 ms on top of its own drawing (issue 14's line-to-screen p95:
    27.8 ms at 60, 14.7 at 120, bench/cases/live_latency.py). Textual reads
    ``TEXTUAL_FPS`` once, when ``textual.constants`` loads: call this before anything
    imports Textual. A user's own ``TEXTUAL_FPS`` wins, and ours is removed again at
    once so that the commands started from the app do not inherit it."""
    import os

    if "TEXTUAL_FPS" in os.environ:
        return
    os.environ["TEXTUAL_FPS"] = str(FRAMES_PER_SECOND)
    try:
        import textual.constants  # noqa: F401
    finally:
        del os.environ["TEXTUAL_FPS"]
