"""A generated corpus of realistic logs for the search benchmark.

Sessions of several kinds (web servers, test runs, builds, training runs, workers,
container builds) write log lines made of fixed template text and words drawn from a
Zipf-distributed vocabulary of made-up words, so some words are everywhere and some
appear a handful of times. Everything comes from one seeded RNG: the same size and
seed give the same corpus. The text of every session is also written to a file (the
ANSI-stripped text the index sees) so grep and ripgrep search exactly the same text.

A manifest (``corpus.json``) records the words, ids and phrases sampled while
generating, from which ``bench/cases/search.py`` builds its query sets.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

DAY = 86400.0
SYLLABLES = [
    *("ka", "ri", "to", "mo", "ne", "sa", "lu", "vi", "da", "pe", "zo", "qu", "fi", "ga"),
    *("be", "xo", "ju", "ha", "ly", "wo", "ren", "tal", "mor", "vex", "dun", "sil", "gor"),
    *("pra", "tik", "lom", "nar", "quo", "zim", "fep"),
]
KINDS = ("web", "tests", "build", "train", "worker", "docker")
TAGS = ("ml", "web", "ci", "nightly", "gpu", "db", "infra", "agent")
PROJECTS = ("api", "frontend", "billing", "search", "infra", "ml-models", "mobile", "etl")
COMMANDS = {
    "web": (["uvicorn", "app.main:app", "--reload"], "dev server"),
    "tests": (["pytest", "-x", "tests/"], "unit tests"),
    "build": (["cargo", "build", "--release"], "release build"),
    "train": (["python", "train.py", "--epochs", "40"], "train"),
    "worker": (["celery", "-A", "tasks", "worker"], "worker"),
    "docker": (["docker", "build", "-t", "app:latest", "."], "image build"),
}
# Fixed phrases the templates write, common and rare; the benchmark searches for them.
PHRASES = (
    "connection refused",
    "slow query",
    "cache miss",
    "request finished",
    "checkpoint saved",
    "retrying in",
    "deadline exceeded",
    "out of memory",
    "permission denied",
    "no space left",
)


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    out: list[str] = []
    while len(out) < size:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in words:
            words.add(w)
            out.append(w)
    return out


@dataclass
class Manifest:
    rare_words: list[str]
    ids: list[str]
    pairs: list[str]
    common_words: list[str]
    prefixes: list[str]
    names: list[str]
    projects: list[str]


class Writer:
    """Generates the lines of one session kind."""

    def __init__(self, rng: random.Random, vocab: list[str]) -> None:
        self.rng = rng
        self.vocab = vocab
        weights = [1.0 / (r**1.2) for r in range(1, len(vocab) + 1)]
        total, acc = 0.0, []
        for w in weights:
            total += w
            acc.append(total)
        self.cum = acc
        self.sampled_ids: list[str] = []
        self.sampled_pairs: list[str] = []

    def words(self, n: int) -> list[str]:
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=n)

    def lines(self, kind: str, n: int, t0: float, colour: bool) -> list[str]:
        rng = self.rng
        ws = self.words(3 * n)
        out = []
        red, end = ("\x1b[31m", "\x1b[0m") if colour else ("", "")
        for i in range(n):
            a, b, c = ws[3 * i], ws[3 * i + 1], ws[3 * i + 2]
            r = rng.random()
            stamp = time.strftime("%H:%M:%S", time.gmtime(t0 + i * 0.05))
            if kind == "web":
                rid = f"{rng.getrandbits(40):010x}"
                if r < 0.80:
                    line = (
                        f"{stamp} INFO  [http] GET /api/v1/{a}/{rng.randint(1, 99999)} 200 "
                        f"{rng.randint(1, 900)}ms req={rid} request finished"
                    )
                elif r < 0.95:
                    line = f"{stamp} WARN  [db] slow query took {rng.randint(200, 9000)}ms on {b}"
                elif r < 0.999:
                    line = f"{stamp} {red}ERROR{end} [http] upstream {c}: connection refused"
                else:
                    line = f"{stamp} ERROR [http] deadline exceeded calling {a} {b}"
                if rng.random() < 0.0002 and f"req={rid}" in line:
                    self.sampled_ids.append(rid)
            elif kind == "tests":
                if r < 0.85:
                    line = f"tests/test_{a}.py::test_{b}_{c} PASSED [{rng.randint(0, 100):3d}%]"
                elif r < 0.97:
                    line = f"tests/test_{a}.py::test_{b} {red}FAILED{end} AssertionError: {c}"
                else:
                    line = f"E   PermissionError: permission denied: '/tmp/{a}/{b}'"
            elif kind == "build":
                if r < 0.7:
                    line = f"   Compiling {a}-{b} v0.{rng.randint(1, 30)}.{rng.randint(0, 9)}"
                elif r < 0.97:
                    line = f"warning: unused variable: `{b}` in {a}/src/{c}.rs"
                else:
                    line = f"error: could not write {a}.rlib: no space left on device"
            elif kind == "train":
                if r < 0.9:
                    line = (
                        f"epoch {rng.randint(1, 40)} step {rng.randint(1, 99999)} "
                        f"loss={rng.random() * 3:.4f} lr={rng.random() * 1e-3:.2e} {a} {b}"
                    )
                elif r < 0.995:
                    line = f"checkpoint saved to runs/{a}/{b}-{rng.randint(1, 999)}.pt"
                else:
                    line = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"
            elif kind == "worker":
                if r < 0.75:
                    line = f"[{stamp}] task {a}.{b}[{rng.getrandbits(32):08x}] succeeded"
                elif r < 0.95:
                    line = f"[{stamp}] cache miss for {c} {a}, fetching from {b}"
                else:
                    line = f"[{stamp}] task {a} failed, retrying in {rng.randint(1, 60)}s: {b}"
            else:
                if r < 0.8:
                    line = f"#{rng.randint(1, 30)} [builder {rng.randint(1, 9)}/9] RUN {a} {b} {c}"
                else:
                    line = f"#{rng.randint(1, 30)} sha256:{rng.getrandbits(64):016x} {a} done"
            if rng.random() < 0.0003:
                self.sampled_pairs.append(f"{a} {b}" if kind in ("train", "docker") else "")
            out.append(line)
        return out


def build_corpus(
    db_path: Path,
    files_dir: Path,
    *,
    megabytes: int,
    sessions: int = 500,
    seed: int = 7,
    now: float | None = None,
    log=print,  # noqa: A002
) -> Manifest:
    """Create the database and the text files. Returns the manifest (also saved)."""
    import asyncio

    return asyncio.run(
        _build(db_path, files_dir, megabytes, sessions, seed, now or time.time(), log)
    )


async def _build(
    db_path: Path, files_dir: Path, megabytes: int, n_sessions: int, seed: int, now: float, log
) -> Manifest:
    from storage import open_store
    from storage.text import index_text

    rng = random.Random(seed)
    vocab = vocabulary(rng, 20000)
    writer = Writer(rng, vocab)
    files_dir.mkdir(parents=True, exist_ok=True)
    total = megabytes * 1024 * 1024
    # Sizes vary (log-normal), scaled to the total.
    raw = [rng.lognormvariate(0, 0.8) for _ in range(n_sessions)]
    sizes = [int(total * r / sum(raw)) for r in raw]
    start_of = now - 30 * DAY
    names: list[str] = []
    projects: list[str] = []
    written = 0
    began = time.time()
    async with open_store(db_path) as store:
        group = 10  # sessions writing at the same time, interleaved
        for g in range(0, n_sessions, group):
            ids, plans = [], []
            for i in range(g, min(g + group, n_sessions)):
                kind = KINDS[i % len(KINDS)]
                project = PROJECTS[rng.randrange(len(PROJECTS))]
                argv, label = COMMANDS[kind]
                name = f"{project} {label} {i}"
                names.append(name)
                projects.append(project)
                created = start_of + (i / n_sessions) * 30 * DAY
                tags = rng.sample(TAGS, rng.randint(0, 2))
                s = await store.sessions.create(
                    argv,
                    cwd=f"/home/dev/src/{project}",
                    name=name,
                    tags=tags,
                    mode="pty" if i % 7 == 0 else "pipe",
                    created_at=created,
                )
                ids.append(s.id)
                plans.append([s.id, kind, sizes[i], created, i % 7 == 0, 0])
            pending = list(plans)
            while pending:
                records = []
                for plan in pending:
                    sid, kind, size, created, colour, done = plan
                    at = created + done / 20000.0  # about 20 kB/s of output
                    text = "\n".join(writer.lines(kind, 800, at, colour)) + "\n"
                    stream = "stderr" if rng.random() < 0.08 else "stdout"
                    data = text.encode()
                    records.append((sid, stream, data, at))
                    plan[5] += len(data)
                    with open(files_dir / f"{sid}.log", "a", encoding="utf-8") as f:
                        f.write(index_text(data))
                    written += len(data)
                await store.output.append_many(records)
                pending = [p for p in pending if p[5] < p[2]]
            for plan in plans:
                sid, kind, size, created, colour, done = plan
                end = created + done / 20000.0
                failed = rng.random() < 0.2
                await store.sessions.set_status(sid, "running", at=created)
                await store.sessions.set_status(
                    sid,
                    "failed" if failed else "succeeded",
                    exit_code=rng.choice((1, 2, 101)) if failed else 0,
                    at=end,
                )
            if (g // group) % 5 == 0:
                rate = written / max(1e-9, time.time() - began) / 1e6
                log(f"  {g + group}/{n_sessions} sessions, {written / 1e6:.0f} MB, {rate:.1f} MB/s")
        # What the sessions' supervisors do once the output is indexed, when idle: the
        # word pairs (phrases), free pages given back (storage/engine/output.py upkeep).
        began = time.time()
        while await store.output.upkeep():
            pass
        log(f"  upkeep (word pairs) in {time.time() - began:.0f} s")
    manifest = _manifest(rng, vocab, writer, names, projects)
    (db_path.parent / "corpus.json").write_text(json.dumps(manifest.__dict__, indent=1))
    return manifest


def _manifest(rng, vocab, writer, names, projects) -> Manifest:
    # Vocabulary ranks 15k-20k occur a few dozen times in 1 GB; ranks 1-30 everywhere.
    rare = rng.sample(vocab[15000:20000], 15)
    common = vocab[:20]
    prefixes = [w[:4] for w in rng.sample(vocab[:2000], 20)] + [
        w[:5] for w in rng.sample(vocab[5000:15000], 10)
    ]
    pairs = [p for p in writer.sampled_pairs if p]
    return Manifest(
        rare_words=rare,
        ids=writer.sampled_ids[:: max(1, len(writer.sampled_ids) // 15)][:15],
        pairs=rng.sample(pairs, min(20, len(pairs))),
        common_words=common,
        prefixes=prefixes,
        names=names,
        projects=sorted(set(projects)),
    )


def load_manifest(path: Path) -> Manifest:
    return Manifest(**json.loads(path.read_text()))
