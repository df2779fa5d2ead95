"""check_kvmcluster: the cluster view as a plugin for the cluster host object. Exit code,
first line and perfdata on captures and on a live pair of real sshd nodes; bad input is one
UNKNOWN line."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests import sshd_real
from tests.plugin_runner import PluginRun, plugin_env
from tests.test_cluster_view import N05, N06, Nodes, cluster_archive, node_capture

AREAS = ("drbd", "cluster", "services", "daemons", "vm_alloc", "lvm")


def check(*args: str, timeout: float = 60) -> PluginRun:
    """The plugin's module as its console script runs it (python -m: the script appears in
    the venv only once the package is reinstalled)."""
    proc = subprocess.run(
        [sys.executable, "-m", "kvmcluster.checks.kvmcluster", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=plugin_env(),
        stdin=subprocess.DEVNULL,
    )
    return PluginRun(proc.returncode, proc.stdout, proc.stderr)


def test_a_healthy_pair_is_ok_with_perfdata_per_node_and_area(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "healthy", N06)
    run = check("--from", str(a), "--from", str(b))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.first_line == "KVMCLUSTER OK - 2 nodes, no cluster finding"
    for node in (N05, N06):
        for area in AREAS:
            assert run.perf(f"{node}_{area}") == 0
    assert run.perf("nodes_reachable") == 2
    assert run.stderr == ""


def test_a_node_in_split_brain_is_critical_and_its_drbd_perfdata_says_so(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "split-brain", N06)
    run = check("-v", "--from", str(a), "--from", str(b))
    assert run.returncode == 2
    assert run.first_line.startswith("KVMCLUSTER CRITICAL - ")
    assert run.perf(f"{N06}_drbd") == 2 and run.perf(f"{N05}_drbd") == 0
    assert run.perf(f"{N06}_vm_alloc") == 1


def test_a_node_not_read_is_warning_named_on_the_first_line_and_in_v(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    a = node_capture(src, "healthy", N05)
    archive = cluster_archive(tmp_path, {N05: a, N06: None})
    run = check("-v", "--from", str(archive))
    assert run.returncode == 1
    assert run.first_line == f"KVMCLUSTER WARNING - 2 nodes, 1 not read ({N06}), no cluster finding"
    assert f"UNKNOWN node {N06} not read: refused" in run.lines
    assert run.perf("nodes_reachable") == 1 and run.perf(f"{N06}_drbd") == 3


@pytest.mark.parametrize(
    "args, text",
    [
        (["--from", "/nonexistent/capture"], "capture /nonexistent/capture: no such file"),
        (["--node=-oProxyCommand=x"], "bad arguments: argument --node: not a node name"),
        (["--node", "node05=a b"], "bad arguments"),
        (["--ssh-option", "ProxyCommand=x", "--node", "n1=h1"], "ProxyCommand: not allowed"),
    ],
)
def test_bad_input_is_one_unknown_line(args, text):
    run = check(*args)
    assert run.returncode == 3, run.stdout + run.stderr
    assert len(run.stdout.strip().splitlines()) == 1, run.stdout
    assert run.stdout.startswith("KVMCLUSTER UNKNOWN - ") and text in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_a_capture_that_is_not_one_is_unknown(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    run = check("--from", str(bad), "--from", str(bad))
    assert run.returncode == 3 and run.stdout.startswith("KVMCLUSTER UNKNOWN - ")
    assert len(run.stdout.strip().splitlines()) == 1


live = pytest.mark.skipif(not sshd_real.available(), reason="needs root, openssh server/client")


@pytest.fixture
def nodes(tmp_path):
    pool = Nodes(tmp_path)
    yield pool
    pool.stop()


@live
def test_live_pair_over_real_sshd(nodes, tmp_path):
    nodes.add(N05, node_capture(tmp_path, "healthy", N05))
    nodes.add(N06, node_capture(tmp_path, "split-brain", N06))
    run = check("-t", "20", *nodes.options())
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.first_line.startswith("KVMCLUSTER CRITICAL - ")
    assert run.perf("nodes_reachable") == 2 and run.perf(f"{N06}_drbd") == 2


@live
def test_live_node_refused_is_a_warning_within_the_timeout(nodes, tmp_path):
    nodes.add(N05, node_capture(tmp_path, "healthy", N05))
    started = time.monotonic()
    run = check(
        "-v",
        "-t",
        "10",
        *nodes.options(),
        "--node",
        f"{N06}=root@127.0.0.1:{sshd_real.free_port()}",
    )
    assert time.monotonic() - started < 12
    assert run.returncode == 1, run.stdout
    assert run.perf("nodes_reachable") == 1
    assert any(line.startswith(f"UNKNOWN node {N06} not read: ssh ") for line in run.lines)


def test_a_hostile_node_name_in_a_capture_stays_inside_its_perfdata_label(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "healthy", "x y='1|\nKVMCLUSTER OK", "b")
    run = check("--from", str(a), "--from", str(b))
    assert len(run.stdout.splitlines()) == 1, run.stdout
    assert run.stdout.count("|") == 1
    assert "'x y=''1/\\nKVMCLUSTER OK_drbd'=0;1;2;0;3" in run.stdout
