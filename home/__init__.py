"""tether's home on this machine, shared by the command line and the app: where its
files live (``home.paths``), what the user configured (``home.config``, the schema
and loading of ``config.toml``), and what runs when either starts.

Never imports Textual: the command line must stay fast and light.
"""
