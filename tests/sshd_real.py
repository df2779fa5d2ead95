"""A real OpenSSH server on 127.0.0.1 for tests (its own port, host key, user key and config;
started and stopped by PID), whose sessions run with a PATH of the test's "node tools" first
(authorized_keys `environment=`, PermitUserEnvironment). `capture_tools()` writes tools that
answer the exact commands of `kvmcluster collect` from a capture directory, so a real sshd is
a node whose state is that capture."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def available() -> bool:
    return os.path.exists(SSHD) and bool(shutil.which("ssh")) and os.geteuid() == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


class Server:
    """sshd -D on 127.0.0.1 on a free port with its own host key, reading `authorized` (an
    authorized_keys file the caller wrote); stopped by PID with every session it started."""

    def __init__(self, directory: Path, authorized: Path, extra_config: str = ""):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        keygen(self.dir / "host_key")
        host_public = " ".join((self.dir / "host_key.pub").read_text().split()[:2])
        self.host_public = host_public
        self.known_host = f"[127.0.0.1]:{self.port} {host_public}\n"
        config = self.dir / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {self.dir / 'host_key'}\n"
            f"PidFile {self.dir / 'sshd.pid'}\nAuthorizedKeysFile {authorized}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n" + extra_config
        )
        Path("/run/sshd").mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [SSHD, "-f", str(config), "-D", "-e"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("sshd did not start")

    def stop(self) -> None:
        """The sshd and every session process it started (a hung tool), by PID."""
        import psutil

        if self.proc.poll() is None:
            try:
                children = psutil.Process(self.proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                children = []
            self.proc.terminate()
            self.proc.wait(timeout=10)
            for child in children:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()


class Sshd(Server):
    """A Server whose `user_key` (a path) is authorized with PATH=bin_dir first: `tools`
    (name -> shell body) are the node's commands."""

    def __init__(self, directory: Path, user_key: Path, tools: dict[str, str]):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.bin = directory / "bin"
        self.bin.mkdir(exist_ok=True)
        for name, body in tools.items():
            tool = self.bin / name
            tool.write_text("#!/bin/sh\n" + body)
            tool.chmod(0o755)
        public = Path(f"{user_key}.pub").read_text().strip()
        authorized = directory / "authorized_keys"
        # HOME of its own: the session's shell reads no startup file of this machine's root
        # (a ~/.bashrc that runs pyenv or the like would slow or block every command)
        home = directory / "home"
        home.mkdir(exist_ok=True)
        authorized.write_text(
            f'environment="PATH={self.bin}:/usr/bin:/bin",environment="HOME={home}" {public}\n'
        )
        authorized.chmod(0o600)
        super().__init__(
            directory, authorized, "PermitUserEnvironment yes\nMaxSessions 50\nMaxStartups 50\n"
        )


# --- node tools answering from a capture ----------------------------------------------------


def capture_tools(capture: Path, hang: float = 0.0) -> dict[str, str]:
    """Tools for Sshd that print `capture` for collect's exact commands (each tool exits as
    the capture's MANIFEST recorded, absent ones say "not found" and exit 127), and `cat`
    for collect's files. `hang`: every tool sleeps that long first (a hung node)."""
    from kvmcluster import capture as c
    from kvmcluster.collect import COMMANDS, FILES

    capture = Path(capture)
    manifest = {}
    if (capture / c.MANIFEST).is_file():
        inputs = json.loads((capture / c.MANIFEST).read_text()).get("inputs", [])
        manifest = {entry["file"]: entry for entry in inputs}
    pause = f"/bin/sleep {hang:g}\n" if hang else ""
    programs: dict[str, list[str]] = {}
    for name, argv in COMMANDS:
        path = capture / name
        if not path.is_file():
            continue
        code = manifest.get(name, {}).get("exit_code", 0)
        words = " ".join(argv[1:])
        programs.setdefault(argv[0], []).append(
            f"  {shlex.quote(words) if words else chr(39) * 2}) /bin/cat {shlex.quote(str(path))}; "
            f"exit {int(code)};;\n"
        )
    tools = {}
    for program in {argv[0] for _, argv in COMMANDS}:
        cases = programs.get(program)
        if not cases:
            tools[program] = f'echo "sh: 1: {program}: not found" >&2\nexit 127\n'
            continue
        tools[program] = (
            pause + 'case "$*" in\n' + "".join(cases) + "esac\n"
            f'echo "{program}: unexpected arguments: $*" >&2\nexit 1\n'
        )
    files = "".join(
        f"  {shlex.quote(source)}) /bin/cat {shlex.quote(str(capture / name))};;\n"
        for name, source in FILES
        if (capture / name).is_file()
    )
    tools["cat"] = (
        "[ $# -eq 0 ] && exec /bin/cat\n"
        'for f in "$@"; do case "$f" in\n'
        f"{files}"
        "  /etc/drbd.d/*) ;;\n"
        '  *) echo "cat: $f: No such file or directory" >&2; exit 1;;\n'
        "esac; done\n"
    )
    return tools


def ssh_options(user_key: Path, known_hosts: Path) -> list[str]:
    return [
        "--ssh-option",
        f"IdentityFile={user_key}",
        "--ssh-option",
        f"UserKnownHostsFile={known_hosts}",
        "--ssh-option",
        "StrictHostKeyChecking=yes",
    ]
