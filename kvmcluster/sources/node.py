"""The node whose state is read: this machine, or a remote one over SSH (agentless mode for
nodes without Python 3, such as RHEL 6).

Every source is handed the node it reads (`open_node()` makes it once per check from
--ssh) and runs its commands and reads its files through it, within the node's Deadline (the
check's -t budget), so the same parsers and rules run on the monitoring host whichever node the
data came from. There is no process-wide node: two nodes can be read side by side, and
`with_deadline()` gives a `status --watch` refresh the whole budget again. Remote commands
are fixed argument lists of the plugins, quoted for the remote shell; the host name is
validated; one SSH connection (ControlMaster) serves all commands of a check.
"""

from __future__ import annotations

import contextlib
import os
import re

from kvmcluster.errors import SourceError
from kvmcluster.runtime.command import CommandResult, Deadline, command_failure, run_command

TARGET = re.compile(
    r"^(?:([a-z_][a-z0-9_.-]{0,31})@)?([A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]+\])$"
)
OPTION = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[= ]\S.*)?$")


class _Node:
    deadline: Deadline

    def with_deadline(self, deadline: Deadline):
        """The same node (the same SSH connection) within another budget. (Not copy.copy:
        the copy module costs a plugin ~1 ms of imports at start.)"""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.deadline = deadline
        return other


class LocalNode(_Node):
    remote = False

    def __init__(self, deadline: Deadline | None = None) -> None:
        self.name = os.uname().nodename
        self.deadline = deadline or Deadline()

    def run(self, argv, **kwargs) -> CommandResult:
        return run_command(argv, deadline=self.deadline, **kwargs)

    def read(self, path: str) -> str | None:
        """A file's text, None when it does not exist."""
        from kvmcluster.sources.files import read_text

        if not os.path.exists(path):
            return None
        return read_text(path, "file")

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def which(self, command: str) -> bool:
        """Installed here: searched as run_command will run it ($PATH, then /usr/sbin:/sbin)."""
        from kvmcluster.runtime.command import find_tool

        return find_tool(command) is not None

    def close(self) -> None:
        pass


class SshNode(_Node):
    remote = True

    def __init__(self, target: str, options: list[str], deadline: Deadline):
        import tempfile

        m = TARGET.match(target or "")
        if not m:
            raise SourceError(f"--ssh {target!r}: not [USER@]HOST")
        from kvmcluster.sources.ssh_options import validate_options

        self.options = validate_options(options)  # an allowlist: no ProxyCommand & co.
        self.target = target
        self.name = m.group(2).strip("[]")
        self.deadline = deadline
        self.connect_timeout = max(1, int((deadline.timeout or 10) / 2))
        self._control_dir = tempfile.mkdtemp(prefix="kvmcluster-ssh-")

    def _ssh_argv(self, remote_command: str) -> list[str]:
        argv = [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={self._control_dir}/%C",
            "-o",
            "ControlPersist=10",
            "-o",
            "LogLevel=ERROR",
        ]
        if not any(option.startswith("ConnectTimeout=") for option in self.options):
            argv += ["-o", f"ConnectTimeout={self.connect_timeout}"]
        for option in self.options:
            argv += ["-o", option]
        return [*argv, "--", self.target, remote_command]

    def run(self, argv, *, sudo=False, timeout=None, ok_codes=(0,), hint="", env=None):
        import shlex

        words = list(argv)
        if sudo:  # the command sudo runs is the bare argv, as icinga/sudoers allows it
            words = ["sudo", "-n", *words]
        if env:
            words = ["env", *(f"{k}={v}" for k, v in sorted(env.items())), *words]
        remote_command = " ".join(shlex.quote(w) for w in words)
        result = run_command(
            self._ssh_argv(remote_command),
            timeout=timeout,
            ok_codes=None,
            hint=hint,
            deadline=self.deadline,
        )
        if result.returncode == 255:
            raise SourceError(f"ssh {self.target}: {_ssh_failure(result.stderr)}")
        shown = ("sudo", "-n", *argv) if sudo else tuple(argv)
        result = CommandResult(shown, result.returncode, result.stdout, result.stderr)
        if result.returncode == 127 and ("not found" in result.stderr or not result.stdout):
            raise SourceError(f"{self.name}: {argv[0]} not found on the node (is it installed?)")
        if ok_codes is not None and result.returncode not in ok_codes:
            error = command_failure(result, sudo=sudo, hint=hint)
            raise SourceError(f"{self.name}: {error}")
        return result

    def read(self, path: str) -> str | None:
        result = self.run(["cat", path], ok_codes=None)
        if result.returncode == 0:
            return result.stdout
        if "No such file" in result.stderr:
            return None
        raise SourceError(f"{self.name}: cannot read {path}: {result.first_error_line}")

    def exists(self, path: str) -> bool:
        return self.run(["test", "-e", path], ok_codes=None).returncode == 0

    def which(self, command: str) -> bool:
        import shlex

        name = shlex.quote(command)
        probe = f"command -v {name} || test -x /usr/sbin/{name} || test -x /sbin/{name}"
        return self.run(["sh", "-c", probe], ok_codes=None).returncode == 0

    def close(self) -> None:
        """Stop the shared connection (it would otherwise linger ControlPersist seconds)."""
        import shutil

        if os.path.isdir(self._control_dir):
            stop = ["ssh", "-o", f"ControlPath={self._control_dir}/%C", "-O", "exit", self.target]
            with contextlib.suppress(SourceError):
                run_command(stop, ok_codes=None, timeout=min(2.0, self.deadline.remaining(2.0)))
            shutil.rmtree(self._control_dir, ignore_errors=True)


