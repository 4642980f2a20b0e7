"""Agent conversations, searchable: transcripts read incrementally into the database.

- ``parse``      Claude Code's and Codex's JSONL lines as entries (prompts, replies, tool
                 calls with their commands), model and token counts, a transcript's
                 conversation id and cwd
- ``index``      ``sync``: read what was appended to each known transcript since the last
                 look (an unchanged file costs one stat), link agent sessions to theirs
- ``importing``  ``tether import --agent``: transcripts of conversations started outside
                 tether, as imported sessions (once each)

Unlike the rest of ``agents``, ``index`` and ``importing`` write through a ``Store``
(storage/engine/transcripts.py holds the SQL).
"""
