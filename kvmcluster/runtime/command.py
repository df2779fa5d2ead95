"""Run an external command by argument list, never through a shell, within the check's deadline.

Every failure (not installed, permission, sudo refused, timeout, non-zero exit, too much
output) becomes a SourceError whose message says what to fix. Everything is bounded: the
time (the -t deadline, also after the kill: a process that escaped the process group and
keeps the pipes open cannot hold the plugin) and the output (MAX_STDOUT, MAX_STDERR).
"""

from __future__ import annotations

import contextlib
import os
import time

from kvmcluster.errors import SourceError
from kvmcluster.model.record import record

# Seconds kept back from the -t budget so the plugin can still print its UNKNOWN line.
_MARGIN = 0.5

# What a tool may print: far above any real answer (drbdsetup JSON of 1,000 resources is
# 1.2 MB), far below what would exhaust the monitoring host. Past it the tool is killed.
MAX_STDOUT = 16 * 2**20
MAX_STDERR = 1 * 2**20
_CHUNK = 256 * 1024
# After SIGKILL the process (our direct child) ends at once unless it is stuck in the
# kernel (D state): wait this long for its exit status, then leave it.
_REAP = 0.2

# Directories searched after $PATH for the tools: cron, Icinga and NRPE often run the
# plugins with PATH=/usr/bin:/bin, while the cluster tools live in /usr/sbin.
TOOL_DIRS_ENV = "KVMCLUSTER_TOOL_PATH"
TOOL_DIRS = "/usr/sbin:/sbin"


class Deadline:
    """The -t budget of one check (or one `status --watch` refresh), handed to every source
    with the node it reads: never process-wide, so a refresh gets a fresh one and two nodes
    can be read side by side, each within its own."""

    __slots__ = ("timeout", "end")

    def __init__(self, timeout: float | None = None):
        self.timeout = timeout  # None: no deadline
        self.end = time.monotonic() + timeout - _MARGIN if timeout else None

    def remaining(self, default: float = 10.0) -> float:
        """Seconds left (at least 0.1); `default` when there is no deadline."""
        if self.end is None:
            return default
        return max(0.1, self.end - time.monotonic())

    def spent(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    def __repr__(self) -> str:
        return f"Deadline({self.timeout})"


def search_path() -> list[str]:
    """Where tools are looked for: $PATH, then $KVMCLUSTER_TOOL_PATH (default /usr/sbin:/sbin).
    Only absolute directories, each once (an empty entry would mean the current directory)."""
    extra = os.environ.get(TOOL_DIRS_ENV, TOOL_DIRS)
    dirs: list[str] = []
    for directory in f"{os.environ.get('PATH', os.defpath)}:{extra}".split(":"):
        if directory.startswith("/") and directory not in dirs:
            dirs.append(directory)
    return dirs


def find_tool(command: str) -> str | None:
    """The file `command` runs, searched like the shell does but in search_path(); a name with
    a '/' is taken as it is. Detection (LocalNode.which) and execution both use this, so a
    tool that is found is also the one that runs. A file that is there but not executable is
    returned too (running it says "permission denied", not "not found")."""
    if "/" in command:
        return command
    not_executable = None
    for directory in search_path():
        path = os.path.join(directory, command)
        if os.path.isfile(path):
            if os.access(path, os.X_OK):
                return path
            not_executable = not_executable or path
    return not_executable


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
    deadline: Deadline | None = None,
) -> CommandResult:
    """Run `argv` and return its output.

    `ok_codes=None` accepts any exit code (the caller interprets it). `hint` is appended to
    timeout and failure messages (e.g. "clustat hangs while the DLM is stuck"). Without an
    explicit `timeout` the command gets what is left of `deadline` (the check's -t), and is not
    started once that is spent.
    """
    import signal
    import subprocess

    full = ["sudo", "-n", *argv] if sudo else list(argv)
    shown = " ".join(full)
    deadline = deadline or Deadline()
    if timeout is None and deadline.spent():
        raise SourceError(f"{shown}: not run, the -t budget of {deadline.timeout:g}s is spent")
    budget = deadline.remaining() if timeout is None else min(timeout, deadline.remaining(timeout))
    env = dict(os.environ, LC_ALL="C", LANG="C", **(env or {}))
    executable = find_tool(full[0])
    if executable is None:
        raise SourceError(f"{full[0]} not found: is it installed and in PATH?")
    try:
        proc = subprocess.Popen(
            full,
            executable=executable,
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
        out, err = _read_bounded(proc, time.monotonic() + budget)
    except _TimedOut:
        _stop(proc, signal, subprocess)
        extra = f"; {hint}" if hint else ""
        raise SourceError(
            f"{shown} did not answer within {budget:.1f}s and was killed{extra}"
        ) from None
    except _TooMuch as exc:
        _stop(proc, signal, subprocess)
        raise SourceError(
            f"{shown} printed more than {exc.cap // 2**20} MiB on {exc.stream} (the cap on a "
            "tool's output) and was killed"
        ) from None
    except BaseException:  # the plugin's own timeout (SIGALRM), ^C
        _stop(proc, signal, subprocess)
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


class _TimedOut(Exception):
    pass


class _TooMuch(Exception):
    def __init__(self, stream: str, cap: int):
        self.stream = stream
        self.cap = cap


def _read_bounded(proc, deadline: float) -> tuple[bytes, bytes]:
    """stdout and stderr of `proc` read as they come, each up to its cap, until both are at
    end of file and the process has ended, all before `deadline`."""
    import selectors
    import subprocess

    streams = {
        proc.stdout.fileno(): ("stdout", MAX_STDOUT, []),
        proc.stderr.fileno(): ("stderr", MAX_STDERR, []),
    }
    sizes = dict.fromkeys(streams, 0)
    with selectors.PollSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut
            for key, _ in selector.select(left):
                data = os.read(key.fd, _CHUNK)
                if not data:
                    selector.unregister(key.fd)
                    continue
                name, cap, chunks = streams[key.fd]
                sizes[key.fd] += len(data)
                if sizes[key.fd] > cap:
                    raise _TooMuch(name, cap)
                chunks.append(data)
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:  # closed its output, but still running
        raise _TimedOut from None
    for pipe in (proc.stdout, proc.stderr):
        pipe.close()
    out, err = (b"".join(chunks) for _, _, chunks in streams.values())
    return out, err


def _stop(proc, signal, subprocess) -> None:
    """Kill the command's process group and let go of it: the pipes are closed rather than
    read to their end (a process that left the group, setsid, may hold them open for
    good), and the exit status is waited for only briefly."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pipe in (proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            pipe.close()
    try:
        proc.wait(timeout=_REAP)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            proc.kill()


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
