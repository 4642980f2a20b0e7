"""A command for sessions under test: numbered lines, written in odd-sized pieces.

    python producer.py --seed 7 [--count N] [--tag T] [--noise B] [--rate BYTES_PER_S] [--stderr]

Writes ``[T ]1\\n``, ``[T ]2\\n``... (forever without ``--count``) with writes of
random sizes (seeded), so lines are often cut between two writes and a kill can land
in the middle of one. ``--rate`` paces the output (about that many bytes a second);
``--tail-sleep S`` sleeps after the last line before exiting; ``--hold PATH`` waits
after the last line until PATH exists (so a test decides when the session ends).
``--noise B`` ends each line with `` `` and the base64 of B bytes hashed from its number
(``[T ]1 3q2+7w==``): output that does not compress, the same on every run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import sys
import time


def numbered(start: int, stop: int, tag: bytes, noise: int = 0) -> bytes:
    if not noise:
        return b"".join(tag + b"%d\n" % i for i in range(start, stop))
    return b"".join(tag + b"%d %s\n" % (i, _noise(i, noise)) for i in range(start, stop))


def _noise(i: int, size: int) -> bytes:
    """Kept the same in tests/support/reliability.py (this script imports nothing)."""
    return base64.b64encode(hashlib.blake2b(b"%d" % i, digest_size=size).digest())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--count", type=int, default=0, help="0: forever")
    p.add_argument("--tag", default="")
    p.add_argument("--noise", type=int, default=0, help="bytes of hash after each number")
    p.add_argument("--rate", type=float, default=0.0, help="bytes a second (0: flat out)")
    p.add_argument("--stderr", action="store_true")
    p.add_argument("--tail-sleep", type=float, default=0.0)
    p.add_argument("--hold", default="", help="after the last line, wait for this file")
    args = p.parse_args()
    rng = random.Random(args.seed)
    fd = 2 if args.stderr else 1
    tag = (args.tag + " ").encode() if args.tag else b""
    pending = bytearray()
    n = 1
    started = time.monotonic()
    written = 0
    while True:
        if len(pending) < 65536 and (args.count == 0 or n <= args.count):
            stop = n + 2000 if args.count == 0 else min(n + 2000, args.count + 1)
            pending += numbered(n, stop, tag, args.noise)
            n = stop
        if not pending:
            break
        size = min(len(pending), rng.randint(1, 16384))
        try:
            done = os.write(fd, pending[:size])
        except BrokenPipeError:
            return 0  # the reader is gone (its supervisor was killed)
        del pending[:done]
        written += done
        if args.rate:
            ahead = written / args.rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    if args.tail_sleep:
        time.sleep(args.tail_sleep)
    while args.hold and not os.path.exists(args.hold):
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
