"""Captured inputs: a file path, or '-' for standard input."""

from __future__ import annotations

import os
import sys

from kvmcluster.errors import SourceError

MAX_INPUT_BYTES = 64 * 1024 * 1024


class _TooLarge(Exception):
    pass


def read_text(path: str, what: str = "input") -> str:
    """Read a whole input as text; undecodable bytes become U+FFFD instead of failing."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                if os.fstat(handle.fileno()).st_size > MAX_INPUT_BYTES:
                    raise _TooLarge  # refused by its size, without reading it
                data = handle.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise SourceError(f"{what} {path}: no such file") from None
    except PermissionError:
        raise SourceError(
            f"{what} {path}: permission denied (run with --sudo or as root?)"
        ) from None
    except IsADirectoryError:
        raise SourceError(f"{what} {path}: is a directory") from None
    except OSError as exc:
        raise SourceError(f"{what} {path}: {exc.strerror or exc}") from None
    except _TooLarge:
        data = None
    if data is None or len(data) > MAX_INPUT_BYTES:
        label = "standard input" if path == "-" else path
        raise SourceError(f"{what} {label}: larger than {MAX_INPUT_BYTES // 2**20} MiB, refused")
    return data.decode("utf-8", errors="replace")


def input_label(path: str) -> str:
    return "standard input" if path == "-" else path
