"""Realistic, deterministic log output for benchmarks (importable by any of them).

``generate(total_bytes, seed)`` yields ``(kind, stream, line)`` with each line ending in
``\\n``: build logs (make, cargo, webpack), test runs (pytest with colour, failures),
server access logs, JSON service logs, Python and Java stack traces, tqdm-style
progress lines with carriage returns, ANSI colour throughout. Request ids, paths and
numbers vary, so the full-text index sees a realistic, large vocabulary.

A few *rare tokens* are planted at seeded positions with exact counts (``RARE``), and
the templates never produce them otherwise, so a search benchmark knows the answer.
The same ``total_bytes`` and ``seed`` always give the same bytes.

Also here: ``supervisor_batches`` (group output into write transactions the way the
supervisor does, cut at arbitrary bytes). Percentiles and tables of results are the
harness's (``bench/harness/tables.py``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator

# token -> how many lines hold it, whatever the corpus size (each at most once a line).
RARE: dict[str, int] = {
    "quokkafrost": 1,
    "emberlynx": 3,
    "vortexmoth": 10,
    "saffronquill": 30,
    "glacierwren": 100,
}
# Words that every kind of log writes a lot (for "common term" queries).
COMMON = ("error", "request", "test", "info", "build", "warning")

KINDS = ("build", "tests", "access", "service", "trace", "progress")
_KIND_WEIGHTS = (22, 22, 24, 22, 6, 4)

_RESET = "\x1b[0m"
_GREEN, _RED, _YELLOW, _BLUE, _BOLD, _DIM = (
    "\x1b[32m",
    "\x1b[31m",
    "\x1b[33m",
    "\x1b[34m",
    "\x1b[1m",
    "\x1b[2m",
)
_MODULES = (
    "core",
    "parser",
    "lexer",
    "http",
    "auth",
    "billing",
    "search",
    "storage",
    "cache",
    "router",
    "scheduler",
    "metrics",
    "payments",
    "users",
    "orders",
    "inventory",
)
_VERBS = ("get", "list", "create", "update", "delete", "sync", "check", "load", "save", "parse")
_NOUNS = ("user", "order", "invoice", "token", "session", "config", "report", "item", "event")
_CRATES = ("serde", "tokio", "hyper", "regex", "rand", "clap", "anyhow", "tracing", "bytes")
_PATHS = ("/api/v1/users", "/api/v1/orders", "/health", "/static/app.js", "/login", "/search")
_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "python-requests/2.31", "Go-http")
_MESSAGES = (
    "request finished",
    "cache miss",
    "slow query",
    "connection refused",
    "retrying in 5s",
    "checkpoint saved",
    "user logged in",
    "job scheduled",
    "deadline exceeded",
)


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.t = 1_790_000_000.0  # a fixed clock
        self.n = 0
        self.test_no = 0
        self.percent = 0

    def stamp(self) -> str:
        self.t += self.rng.random() * 0.05
        secs = int(self.t)
        ms = int((self.t - secs) * 1000)
        h, m, s = (secs // 3600) % 24, (secs // 60) % 60, secs % 60
        return f"2026-11-21T{h:02d}:{m:02d}:{s:02d}.{ms:03d}Z"

    def ident(self) -> str:
        r = self.rng
        extra = "_" + r.choice(_NOUNS) if r.random() < 0.3 else ""
        return f"{r.choice(_VERBS)}_{r.choice(_NOUNS)}{extra}"

    def hexid(self, n: int = 12) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    # -- kinds -------------------------------------------------------------------------
    def build(self) -> list[tuple[str, str]]:
        r = self.rng
        mod = r.choice(_MODULES)
        pick = r.random()
        if pick < 0.35:
            pct = r.randint(0, 100)
            obj = f"src/{mod}/CMakeFiles/{mod}.dir/{self.ident()}.cpp.o"
            line = f"[{pct:3d}%] {_GREEN}Building CXX object {obj}{_RESET}"
        elif pick < 0.55:
            src, obj = f"src/{mod}/{self.ident()}.c", f"build/{mod}/{self.ident()}.o"
            line = f"gcc -O2 -Wall -Iinclude -c {src} -o {obj}"
        elif pick < 0.7:
            crate = r.choice(_CRATES)
            version = f"v1.{r.randint(0, 40)}.{r.randint(0, 20)}"
            line = f"{_GREEN}{_BOLD}   Compiling{_RESET} {crate} {version}"
        elif pick < 0.85:
            var = self.ident()
            return [
                (
                    "stderr",
                    f"src/{mod}/{self.ident()}.c:{r.randint(1, 2000)}:{r.randint(1, 80)}: "
                    f"{_YELLOW}{_BOLD}warning:{_RESET} unused variable '{var}' [-Wunused-variable]",
                ),
                ("stderr", f"  {r.randint(1, 2000)} |     int {var} = {r.randint(0, 99)};"),
            ]
        elif pick < 0.97:
            size = r.randint(1, 900)
            line = f"asset {mod}.{self.hexid(8)}.js {size} KiB [emitted] [immutable] (name: {mod})"
        else:
            return [
                (
                    "stderr",
                    f"{_RED}{_BOLD}error{_RESET}: linking with `cc` failed: exit status: 1",
                ),
                ("stderr", f"  = note: undefined reference to `{self.ident()}'"),
            ]
        return [("stdout", line)]

    def tests(self) -> list[tuple[str, str]]:
        r = self.rng
        self.test_no += 1
        mod = r.choice(_MODULES)
        name = f"tests/test_{mod}.py::test_{self.ident()}"
        pct = self.test_no % 100
        pick = r.random()
        if pick < 0.86:
            return [("stdout", f"{name} {_GREEN}PASSED{_RESET}{' ' * 10}[{pct:3d}%]")]
        if pick < 0.93:
            return [("stdout", f"{name} {_YELLOW}SKIPPED{_RESET} (needs network) [{pct:3d}%]")]
        got, want = r.choice((200, 201, 404, 500)), r.choice((200, 403, 404))
        return [
            ("stdout", f"{name} {_RED}FAILED{_RESET}{' ' * 10}[{pct:3d}%]"),
            ("stdout", f"    def test_{self.ident()}(client):"),
            ("stdout", f">       assert response.status_code == {want}"),
            ("stdout", f"{_RED}E       AssertionError: assert {got} == {want}{_RESET}"),
            (
                "stdout",
                f"{_RED}E        +  where {got} = <Response [{got}]>.status_code{_RESET}",
            ),
            ("stdout", f"tests/test_{mod}.py:{r.randint(10, 900)}: AssertionError"),
        ]

    def access(self) -> list[tuple[str, str]]:
        r = self.rng
        ip = f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        path = r.choice(_PATHS)
        if r.random() < 0.5:
            path += f"/{r.randint(1, 99999)}"
        method = r.choice(("GET", "GET", "GET", "POST", "PUT", "DELETE"))
        status = r.choice((200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 404, 500))
        return [
            (
                "stdout",
                f'{ip} - - [21/Nov/2026:{self.stamp()[11:19]} +0000] "{method} {path} HTTP/1.1" '
                f'{status} {r.randint(0, 90000)} "-" "{r.choice(_AGENTS)}" '
                f"{r.random() * 2:.3f} request_id={self.hexid(16)}",
            )
        ]

    def service(self) -> list[tuple[str, str]]:
        r = self.rng
        level = r.choices(("INFO", "DEBUG", "WARNING", "ERROR"), (60, 20, 14, 6))[0]
        msg = r.choice(_MESSAGES)
        mod = r.choice(_MODULES)
        if r.random() < 0.5:
            colour = {"INFO": _BLUE, "DEBUG": _DIM, "WARNING": _YELLOW, "ERROR": _RED}[level]
            line = (
                f"{_DIM}{self.stamp()}{_RESET} {colour}{level:<7}{_RESET} {mod}.{self.ident()}: "
                f"{msg} user_id={r.randint(1, 500000)} took={r.randint(1, 3000)}ms"
            )
        else:
            line = (
                f'{{"ts":"{self.stamp()}","level":"{level.lower()}","logger":"{mod}",'
                f'"msg":"{msg}","request_id":"{self.hexid(16)}","duration_ms":{r.randint(1, 900)},'
                f'"path":"{r.choice(_PATHS)}"}}'
            )
        return [("stderr" if level in ("WARNING", "ERROR") else "stdout", line)]

    def trace(self) -> list[tuple[str, str]]:
        r = self.rng
        if r.random() < 0.6:
            out = [("stderr", "Traceback (most recent call last):")]
            for _ in range(r.randint(2, 7)):
                mod = r.choice(_MODULES)
                out.append(
                    (
                        "stderr",
                        f'  File "/srv/app/{mod}/{self.ident()}.py", line {r.randint(1, 900)}, '
                        f"in {self.ident()}",
                    )
                )
                out.append(
                    ("stderr", f"    result = {self.ident()}(payload, timeout={r.randint(1, 60)})")
                )
            err = r.choice(("KeyError", "ValueError", "TimeoutError", "ConnectionError"))
            out.append(("stderr", f"{err}: {r.choice(_MESSAGES)} ({self.hexid(8)})"))
            return out
        mod = r.choice(_MODULES).capitalize()
        out = [
            (
                "stderr",
                f'Exception in thread "worker-{r.randint(1, 16)}" '
                f"java.lang.IllegalStateException: {r.choice(_MESSAGES)}",
            )
        ]
        for _ in range(r.randint(3, 9)):
            out.append(
                (
                    "stderr",
                    f"\tat com.example.{mod.lower()}.{mod}Service.{self.ident()}"
                    f"({mod}Service.java:{r.randint(10, 900)})",
                )
            )
        return out

    def progress(self) -> list[tuple[str, str]]:
        r = self.rng
        steps = []
        for _ in range(r.randint(3, 8)):
            self.percent = (self.percent + r.randint(1, 9)) % 101
            filled = self.percent // 10
            bar = "█" * filled + " " * (10 - filled)
            steps.append(
                f"epoch {r.randint(1, 40)}: {self.percent:3d}%|{bar}| loss={r.random():.4f}"
            )
        return [("stderr", "\r".join(steps))]


def generate(total_bytes: int, seed: int = 7) -> Iterator[tuple[str, str, bytes]]:
    """Yield ``(kind, stream, line)`` until about ``total_bytes`` bytes have been
    produced (the last line may overshoot). Every rare token of ``RARE`` appears on
    exactly its count of lines, provided ``total_bytes`` is at least 64 KiB."""
    g = _Gen(seed)
    plan = random.Random(seed ^ 0x5EED)
    # Rare tokens go on the first line produced at or after each planted byte offset.
    planted = sorted(
        (plan.randrange(total_bytes), token) for token, n in RARE.items() for _ in range(n)
    )
    kinds = [getattr(g, k) for k in KINDS]
    produced = 0
    p = 0
    while produced < total_bytes:
        make = g.rng.choices(kinds, _KIND_WEIGHTS)[0]
        for stream, text in make():
            tokens = []
            while p < len(planted) and planted[p][0] <= produced:
                if planted[p][1] not in tokens:
                    tokens.append(planted[p][1])
                    p += 1
                else:
                    break  # the same token twice on one line: keep it for the next line
            if tokens:
                text = f"{text} {' '.join(tokens)}"
            line = (text + "\n").encode()
            produced += len(line)
            yield make.__name__, stream, line
    # Whatever was planted beyond the end goes on final lines, so counts stay exact.
    while p < len(planted):
        tokens = []
        while p < len(planted) and planted[p][1] not in tokens:
            tokens.append(planted[p][1])
            p += 1
        yield "service", "stdout", f"{g.stamp()} INFO final note {' '.join(tokens)}\n".encode()


def sessions(total_bytes: int, seed: int = 7) -> dict[str, list[tuple[str, bytes]]]:
    """The generated lines as one session per kind: kind -> ``[(stream, line), ...]``."""
    out: dict[str, list[tuple[str, bytes]]] = {k: [] for k in KINDS}
    for kind, stream, line in generate(total_bytes, seed):
        out[kind].append((stream, line))
    return out


def supervisor_batches(
    lines: Iterable[tuple[str, bytes]], flush_bytes: int = 64 * 1024
) -> Iterator[list[tuple[str, bytes]]]:
    """Group a session's lines the way a supervisor hands them to the store: pieces
    of consecutive output of one stream, flushed together once ``flush_bytes`` are
    pending. The cut falls where the byte count does, usually inside a line (a pipe
    read knows nothing of lines); the rest of that line opens the next batch."""
    batch: list[tuple[str, bytearray]] = []
    pending = 0
    for stream, line in lines:
        if batch and batch[-1][0] == stream:
            batch[-1][1].extend(line)
        else:
            batch.append((stream, bytearray(line)))
        pending += len(line)
        while pending >= flush_bytes:
            over = pending - flush_bytes
            last_stream, last = batch[-1]
            keep = last[len(last) - over :] if over else bytearray()
            if over:
                del last[len(last) - over :]
            yield [(st, bytes(data)) for st, data in batch if data]
            batch = [(last_stream, keep)] if over else []
            pending = over
    if pending:
        yield [(st, bytes(data)) for st, data in batch if data]


def count_lines_with(lines: Iterable[bytes], token: bytes) -> int:
    return sum(1 for line in lines if token in line)
