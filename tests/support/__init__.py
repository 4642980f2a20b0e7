"""Helpers shared by the test areas, one module per thing they help with (the tether
CLI, supervisors, the database, export files, the TUI app, the output screen, tmux,
the reliability checks). Import them as ``tests.support.<thing>``."""
