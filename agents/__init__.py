"""Coding agents as sessions (claude, codex, aider, gemini): what differs between them
is data, not code paths.

- ``kinds``      ``AgentKind``: how an agent is recognised from a command, how to start
                 it so it can be resumed and how to resume it, where its transcripts
                 live, what its prompts look like and which keys answer them; the
                 built-in kinds and those config.toml's ``[agents.NAME]`` add or change
- ``attention``  judging a screen: ``working``, ``idle`` or ``needs_you``, from the
                 agent's prompt shapes on the last lines and signals any program gives
                 (quiet for a while, reading its terminal, a prompt-like last line)
- ``resume``     native resume: the argv that continues the agent's own conversation,
                 only when its transcript exists (claude ``--resume ID``, ``codex resume
                 ID``), and finding a codex run's id in its rollout file
- ``transcripts`` (a package) the agents' transcripts read incrementally into the
                 database, searchable, and ``tether import --agent``

Pure Python: no storage (but ``transcripts``, through a ``Store``), no Textual; the
runner and the command line use it.
"""
