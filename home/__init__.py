"""tether's home on this machine: what the command line (``cli``) and the app (``tui``)
share, so neither needs the other.

- ``home.paths``: where tether's files live (database, backups, config.toml, locks and
  sockets), from ``--db``, ``TETHER_DB``, ``TETHER_HOME`` and platformdirs;
- ``home.config``: config.toml's schema and loading, and its sections read into the
  plain settings the storage library and the runner take (retention policy, backups to
  keep, redaction);
- ``home.store``: opening this home's store (its backups dir, the audit actor);
- ``home.cleanup``: applying a cleanup plan with this home's backups and supervisors'
  locks, and ``auto_cleanup``, run at start when ``general.auto_cleanup`` is on.

Never imports Textual: the command line must stay fast and light.
"""
