"""Tests and tools stop only what they started: no kill by process name anywhere in the tree,
and the live cluster helper ends its own processes (and every process they spawned), nothing
else."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import live_pacemaker
from tests.plugin_runner import REPO

# The tools that pick their victims by name, spelled in two parts so that this guard is not
# itself a line that kills by name.
PKILL, KILLALL = "p" + "kill", "kill" + "all"
# a kill that picks its victims by name or by open file, not by a PID the caller holds
BY_NAME = [
    re.compile(rf"\b{PKILL}\b"),
    re.compile(rf"\b{KILLALL}\b"),
    re.compile(r"\bfuser\b.*\s-\w*k"),
    re.compile(r"\bkill\b.*\$\(\s*(pgrep|pidof)\b"),
    re.compile(r"\b(pgrep|pidof)\b.*\|\s*xargs\s+(-\S+\s+)*kill\b"),
    re.compile(r"\bkill\b.*`\s*(pgrep|pidof)\b"),
]
SCANNED = ["tests", "scripts", "bench", ".ci", "icinga", "plugins", "kvmcluster"]


def _files() -> list[Path]:
    found = []
    for top in SCANNED:
        root = REPO / top
        candidates = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in candidates:
            if not path.is_file() or path == Path(__file__):
                continue
            if "fixtures" in path.relative_to(REPO).parts or "__pycache__" in path.parts:
                continue
            found.append(path)
    return found


def test_nothing_in_the_tree_kills_processes_by_name():
    files = _files()
    assert len(files) > 50 and REPO / "tests/live_pacemaker.py" in files
    hits = []
    for path in files:
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(pattern.search(line) for pattern in BY_NAME):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert hits == [], "kill by PID (or process group / namespace), not by name:\n" + "\n".join(
        hits
    )


def test_the_patterns_catch_what_they_are_for():
    caught = [
        f'subprocess.run(["{PKILL}", "-KILL", "-f", "/usr/lib/pacemaker/pacemaker-"])',
        f"{KILLALL} -9 corosync",
        "fuser -k -n tcp 5666",
        "kill -9 $(pgrep nrpe)",
        "pgrep -f libvirtd | xargs -r kill",
    ]
    assert all(any(p.search(line) for p in BY_NAME) for line in caught)
    spared = ['subprocess.run(["pgrep", "-x", "corosync"])', "kill -TERM $pid", "os.kill(pid, 9)"]
    assert not any(p.search(line) for p in BY_NAME for line in spared)


@pytest.mark.real
@pytest.mark.skipif(live_pacemaker.why_not() is not None, reason=str(live_pacemaker.why_not()))
def test_the_cluster_namespace_ends_what_it_started_and_nothing_else(tmp_path):
    """A daemon started in the cluster's namespace, and one it detached with setsid, end with
    close(); a process outside bearing a Pacemaker daemon's path lives on."""
    decoy = subprocess.Popen(
        ["/usr/lib/pacemaker/pacemaker-decoy-hD2", "300"],
        executable=shutil.which("sleep"),
        start_new_session=True,
    )
    cluster = live_pacemaker.TestCluster(tmp_path)
    try:
        cluster._open_namespace()
        daemon = cluster._daemon(["sleep", "300"])
        detach = subprocess.run(
            [*cluster.enter, "setsid", "-f", "sleep", "301"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        assert detach.returncode == 0
        inside = cluster.processes()
        assert len(inside) >= 3  # PID 1, the daemon, the detached one
        assert all(pid in inside for pid in cluster.started)
        assert decoy.pid not in inside
        cluster.close()
        assert daemon.poll() is not None
        assert cluster.processes() == []
        assert not [pid for pid in inside if Path(f"/proc/{pid}").exists()]
        assert "kvmcluster-test" not in Path("/proc/self/mounts").read_text()
        assert decoy.poll() is None, "close() ended a process it did not start"
    finally:
        cluster.close()
        decoy.kill()
        decoy.wait()
