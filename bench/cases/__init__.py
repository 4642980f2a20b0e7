"""The benchmark cases, each a script that also runs on its own (see its docstring),
and what ``bench/run.py`` gives each: issue, title, arguments of a full and of a quick
run, and how it measures (for the report). ``logs`` and ``search_corpus`` generate the
data they measure on."""

from __future__ import annotations

from bench.harness.paths import DATA
from bench.harness.running import Bench

BENCHES = (
    Bench(
        "storage_ingest",
        2,
        "Storage ingest",
        ("--mb", "200", "--runs", "5"),
        ("--mb", "10", "--runs", "2"),
        "About 200 MiB (2 M lines) of generated logs (build, tests, access, service, traces, "
        "progress bars, ANSI colour; `bench/cases/logs.py`) in 6 sessions, cut into write "
        "transactions the way a supervisor flushes them (about 64 KiB, cut inside lines), "
        "appended through the public API (`store.output.append_many`) on a fresh database "
        "file each time. Timed: the appends (and for the deferred variant the indexing "
        "after them). Reference: the same bytes as rows of an `output_chunks`-shaped table "
        "inserted with plain `sqlite3` `executemany` in one transaction (WAL, "
        "synchronous=NORMAL), and the same plus an FTS5 insert. Each round runs every "
        "variant once; figures are medians over the rounds. MB/s are decimal megabytes of "
        "output per wall-clock second.",
    ),
    Bench(
        "storage_search",
        2,
        "Storage search",
        ("--mb", "200", "--runs", "5", "--tool-runs", "3"),
        ("--mb", "10", "--runs", "3", "--tool-runs", "2"),
        "On the ingest benchmark's (b) database: 20 queries (5 rare terms with known counts, "
        "5 common terms, 5 phrases, 5 prefixes), each returning the newest 50 matching lines "
        "with 100-character snippets through the query engine "
        "(`storage.search_engine.search`, counts off), and the 10 word queries through "
        "`store.search`. Each query is run once to warm up, then timed `--runs` times; the "
        "figure is the p95 over the 20 queries of one run, median over the runs. Reference: "
        "`grep -c -F -i` over the same output as one text file (page cache warm), timed the "
        "same way. grep counts every matching line of the file; tether returns the newest "
        "50 with snippets: related work, not identical.",
    ),
    Bench(
        "capture",
        3,
        "Capture",
        ("--mb", "200", "--runs", "5"),
        ("--mb", "10", "--runs", "2"),
        "A Python producer writes 200 MB (seq-like numbers, then log-like lines) in 64 KiB "
        "writes from memory and times itself, first write to last. It runs (a) into "
        "/dev/null, (b) through `tee` to a file, (c) under `script -q` to a file (a "
        "terminal), (d) as a tether session, pipe mode and pty mode (`tether run`). For "
        "tether, from the producer's last write: readable = until `tether logs --tail 2` "
        "(a whole CLI process per poll, about every 20 ms) shows the last line; searchable = "
        "until a search finds the last line and nothing of the session is left unindexed. "
        "Each round runs every mode once; figures are medians over the rounds. The issue's "
        "1.5x target is for the pipe session beside tee; the pty session is shown beside "
        "`script -q`, the terminal equivalent.",
    ),
    Bench(
        "tui",
        4,
        "TUI",
        (
            *("--sessions", "10000,100000", "--lines", "10000000", "--runs", "6"),
            *("--ticks", "150", "--latency-runs", "3"),
        ),
        (
            *("--sessions", "300", "--lines", "200000", "--runs", "2"),
            *("--ticks", "20", "--latency-runs", "2"),
        ),
        "Everything in a real terminal: a 120x36 tmux pane polled with `capture-pane` about "
        "every 5 ms; a time is the midpoint of the poll that first showed the awaited text "
        "and the one before. (a) From launching `tether` (10 000 sessions in the database, "
        "then 100 000: issue 18) "
        "to the first session rows on screen, beside a bare Textual app showing a 10-row "
        "DataTable, alternated, `--runs` times after one warm-up. (b) A 10 M-line session built "
        "through the storage API: from pressing `o` on it in the list to its last line on "
        "screen, beside `o` on a 10-line session in the same database; a cold start that "
        "opens on that session (restored state) until its last line shows, beside Toolong "
        "(1.5.0, its own venv) opening the same lines as a file; peak RSS (VmHWM) after "
        "paging around (PageUp x20, Home, PageDown x10, End), beside Toolong's. `--runs`/2 "
        "rounds after a warm-up round; a try in which the end is never shown (15 s for `o`, 60 s "
        "cold) is counted as a failure, not timed. (c) A real session prints `tick N "
        "<time>` at random 30-150 ms intervals while tether shows its output; latency = "
        "when the tick is first seen minus the time in it; reference: the same printer "
        "into a file under `tail -f` in the same pane. 150 ticks per run; the figure is "
        "the p95 of one run, median over the runs.",
    ),
    Bench(
        "search",
        5,
        "Search",
        ("--mb", "1024", "--sessions", "500", "--runs", "5"),
        ("--mb", "20", "--sessions", "20", "--runs", "2"),
        "1 GiB of generated logs (Zipf vocabulary, six kinds of session; "
        "`bench/cases/search_corpus.py`) in 500 sessions, stored through the storage API. "
        "30 queries of each of five kinds (rare words and request ids, common words, "
        "phrases, prefixes, words with filters), each timed once per pass as tether runs "
        "it (`storage.search_engine.search`, first page of 50): newest first with "
        "per-session counts (what `tether search` prints), newest first without counts (what "
        "the search screen shows first; counts follow), and ranked. Figures: the p95 of "
        "the worst kind in one pass, median over the passes. References, once per query: "
        "`grep -F -c -r` and `rg -F -c` over the same ANSI-stripped text as one file per "
        "session (page cache warm); for a query with filters they get its word alone. "
        "grep and rg count lines holding a case-sensitive substring; tether matches whole "
        "tokens case-insensitively and returns the hits. tether is timed in-process (a "
        "library call), grep and rg as processes. Two limits of the engine shape these "
        "figures (both documented in `storage/search_engine.py` and flagged in its "
        "results): per-session counts read at most 4 MiB of chunks per page (past that a "
        "count is a lower bound), and ranking scores at most the newest 3000 matching "
        "chunks.",
    ),
    Bench(
        "purge",
        6,
        "Purge",
        (
            *("--mb", "1024", "--sessions", "200", "--runs", "5"),
            *("--dir", str(DATA / "purge-1024mb-200s"), "--reuse"),
        ),
        (
            *("--mb", "40", "--sessions", "20", "--keep", "4", "--keep-mb", "5", "--runs", "2"),
            *("--dir", str(DATA / "purge-40mb-20s"), "--reuse"),
        ),
        "A database built through the storage API with 1 GiB of indexed output in 200 "
        "sessions plus 50 MiB in 20 sessions that stay. Timed: "
        "`storage.purge.purge_sessions` of the 200 (it picks its strategy) plus reclaiming "
        "the space, on a fresh copy of the database each run. Reference: the same output "
        "as one flat file per session, deleted with `unlink`, then `sync`. Shrink = how "
        "much the database file (with its WAL) shrank, as a share of what the purged "
        "sessions' output took in it (their chunks' stored bytes; output is compressed at "
        "rest since issue 18, so a share of the raw output bytes could only reach the "
        "compression ratio: printed beside it). It can exceed 100%: the index goes too. "
        "Medians over the runs.",
    ),
    Bench(
        "queue_handover",
        17,
        "Queue",
        ("--sessions", "20", "--runs", "3"),
        ("--sessions", "5", "--runs", "1"),
        "A fresh home with `run.max_parallel = 1`: a blocker holds the slot while 20 "
        "sessions (`sleep 0.1`) are queued behind it with `tether run`; the blocker is let "
        "go and the chain runs by itself, each finishing supervisor starting the next. "
        "Figure: per hand-over, from one run's recorded end to the next run's recorded "
        "start (`runs.ended_at`, `runs.started_at`); p95 over the hand-overs of one run, "
        "median over the runs. Reference, same run: `tether run` starting a session "
        "directly in a home without limits (spawn to recorded start). pueue is not "
        "installed here.",
    ),
    Bench(
        "context_filters",
        17,
        "Context filters",
        ("--sessions", "100000", "--runs", "7", "--tool-runs", "3"),
        ("--sessions", "5000", "--runs", "3", "--tool-runs", "2"),
        "100 000 sessions built through the storage API with varied contexts (a fifth "
        "without; agents with model, thread, tokens and nested usage; release bots; "
        "training runs: 60-300 bytes of JSON each). 8 queries (a common string, a prefix, "
        "one session's thread id, a comparison, a rare nested comparison, presence, "
        "absence, two filters), each timed `--runs` times after a warm-up through the "
        "product: every matching id (`filter_session_ids`: the TUI list's filter, `search` "
        "without words) and `tether ls QUERY --limit 50` (`list_sessions`). Figures: the "
        "p95 over the 8 queries of one run, median over the runs. Reference: the same "
        "condition written by hand with `json_extract` on a plain `sqlite3` connection to "
        "the same file (every matching id, newest first), and `jq` over the sessions "
        "exported as JSON lines (a process per query).",
    ),
    Bench(
        "transfer",
        7,
        "Export and import",
        ("--mb", "200", "--runs", "3"),
        ("--mb", "10", "--runs", "2"),
        "One 200 MB session (indexed, one secret in every 1 MB block). Each step runs in "
        "its own Python process so its peak RSS is its own: export in each format (json "
        "with and without redaction, txt, md, jsonl) and import of the json export into a "
        "fresh database. References: reading the same chunks with the `sqlite3` module and "
        "writing them to a file, and `cat` of a flat log of the same bytes. MB/s of session "
        "output, medians over the runs. Issue 7 sets no target.",
    ),
    Bench(
        "cli_startup",
        18,
        "Command-line start-up",
        ("--mb", "256", "--sessions", "50", "--runs", "40"),
        ("--mb", "20", "--sessions", "10", "--runs", "10"),
        "Whole `tether` processes, start to exit, output to /dev/null: `tether --version`, "
        "`tether ls`, `tether search WORD` (a rare word) and `tether logs ID --tail 20` "
        "(the largest session) on the search benchmark's corpus (256 MiB in 50 sessions, "
        "`bench/cases/search_corpus.py`), beside `python -c pass` (the same interpreter) and "
        "`rg -F -c WORD` over the same text as one file per session (page cache warm). "
        "Each round runs every command once after a warm-up round; figures are p50 (and "
        "p95 in the table) over the rounds. The script says how many of tether's modules "
        "have a current byte-compiled file (`./dev` writes them).",
    ),
    Bench(
        "attention",
        16,
        "Attention: who needs you",
        ("--sessions", "100", "--seconds", "20", "--runs", "3"),
        ("--sessions", "20", "--seconds", "5", "--runs", "1"),
        "(a) needs-you precision and recall per agent kind on the labelled screens of "
        "tests/fixtures/agents/ (recorded from the real claude, codex and programs, and "
        "written from documented prompt shapes; its README says which). (b) 100 idle "
        "terminal programs (bash at a prompt in a pty, screens emulated), each watched by "
        "the supervisor's own AttentionWatcher every 0.5 s, all in one process: CPU per "
        "wall second in % of one core, beside 100 bare 0.5 s timers and a `ps` subprocess "
        "per poll (on a tenth, scaled). (c) A real `tether run --pty` session prints a "
        "prompt after a random delay: from its stamp to the supervisor recording needs_you, "
        "and to a `tether ls --attention needs_you` showing it, beside a `tether screen` "
        "showing the prompt. Targets: >= 95%, <= 5% of a core, <= 2 s.",
    ),
    Bench(
        "screens",
        14,
        "Screens of terminal sessions",
        ("--mb", "50", "--rounds", "3"),
        ("--mb", "5", "--rounds", "1"),
        "A ~50 MB stream of the recorded agent and full-screen programs (100x30): fed in "
        "64 KiB reads to the supervisor's ScreenKeeper (transcript and snapshots kept), "
        "beside the emulator seam and libghostty-vt alone; written by a self-timing "
        "producer as a pty session with the screen on and off (TETHER_SCREEN=off), rounds "
        "alternating, beside `script -q`; the finished session's screen opened from the "
        "nearest snapshot, and a search hit's screen, beside a replay from the first byte "
        "(and a whole `tether screen` process); the supervisor's RSS at 200x60 with "
        "10 000 transcript rows beside a pipe session's. Targets: >= 50 MB/s, <= 1.10x, "
        "<= 300 ms, <= 500 ms, <= 40 MB.",
    ),
    Bench(
        "many_sessions",
        18,
        "Many sessions",
        ("--sessions", "50", "--seconds", "60"),
        ("--quick",),
        "50 real sessions (`tether run`, pipe mode), each a Python producer printing a "
        "timestamped log line (about 110 bytes) 100 times a second, one write per line; "
        "measured over a 60 s window once all run (`--quick`: 20 sessions, 15 s). From "
        "/proc: CPU (utime+stime) of all supervisors beside the producers' own, and bytes "
        "written by the supervisors (`write_bytes`: pages dirtied for the disk; `wchar`: "
        "bytes handed to write(), WAL and checkpoints) beside the output (the producers' "
        "`wchar`). Reference in the same run: the same producers each writing a flat log "
        "file. A reader meanwhile polls the sessions' last lines through the storage API "
        "(readable lag: now minus the line's own timestamp) and their unindexed bytes.",
    ),
    Bench(
        "disk",
        18,
        "Disk per byte of output",
        ("--mb", "64"),
        ("--mb", "8"),
        "Two corpora, each on a fresh database file: realistic logs (`bench/cases/logs.py`, "
        "one session per kind, flushed about every 64 KiB, cut inside lines) and `seq 1 N`, "
        "appended unindexed through `store.output.append_many` round-robin and indexed "
        "after each round (`index_pending`), as supervisors do; then the index merged and "
        "the upkeep run until it has nothing left (as an idle supervisor does), then the "
        "WAL checkpointed. Figures: file size / raw output bytes (everything: chunks, "
        "indexes, free pages), the output index's share alone and the chunks' (`dbstat`), "
        "the free pages' share of the file. Reference in the same run: `zstd -3` and "
        "`gzip -6` of the same text as one file. Targets: <= 0.5x for logs, <= 1.0x for seq.",
    ),
    Bench(
        "usage",
        17,
        "Usage screen",
        ("--runs", "5"),
        ("--mb", "5", "--sessions", "10", "--size", "40", "--runs", "2"),
        "A 1 GB database (40 MiB of generated logs in 100 sessions, indexed; then sessions of "
        "stored, unindexed output until the file is 1 GB, about 1 300 sessions and 38 000 chunks; "
        "trash, pins, two weeks of size samples and a day of metrics). In a 120x36 tmux pane: "
        "`U` on the list until the usage screen shows its first figures (target <= 300 ms), "
        "until output per day and the estimated split show, until the page-by-page split "
        "shows; a fresh `tether` per round after a warm-up round. References in the same run: "
        "`?` until the help modal shows in the same app (the floor of the method), `du -b` of "
        "the file, `sqlite3 DB 'select sum(pgsize) from dbstat'`; also the library's steps "
        "and `tether usage` as processes. Medians over the rounds.",
    ),
    Bench(
        "attach",
        15,
        "Attach",
        ("--keys", "60", "--attaches", "30", "--mb", "100", "--rounds", "3"),
        ("--keys", "20", "--attaches", "10", "--mb", "10", "--rounds", "2"),
        "In a 120x36 tmux pane on a private server: one key at a time typed into "
        "`tether attach` to a `bash -i` pty session, and into `tmux attach` to the same "
        "program in a second tmux server, until bash's echo shows (p50/p95; target p95 <= "
        "1.5x tmux). Attach to first full screen: `runner.client.attach` until the fresh "
        "screen frame has arrived (in process), and whole `tether attach` / `tmux attach` "
        "processes until the screen shows (target p95 <= 100 ms). Capture throughput of a "
        "pty session writing 64 KiB blocks, self-timed, with no client and with two "
        "`tether attach` clients, each a real process in its own pty (`script`) drained "
        "as fast as it comes (target >= 0.9x); the same producer in a tmux session with "
        "none and with two `tmux attach` clients as the reference.",
    ),
    Bench(
        "live_latency",
        14,
        "Live latency",
        ("--ticks", "150", "--runs", "2"),
        ("--ticks", "60"),
        "A running session prints `tick N <time>` every 30-150 ms once the app's output "
        "screen is drawn; the pane (120x36, polled about every 5 ms) shows when each "
        "appears; latency = first seen - time printed, p50/p95. Reference in the same run: "
        "`tail -f` of the same printer's file. Target p95 <= 20 ms on an idle machine.",
    ),
    Bench(
        "transcripts",
        16,
        "Agent transcripts",
        ("--files", "10000", "--runs", "7"),
        ("--files", "500", "--runs", "3"),
        "10 000 Claude Code transcripts in its layout (100 projects; each the recorded-format "
        "fixture with its own session id, about 4 KB) imported and indexed once through "
        "`import_transcripts` (cached). Timed `--runs` times: the re-check with nothing "
        "changed (`agents.transcripts.index.sync`: the known files from the database, a "
        "stat each, no file read: checked), its read-only half on the `Reader` `tether "
        "search` uses, and a sync after one prompt appended to one transcript (only that "
        "line read: checked). Reference: a bare `os.stat` loop over the same paths. Target "
        "(issue 16): 10 000 unchanged transcripts re-checked in <= 1 s.",
    ),
)
