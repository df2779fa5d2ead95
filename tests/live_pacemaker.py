"""A real single-node corosync 3 + Pacemaker 2 on 127.0.0.1, started and stopped by tests.

It writes its state where the daemons always do (/var/lib/pacemaker, /var/lib/corosync), so it
only runs where no cluster runs and no foreign CIB would be wiped: a CIB left by a real cluster
(no marker of ours) makes the tests skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

CIB_DIR = Path("/var/lib/pacemaker/cib")
STATE_DIRS = [CIB_DIR, Path("/var/lib/pacemaker/pengine"), Path("/var/lib/corosync")]
MARKER = CIB_DIR / ".kvmcluster-tests"
NODE = "node05"

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


def why_not() -> str | None:
    """None when a test cluster can run here, else the reason to skip."""
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("corosync", "pacemakerd", "crm_mon", "cibadmin", "corosync-quorumtool"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (corosync, pacemaker, pacemaker-cli-utils)"
    if subprocess.run(["pgrep", "-x", "corosync"], capture_output=True).returncode == 0:
        return "a corosync already runs on this machine"
    if subprocess.run(["pgrep", "-x", "pacemakerd"], capture_output=True).returncode == 0:
        return "a pacemakerd already runs on this machine"
    if any(CIB_DIR.glob("cib*")) and not MARKER.exists():
        return f"{CIB_DIR} holds a CIB that is not ours: refusing to wipe it"
    return None


def _wipe_state() -> None:
    for directory in STATE_DIRS:
        if directory.is_dir():
            for entry in directory.iterdir():
                if entry.is_file() and entry != MARKER:
                    entry.unlink()


def _wait(what: str, predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not reached within {timeout}s")


class TestCluster:
    def __init__(self, workdir: Path):
        self.dir = workdir
        self.corosync: subprocess.Popen | None = None
        self.pacemakerd: subprocess.Popen | None = None

    def start(self) -> None:
        _wipe_state()
        CIB_DIR.mkdir(parents=True, exist_ok=True)
        MARKER.touch()
        conf = self.dir / "corosync.conf"
        conf.write_text(COROSYNC_CONF.format(node=NODE, dir=self.dir))
        self.corosync = subprocess.Popen(
            ["corosync", "-f", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait("corosync quorum", lambda: self._run("corosync-quorumtool", "-s").returncode == 0, 20)
        env = {
            **os.environ,
            "PCMK_logfile": str(self.dir / "pacemaker.log"),
            "PCMK_logfacility": "none",
        }
        self.pacemakerd = subprocess.Popen(
            ["pacemakerd"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        _wait("a DC with quorum", self._has_dc, 90)
        self.cli(
            "crm_attribute",
            "--type",
            "crm_config",
            "--name",
            "stonith-enabled",
            "--update",
            "false",
        )

    def _run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def _has_dc(self) -> bool:
        out = self._run("crm_mon", "--output-as=xml", "-1").stdout
        return 'current_dc present="true"' in out and 'with_quorum="true"' in out

    def cli(self, *argv: str) -> str:
        proc = self._run(*argv)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {proc.stdout}{proc.stderr}")
        return proc.stdout

    def create(self, section: str, xml: str) -> None:
        self.cli("cibadmin", "--create", "-o", section, "--xml-text", xml)

    def settle(self) -> None:
        self.cli("crm_resource", "--wait", "--timeout=60s")

    def stop(self) -> None:
        for proc, grace in ((self.pacemakerd, 60), (self.corosync, 30)):
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # children of pacemakerd that outlived it
        subprocess.run(["pkill", "-KILL", "-f", "/usr/lib/pacemaker/pacemaker-"], check=False)
        _wipe_state()
