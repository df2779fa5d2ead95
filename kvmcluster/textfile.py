"""`kvmcluster status --textfile DIR`: the metrics as a file for node_exporter's textfile
collector, written atomically as it expects: a temporary file in DIR (created with O_EXCL, a
name that does not end in `.prom`, so the collector never reads it half-written), fsync, mode
0644, then renamed over `DIR/kvmcluster.prom` and the directory synced.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from kvmcluster.errors import KvmclusterError
from kvmcluster.output.openmetrics import TEXTFILE_NAME


class TextfileError(KvmclusterError):
    """The file could not be written (the directory, permission, space)."""


def write_textfile(directory: str, text: str, name: str = TEXTFILE_NAME) -> str:
    """Replace `directory/name` by `text` atomically; returns the path written."""
    target = os.path.join(directory, name)
    temp = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(temp, flags, 0o644)
    except OSError as exc:
        raise TextfileError(
            f"--textfile {directory}: cannot create a file there ({exc.strerror}); give an "
            "existing directory this user may write, node_exporter's "
            "--collector.textfile.directory"
        ) from None
    try:
        try:
            os.fchmod(fd, 0o644)  # whatever the umask: node_exporter runs as another user
            data = text.encode("utf-8")
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise TextfileError(
            f"--textfile {directory}: cannot write {name} ({exc.strerror})"
        ) from None
    try:
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return target
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is done
    finally:
        os.close(dir_fd)
    return target


def emit_metrics(areas: list[dict], node: str, timestamp: float, textfile: str | None) -> None:
    """`status --format openmetrics` on standard output, or `--textfile DIR` (the Prometheus
    text format node_exporter reads) into DIR."""
    import sys

    from kvmcluster.output.openmetrics import render

    if textfile:
        write_textfile(textfile, render(areas, node, "prometheus", timestamp))
    else:
        sys.stdout.write(render(areas, node, "openmetrics", timestamp))