def _ssh_failure(stderr: str) -> str:
    text = stderr.strip()
    if (
        "Host key verification failed" in text
        or "No ED25519 host key is known" in text
        or "host key for" in text.lower()
        and "not known" in text.lower()
    ):
        return "host key unknown or changed: add it to known_hosts (ssh-keyscan), then retry"
    if "Permission denied" in text:
        return (
            "authentication refused (is the monitoring user's key in the node's authorized_keys?)"
        )
    if "timed out" in text:
        return "connection timed out"
    if "Connection refused" in text:
        return "connection refused (sshd not running, or another port: --ssh-option Port=N)"
    if "Could not resolve hostname" in text or "Name or service not known" in text:
        return "host name does not resolve"
    if "No route to host" in text or "Network is unreachable" in text:
        return "no route to host"
    first = text.splitlines()[-1] if text else "ssh failed (exit 255)"
    return first[:200]


class CaptureNode(_Node):
    """The node a capture was taken on (`status --from`): its name, the tools whose output
    the capture holds and the paths it holds (so that the stack is detected as for a live
    node), and nothing to run or read there (the caller reads the capture's files as data)."""

    remote = True

    def __init__(
        self,
        name: str,
        deadline: Deadline | None = None,
        tools: frozenset[str] = frozenset(),
        paths: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.deadline = deadline or Deadline()
        self.tools = tools
        self.paths = paths

    def run(self, argv, **kwargs) -> CommandResult:
        raise SourceError(f"{self.name}: a capture, {argv[0]} is not run")

    def read(self, path: str) -> str | None:
        return None

    def exists(self, path: str) -> bool:
        return path in self.paths

    def which(self, command: str) -> bool:
        return command in self.tools

    def close(self) -> None:
        pass


Node = LocalNode | SshNode | CaptureNode


def open_node(target: str | None, options: list[str] | None, deadline: Deadline) -> Node:
    """The node a check reads: `target` over SSH (closed at exit), or this machine."""
    if options and not target:  # refused all the same: a wrong Icinga variable shows at once
        from kvmcluster.sources.ssh_options import validate_options

        validate_options(options)
    if not target:
        return LocalNode(deadline)
    import atexit

    node = SshNode(target, options or [], deadline)
    atexit.register(node.close)
    return node
