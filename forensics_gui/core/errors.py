"""Errors that carry one sentence a user can act on."""

from __future__ import annotations


class ForensicsError(Exception):
    """Base class: ``str(err)`` is a complete sentence for the user (no traceback needed)."""


class MediaError(ForensicsError):
    """The input file cannot be opened or decoded (missing, empty, not a media file, ...)."""


class CheckpointError(ForensicsError):
    """A model checkpoint is missing, unsafe, or not of the expected kind."""


class NoFaceError(ForensicsError):
    """No face was found in any frame, so the visual stream is unavailable."""


class Cancelled(ForensicsError):
    """The user cancelled a long operation."""

    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)
