"""Writing generated files: never over an existing file without --force, always atomically
(a temporary file in the same directory, then rename), and a --diff preview."""

from __future__ import annotations

import difflib
import os
import tempfile

from kvmcluster.errors import KvmclusterError


class WouldOverwrite(KvmclusterError):
    pass


def plan(files: dict[str, str], output: str) -> dict[str, str]:
    """path -> "new", "same" or "changed" against what is in `output`."""
    states = {}
    for relative, text in files.items():
        path = os.path.join(output, relative)
        if not os.path.exists(path):
            states[relative] = "new"
        else:
            with open(path, encoding="utf-8", errors="replace") as handle:
                states[relative] = "same" if handle.read() == text else "changed"
    return states


def diff(files: dict[str, str], output: str) -> str:
    chunks = []
    for relative, text in files.items():
        path = os.path.join(output, relative)
        old = ""
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                old = handle.read()
        chunks.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"a/{relative}" if old else "/dev/null",
                tofile=f"b/{relative}",
            )
        )
    return "".join(chunks)


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".kvmcluster-", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_files(files: dict[str, str], output: str, force: bool = False) -> dict[str, str]:
    states = plan(files, output)
    changed = [p for p, s in states.items() if s == "changed"]
    if changed and not force:
        raise WouldOverwrite(
            f"refusing to overwrite {len(changed)} existing file(s) in {output} without "
            f"--force: {', '.join(changed)} (see --diff)"
        )
    for relative, text in files.items():
        if states[relative] != "same":
            mode = 0o755 if relative.endswith(".sh") else 0o644
            write_atomic(os.path.join(output, relative), text, mode)
    return states
