"""Unpacking a capture archive that came from someone else's machine.

Every member is checked from its tar header before anything is written: the count, each
size, the total, the type (regular files and directories only: no links, devices, fifos,
sparse files) and the name (relative, no `..`, no control character, no duplicate, nothing
below a file). The archive is read as a stream through a counter of decompressed bytes, so a
small gzip that would inflate to gigabytes, or a header that claims them, is refused as soon
as a limit is passed, in well under a second; nothing is listed in full first
(no getmembers()). Only then is it extracted, by this code: files created 0600 with
O_EXCL|O_NOFOLLOW, directories 0700, nothing of the archive's owners, modes or times kept.
"""

from __future__ import annotations

import os
import posixpath
import sys
import tarfile
import zlib

from kvmcluster.errors import SourceError

# A real capture (kvmcluster collect on a node with 200 VMs) is well under 1 MiB.
MAX_TOTAL = 64 * 1024 * 1024  # bytes of all members
MAX_MEMBER = 32 * 1024 * 1024  # bytes of one member
MAX_MEMBERS = 2000
MAX_NAME = 256  # characters of a member name
MAX_DEPTH = 8  # directory levels
# headers, pax records and padding on top of the members' bytes
_SLACK = MAX_MEMBERS * 3 * 512 + 64 * 1024


class ArchiveRefused(SourceError):
    pass


class _Counted:
    """A read-only stream that refuses to deliver more than `limit` bytes."""

    def __init__(self, raw, limit: int):
        self._raw = raw
        self._left = limit

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._left + 1
        data = self._raw.read(min(size, self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise ArchiveRefused(
                f"more than {MAX_TOTAL // 2**20} MiB once decompressed (limit {MAX_TOTAL} "
                "bytes): not a capture of kvmcluster collect"
            )
        return data


def _opener(path: str):
    """How to read the archive's decompressed bytes: gzip, bzip2, xz or none."""
    with open(path, "rb") as probe:
        magic = probe.read(6)
    if magic.startswith(b"\x1f\x8b"):
        import gzip

        return gzip.open
    if magic.startswith(b"BZh"):
        import bz2

        return bz2.open
    if magic.startswith(b"\xfd7zXZ\x00"):
        import lzma

        return lzma.open
    return open


def _check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME or any(not ch.isprintable() for ch in name):
        raise ArchiveRefused(f"unsafe member {name[:60]!r}: empty, too long or control characters")
    if name.startswith("/") or "\\" in name:
        raise ArchiveRefused(f"unsafe member {name[:60]!r}: absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(f"unsafe member {name[:60]!r}: leaves the capture (..)")
    if len(parts) > MAX_DEPTH:
        raise ArchiveRefused(f"unsafe member {name[:60]!r}: nested deeper than {MAX_DEPTH}")
    return posixpath.join(*parts) if parts else "."


def _members(tar: tarfile.TarFile):
    """(member, normalised name) one header at a time, each checked against the limits."""
    total = 0
    files: set[str] = set()
    seen: set[str] = set()
    for count, member in enumerate(tar, 1):
        if count > MAX_MEMBERS:
            raise ArchiveRefused(f"more than {MAX_MEMBERS} members: not a capture")
        name = _check_name(member.name)
        if not (member.isreg() or member.isdir()) or member.issparse():
            kind = "link" if member.issym() or member.islnk() else "special file"
            raise ArchiveRefused(f"unsafe member {member.name[:60]!r}: a {kind}")
        if member.isreg():
            if member.size > MAX_MEMBER:
                raise ArchiveRefused(
                    f"member {member.name[:60]!r} has {member.size} bytes "
                    f"(limit {MAX_MEMBER}): not a capture"
                )
            total += member.size
            if total > MAX_TOTAL:
                raise ArchiveRefused(f"members of more than {MAX_TOTAL} bytes: not a capture")
        if name in seen:
            raise ArchiveRefused(f"unsafe member {member.name[:60]!r}: given twice")
        parent = posixpath.dirname(name)
        while parent:
            if parent in files:
                raise ArchiveRefused(f"unsafe member {member.name[:60]!r}: below a file")
            parent = posixpath.dirname(parent)
        seen.add(name)
        if member.isreg():
            files.add(name)
        if hasattr(tarfile, "data_filter"):  # Python's own check too, where it exists
            try:
                tarfile.data_filter(member, "/nonexistent-capture-root")
            except tarfile.FilterError as exc:
                raise ArchiveRefused(f"unsafe member {member.name[:60]!r}: {exc}") from None
        yield member, name


def _pass(path: str, target: str | None) -> None:
    with _opener(path)(path, "rb") as raw:
        stream = _Counted(raw, MAX_TOTAL + _SLACK)
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member, name in _members(tar):
                if target is not None:
                    _extract(tar, member, name, target)


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, target: str) -> None:
    destination = os.path.join(target, name)
    if name == ".":
        return
    parent = os.path.dirname(destination)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    if member.isdir():
        if not os.path.isdir(destination):
            os.mkdir(destination, 0o700)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    source = tar.extractfile(member)
    with os.fdopen(os.open(destination, flags, 0o600), "wb") as out:
        left = member.size
        while left > 0:
            chunk = source.read(min(left, 1 << 20))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)


def unpack(path: str, target: str) -> None:
    """Check every member of the archive at `path`, then extract it into `target`."""
    try:
        _pass(path, None)  # nothing is written before the whole archive passed
        _pass(path, target)
    except ArchiveRefused as exc:
        raise ArchiveRefused(f"capture {path}: refused: {exc}") from None
    except _unreadable() as exc:
        raise SourceError(f"capture {path}: cannot unpack ({exc})") from None


def _unreadable() -> tuple[type[BaseException], ...]:
    errors = (tarfile.TarError, OSError, EOFError, zlib.error)
    if "lzma" in sys.modules:
        errors += (sys.modules["lzma"].LZMAError,)
    return errors
