"""The TUI's screens: ``sessions`` (home), ``detail``, ``output``, ``search``,
``cleanup``, ``usage``; ``modals`` and ``help`` for dialogs. Each module imports Textual, so
nothing on the CLI path imports this package."""
