"""tether's home on this machine: what the command line (``cli``) and the app (``tui``)
share, so neither needs the other.

- ``home.paths``: where tether's files live (database, backups, config.toml, locks and
  sockets), from ``--db``, ``TETHER_DB``, ``TETHER_HOME`` and platformdirs;
- ``home.config_schema``: config.toml's schema, one table of every setting (type,
  default, range, help) that loading and ``tether config set`` both read;
- ``home.config``: loading config.toml, and its sections read into the plain settings
  the storage library and the runner take (retention policy, backups to keep, redaction);
- ``home.config_file``: changing config.toml (one key, or an edited whole), keeping its
  comments and order, atomically and never through a symlink;
- ``home.store``: opening this home's store (its backups dir, the audit actor);
- ``home.cleanup``: applying a cleanup plan with this home's backups and supervisors'
  locks, and ``auto_cleanup``, run at start when ``general.auto_cleanup`` is on;
- ``home.quota``: ``storage.quota`` and ``on_quota``: the state by ``stat``, the warning
  line, and the cleanup it may apply;
- ``home.plots``: plots in text for the command line and the app (bars, sparklines,
  samples spread over time).

Never imports Textual: the command line must stay fast and light.
"""
