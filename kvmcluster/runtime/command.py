"""Run an external command by argument list, never through a shell, within the check's deadline.

Every failure (not installed, permission, sudo refused, timeout, non-zero exit) becomes a
SourceError whose message says what to fix.
"""

from __future__ import annotations

import contextlib
import os
import time

from kvmcluster.errors import SourceError
from kvmcluster.model.record import record

# Seconds kept back from the -t budget so the plugin can still print its UNKNOWN line.
_MARGIN = 0.5
_deadline: float | None = None


def set_deadline(timeout: float | None) -> None:
    """Called once by the plugin runtime with the -t value."""
    global _deadline
    _deadline = time.monotonic() + timeout - _MARGIN if timeout else None


def remaining(default: float = 10.0) -> float:
    if _deadline is None:
        return default
    return max(0.1, _deadline - time.monotonic())


@record
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def first_error_line(self) -> str:
        for line in (self.stderr + "\n" + self.stdout).splitlines():
            if line.strip() and "modinfo: not found" not in line:
                return line.strip()[:200]
        return "no error message"


_SUDO_REFUSED = ("a password is required", "is not allowed to execute", "not in the sudoers")


def run_command(
    argv: list[str],
    *,
    sudo: bool = False,
    timeout: float | None = None,
    ok_codes: tuple[int, ...] | None = (0,),
    hint: str = "",
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run `argv` and return its output.

    `ok_codes=None` accepts any exit code (the caller interprets it). `hint` is appended to
    timeout and failure messages (e.g. "clustat hangs while the DLM is stuck").
    """
    import signal
    import subprocess

    full = ["sudo", "-n", *argv] if sudo else list(argv)
    shown = " ".join(full)
    budget = remaining() if timeout is None else min(timeout, remaining(timeout))
    env = dict(os.environ, LC_ALL="C", LANG="C", **(env or {}))
    try:
        proc = subprocess.Popen(
            full,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # own process group: a timeout kills sudo and its child
        )
    except FileNotFoundError:
        raise SourceError(f"{full[0]} not found: is it installed and in PATH?") from None
    except PermissionError:
        raise SourceError(f"{full[0]}: permission denied (not executable for this user)") from None
    try:
        out, err = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal)
        extra = f"; {hint}" if hint else ""
        raise SourceError(
            f"{shown} did not answer within {budget:.1f}s and was killed{extra}"
        ) from None
    except BaseException:
        _kill_group(proc, signal)
        raise
    result = CommandResult(
        tuple(full),
        proc.returncode,
        out.decode("utf-8", errors="replace"),
        err.decode("utf-8", errors="replace"),
    )
    if ok_codes is not None and result.returncode not in ok_codes:
        raise command_failure(result, sudo=sudo, hint=hint)
    return result


def command_failure(result: CommandResult, *, sudo: bool = False, hint: str = "") -> SourceError:
    """The error that explains a command's non-zero exit."""
    message = result.first_error_line
    argv = result.argv[2:] if sudo else result.argv
    if sudo and any(s in result.stderr for s in _SUDO_REFUSED):
        return SourceError(
            f"sudo refused {' '.join(argv)}: install the rule from icinga/sudoers ({message})"
        )
    shown = " ".join(result.argv)
    if "ermission denied" in message or "Operation not permitted" in message:
        return SourceError(f"{shown}: permission denied: run as root or use --sudo ({message})")
    extra = f"; {hint}" if hint else ""
    return SourceError(f"{shown} failed (exit {result.returncode}): {message}{extra}")


def _kill_group(proc, signal) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=2)
    except Exception:
        proc.kill()
