"""The single exception root of streamsift.

Every error raised on purpose by streamsift derives from :class:`StreamsiftError`,
so callers can catch the project's failures without catching programming errors.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "SchemaError",
    "SnapshotError",
    "StreamsiftError",
    "TopicLayoutError",
]


class StreamsiftError(Exception):
    """Root of every error streamsift raises on purpose."""


class ConfigurationError(StreamsiftError, ValueError):
    """A setting or constructor parameter is invalid; the message names it."""


class SchemaError(StreamsiftError, ValueError):
    """A message failed validation against its topic contract.

    Parameters
    ----------
    reason
        A short, bounded reason code used as a metric label (e.g. ``invalid_json``).
    detail
        Human-readable detail.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class SnapshotError(StreamsiftError):
    """A model snapshot could not be verified or loaded."""


class TopicLayoutError(StreamsiftError):
    """Existing topics break the layout the service needs (e.g. co-partitioning)."""
