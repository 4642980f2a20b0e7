"""The benchmark harness: running the cases one at a time (``running``), the machine
they ran on (``machine``), their figures (``figures``), the report (``report``),
percentiles and tables (``tables``), when generated data may be reused (``cache``),
and a terminal to watch (``terminal``: a tmux pane, peak memory). The cases themselves are in
``bench/cases/``; ``bench/run.py`` runs them."""
