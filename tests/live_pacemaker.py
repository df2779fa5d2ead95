"""A real single-node corosync 3 + Pacemaker 2 on 127.0.0.1, started and stopped by tests.

The cluster runs in namespaces of its own (PID, mount, network), so it touches nothing of the
machine and no other test's cluster: tmpfs over /run, /dev/shm, /var/lib/pacemaker,
/var/lib/corosync, /var/log and /etc/corosync; its own loopback (corosync's and Pacemaker's IPC
sockets are per network namespace). Commands run inside with `cluster.command(...)`, plugins
with `run_plugin(..., prefix=cluster.enter)`. stop() stops the daemons by their PIDs;
close() ends the namespace, which ends every process left in it, and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

NODE = "node05"
TMPFS = ["/run", "/dev/shm", "/var/lib/pacemaker", "/var/lib/corosync", "/var/log", "/etc/corosync"]
PCMK_DIRS = [
    "/run/crm",
    "/var/lib/pacemaker/cib",
    "/var/lib/pacemaker/pengine",
    "/var/lib/pacemaker/blackbox",
    "/var/lib/pacemaker/cores",
    "/var/log/pacemaker",
]

# PID 1 of the namespace: reaps what dies in it, until the namespace ends
REAPER = """\
import os, time
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.2)
"""

COROSYNC_CONF = """\
totem {{
    version: 2
    cluster_name: kvmtest
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    interface {{
        linknumber: 0
    }}
}}
nodelist {{
    node {{
        name: {node}
        nodeid: 1
        ring0_addr: 127.0.0.1
    }}
}}
quorum {{
    provider: corosync_votequorum
}}
logging {{
    to_logfile: yes
    logfile: {dir}/corosync.log
    to_syslog: no
    to_stderr: no
}}
"""

TOOLS = (
    "corosync",
    "pacemakerd",
    "crm_mon",
    "cibadmin",
    "corosync-quorumtool",
    "unshare",
    "nsenter",
    "ip",
)


def why_not() -> str | None:
    """None when a test cluster can run here, else the reason to skip."""
    if os.geteuid() != 0:
        return "needs root (namespaces, tmpfs mounts)"
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (corosync, pacemaker, pacemaker-cli-utils, util-linux)"
    return None


def _wait(what: str, predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not reached within {timeout}s")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def _pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


class TestCluster:
    """One node named `node`; `etc_corosync_conf`, when given, is what /etc/corosync/corosync.conf
    holds inside (pcs reads node names there), while corosync itself runs on the test's own
    one-node configuration."""

    def __init__(self, workdir: Path, node: str = NODE, etc_corosync_conf: str | None = None):
        self.dir = workdir
        self.node = node
        self.etc_corosync_conf = etc_corosync_conf
        self.holder: subprocess.Popen | None = None
        self.init_pid: int | None = None
        self.namespace: str | None = None
        self.corosync: subprocess.Popen | None = None
        self.pacemakerd: subprocess.Popen | None = None
        self.started: list[int] = []  # every daemon PID this cluster started (host view)

    # --- the namespace -------------------------------------------------------------------

    @property
    def enter(self) -> list[str]:
        """The prefix that runs a command inside the cluster's namespaces."""
        assert self.init_pid is not None, "cluster not started"
        return ["nsenter", "-t", str(self.init_pid), "-m", "-n", "-p", "--"]

    def command(self, *argv: str, env: dict | None = None, timeout: float = 60):
        return subprocess.run(
            [*self.enter, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )

    def cli(self, *argv: str) -> str:
        proc = self.command(*argv)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {proc.stdout}{proc.stderr}")
        return proc.stdout

    def _open_namespace(self) -> None:
        self.holder = subprocess.Popen(
            [
                "unshare",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount",
                "--net",
                "--propagation",
                "private",
                "--mount-proc",
                sys.executable,
                "-c",
                REAPER,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait("the namespace's PID 1", lambda: bool(_children(self.holder.pid)), 10)
        self.init_pid = _children(self.holder.pid)[0]
        self.namespace = _pid_namespace(self.init_pid)
        for directory in TMPFS:
            self.cli("mount", "-t", "tmpfs", "-o", "mode=0755", "kvmcluster-test", directory)
        self.cli("chmod", "1777", "/dev/shm")
        self.cli("ip", "link", "set", "lo", "up")
        self.cli("mkdir", "-p", *PCMK_DIRS)
        self.cli("chown", "-R", "hacluster:haclient", "/run/crm", "/var/lib/pacemaker")
        self.cli("chown", "hacluster:haclient", "/var/log/pacemaker")

    def _daemon(self, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(
            [*self.enter, *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        _wait(f"{argv[0]} started", lambda: bool(_children(proc.pid)), 10)
        self.started += _children(proc.pid)
        return proc

    # --- the cluster ---------------------------------------------------------------------

    def start(self, stonith: bool = False) -> None:
        self._open_namespace()
        conf = self.dir / "corosync.conf"
        conf.write_text(COROSYNC_CONF.format(node=self.node, dir=self.dir))
        if self.etc_corosync_conf is not None:
            staged = self.dir / "etc-corosync.conf"
            staged.write_text(self.etc_corosync_conf)
            self.cli("cp", str(staged), "/etc/corosync/corosync.conf")
        self.corosync = self._daemon(["corosync", "-f", "-c", str(conf)])
        _wait(
            "corosync quorum", lambda: self.command("corosync-quorumtool", "-s").returncode == 0, 20
        )
        env = {"PCMK_logfile": str(self.dir / "pacemaker.log"), "PCMK_logfacility": "none"}
        self.pacemakerd = self._daemon(["pacemakerd"], env)
        _wait("a DC with quorum", self._has_dc, 90)
        if not stonith:
            self.disable_stonith()

    def disable_stonith(self) -> None:
        self.cli(
            "crm_attribute",
            "--type",
            "crm_config",
            "--name",
            "stonith-enabled",
            "--update",
            "false",
        )

    def _has_dc(self) -> bool:
        out = self.command("crm_mon", "--output-as=xml", "-1").stdout
        return 'current_dc present="true"' in out and 'with_quorum="true"' in out

    def create(self, section: str, xml: str) -> None:
        self.cli("cibadmin", "--create", "-o", section, "--xml-text", xml)

    def settle(self, timeout: str = "60s") -> None:
        self.cli("crm_resource", "--wait", f"--timeout={timeout}")

    def processes(self) -> list[int]:
        """Host PIDs of the processes in the cluster's PID namespace, its PID 1 included."""
        if self.namespace is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and _pid_namespace(int(entry.name)) == self.namespace:
                found.append(int(entry.name))
        return found

    def stop(self) -> None:
        """Stop pacemakerd, then corosync, by their PIDs; the namespace stays (tools still run)."""
        for proc, grace in ((self.pacemakerd, 60), (self.corosync, 30)):
            if proc is None or proc.poll() is not None:
                continue
            _signal(_children(proc.pid), signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal(_children(proc.pid), signal.SIGKILL)
                proc.wait()
        # what the daemons left behind (pacemaker-* children, agents) lives in our namespace
        _signal([pid for pid in self.processes() if pid != self.init_pid], signal.SIGKILL)

    def close(self) -> None:
        """stop(), then end the namespace: its PID 1 dies, and with it whatever is left in it."""
        self.stop()
        if self.holder is not None and self.holder.poll() is None:
            # unshare ignores SIGTERM while it waits; SIGKILL ends it, and --kill-child then
            # sends SIGKILL to PID 1
            self.holder.kill()
            self.holder.wait()
        _wait("the namespace gone", lambda: not self.processes(), 10)
