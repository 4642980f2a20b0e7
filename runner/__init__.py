"""tether's runner: per-session supervisors and the API to start and control them.

What callers use (the CLI and the TUI):

- ``control``     the public API, gathered from the three below: ``start_session``,
                  ``launch``, ``stop``, ``pause``, ``continue_``, ``resume_run``,
                  ``send_input``, ``resize``, ``status``, ``reconcile``, ``is_alive``,
                  ``supervisor_errors``
- ``start``       a new session: created, then launched or queued
- ``launch``      starting a session's supervisor (first run, or a resumed one)
- ``client``      talking to a running supervisor over its control socket
- ``queue``       the queue: sessions over ``run.max_parallel`` wait in line and are
                  started in order when a slot frees (kicked by a finishing supervisor,
                  the CLI and the TUI); move, start now, cancel
- ``reconcile``   marking sessions whose supervisor is gone ``lost`` (judging only what it
                  can see: its lock, a lease, a supervisor's pid and start time); what a
                  lost run left running (``stop`` ends it); its log for doctor
- ``identity``    processes told apart safely: boot id, pid namespace, start times
- ``errors``      the runner's typed errors, each with a message a user can act on
- ``locations``   lock files (liveness), sockets and private runtime directories
- ``log``         the supervisors' own log (entries with tracebacks)

The supervisor (``python -m runner``, one detached process per running session):

- ``__main__``    detaching, the one-line report to the launcher, the crash net
- ``spec``        ``LaunchSpec``: what the launcher tells the supervisor (JSON)
- ``supervisor``  its life: lock, spawn, stop, pause, the run's start and end, who it
                  is (recorded in the run), its lock file and socket put back if removed
- ``kinds``       session kinds (pipe, pty): everything that differs between them,
                  and the seam where screen emulation and agent kinds plug in
- ``child``       the command as a process: spawned on pipes or a pty, its group signalled
- ``descendants`` what the command started that left its process group (subreaper)
- ``guardian``    the command dies with its supervisor: a tiny process that ends its
                  group when the supervisor is gone (kill -9)
- ``capture``     reading the command's output into the buffer (redaction on capture)
- ``buffer``      the bounded output buffer: memory, then a spill file, then counted gaps
- ``input``       input queued for the command's stdin or terminal
- ``writer``      batched writes to SQLite, database health and retries, index scheduling
- ``indexer``     index and merge steps for the session's own output
- ``server``      the control socket, serving a ``Controllable`` (the supervisor)
- ``screen/``     terminal emulation for pty sessions: one ``Screen`` interface, backends
                  loaded by name (a pty kind's ``on_output`` is where it is fed)

Nothing is imported eagerly: ``import runner`` costs almost nothing.
"""
