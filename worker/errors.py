"""Transport errors: what the runtime retries and what it gives up on."""

from __future__ import annotations


class TransportError(Exception):
    """Base of the errors a transport raises."""


class Unavailable(TransportError):
    """The gateway or Redis cannot be reached or failed (5xx): retry after a backoff."""


class TaskLost(TransportError):
    """The task is gone or no longer ours (deleted, completed, re-locked by another worker):
    nothing to retry."""


class Rejected(TransportError):
    """The server refused the request as invalid (4xx other than a lost task)."""
