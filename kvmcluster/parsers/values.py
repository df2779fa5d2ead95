"""Optional numbers of key/value outputs (drbdsetup JSON and events2 report KiB)."""

from __future__ import annotations

KIB = 1024


def opt_int(fields: dict, key: str) -> int | None:
    value = fields.get(key)
    return int(value) if value is not None else None


def kib(fields: dict, key: str) -> int | None:
    """A KiB count in bytes (None when absent)."""
    value = fields.get(key)
    return int(value) * KIB if value is not None else None
