"""The project's own exceptions: each one becomes a single UNKNOWN (or CRITICAL) line."""

from __future__ import annotations


class KvmclusterError(Exception):
    """Base class: the message is what the admin reads, so it says what to fix."""


class ParseError(KvmclusterError):
    """Input that does not have the format its source promises."""

    def __init__(self, source: str, reason: str, line: int | None = None):
        self.source = source
        self.reason = reason
        self.line = line
        where = f"{source}:{line}" if line else source
        super().__init__(f"cannot parse {where}: {reason}")


class SourceError(KvmclusterError):
    """Data could not be obtained: missing file or binary, permission, timeout, bad exit."""
