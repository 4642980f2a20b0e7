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
  made safe to draw) and ``output_find`` (find in the whole output).

Imports flow one way: ``tui`` uses ``home``, ``runner`` and ``storage``, never ``cli``.
"""
