"""Errors of the screen emulator seam."""

from __future__ import annotations


class ScreenError(Exception):
    """Base class for screen emulator errors."""


class BackendUnavailable(ScreenError):
    """The requested emulator backend is not installed or cannot load."""


class SnapshotIncompatible(ScreenError):
    """A snapshot was written by another backend or format: rebuild by replaying the bytes."""
