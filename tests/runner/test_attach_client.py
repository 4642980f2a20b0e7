"""The attach client's own terminal (runner/attach.py): the size it asks for."""

from __future__ import annotations

import fcntl
import os
import struct
import termios

from runner.attach import terminal_size


def test_the_size_of_a_pty_nobody_sized_is_80x24_not_0x0():
    # A fresh pty is 0x0 (script with no terminal, some CI runners); the supervisor
    # refuses a 0x0 terminal, so attach would fail.
    master, slave = os.openpty()
    try:
        assert os.get_terminal_size(slave) == (0, 0)
        assert terminal_size(slave) == (80, 24)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        assert terminal_size(slave) == (100, 30)
    finally:
        os.close(master)
        os.close(slave)
    r, w = os.pipe()  # not a terminal at all
    try:
        assert terminal_size(w) == (80, 24)
    finally:
        os.close(r)
        os.close(w)
