"""tether's runner: per-session supervisors and the API to start and control them.

``python -m runner`` is one session's supervisor (see ``runner.supervisor``);
``runner.control`` is what the CLI and the TUI call: ``start_session``, ``launch``,
``stop``, ``pause``, ``continue_``, ``resume_run``, ``send_input``, ``resize``,
``reconcile``, ``is_alive``, ``supervisor_errors``. Errors are in ``runner.errors``.

Nothing is imported eagerly: ``import runner`` costs almost nothing.
"""
