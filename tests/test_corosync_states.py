"""Issue 18, corosync and votequorum: `corosync-cfgtool -s` (new, --cfgtool-file) and the
`corosync-quorumtool -s` states that read OK before.

Fixtures: two real corosync 3.1 + Pacemaker 2.1 nodes in network namespaces with their knet
links cut one by one and a qdevice whose qnetd is unreachable
(tests/fixtures/corosync-src/capture_two_nodes.py, which the live test below runs again);
corosync 3.0 and 2.x layouts from the printf formats of those versions' corosync-cfgtool.c
(see tests/fixtures/SOURCES.md). Each case: the verdict and the first line, through the plugin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kvmcluster.parsers.cfgtool import parse_cfgtool
from kvmcluster.parsers.quorumtool import parse_quorumtool
from tests.plugin_runner import FIXTURES, fixture, run_plugin

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3

CASES = [
    # corosync 3.1 knet (real)
    (
        ["--cfgtool-file", "corosync-cfgtool_31-two-links-ok.txt"],
        OK,
        "CLUSTER OK - corosync 2 links connected (link 0, 1)",
    ),
    (
        ["--cfgtool-file", "corosync-cfgtool_31-link1-down.txt"],
        WARNING,
        "CLUSTER WARNING - link 1 (10.77.1.1) down to node 2 (redundancy lost)",
    ),
    (
        ["--cfgtool-file", "corosync-cfgtool_31-link1-down-brief.txt"],
        WARNING,
        "CLUSTER WARNING - link 1 (10.77.1.1) down to node #2 (redundancy lost)",
    ),
    (
        ["--cfgtool-file", "corosync-cfgtool_31-all-links-down.txt"],
        CRITICAL,
        "CLUSTER CRITICAL - node 2 unreachable: every link down (link 0 (10.77.0.1), "
        "link 1 (10.77.1.1))",
    ),
    # with the membership, the peer is named
    (
        ["--cfgtool-file", "corosync-cfgtool_31-link1-down.txt"]
        + ["--quorumtool-file", "corosync-quorumtool_31-two-node-ok.txt"],
        WARNING,
        "CLUSTER WARNING - link 1 (10.77.1.1) down to hgnode2 (redundancy lost)",
    ),
    (
        ["--cfgtool-file", "corosync-cfgtool_31-two-links-ok.txt"]
        + ["--quorumtool-file", "corosync-quorumtool_31-two-node-ok.txt"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (hgnode1, hgnode2), 2 votes, 2 expected, "
        "1 needed",
    ),
    # corosync 3.0 layouts
    (
        ["--cfgtool-file", "corosync-cfgtool_30-link1-down.txt"],
        WARNING,
        "CLUSTER WARNING - link 1 (10.20.1.11) down to node 2 (redundancy lost)",
    ),
    (
        ["--cfgtool-file", "corosync-cfgtool_300-all-links-down.txt"],
        CRITICAL,
        "CLUSTER CRITICAL - node #2 unreachable: every link down (link 0 (10.20.0.11), "
        "link 1 (10.20.1.11))",
    ),
    # corosync 2 rings
    (
        ["--cfgtool-file", "corosync-cfgtool_2-one-ring-ok.txt"],
        OK,
        "CLUSTER OK - corosync 1 ring up (ring 0)",
    ),
    (
        ["--cfgtool-file", "corosync-cfgtool_2-ring1-faulty.txt"],
        WARNING,
        "CLUSTER WARNING - ring 1 (10.20.1.11) FAULTY: corosync-cfgtool -r once the network "
        "is fixed",
    ),
    (
        ["--cfgtool-file", "corosync-cfgtool_2-both-rings-faulty.txt"],
        CRITICAL,
        "CLUSTER CRITICAL - ring 0 (10.20.0.11), ring 1 (10.20.1.11) FAULTY: corosync-cfgtool -r "
        "once the network is fixed",
    ),
    # votequorum: quorate only thanks to two_node while the peer is lost
    (
        ["--quorumtool-file", "corosync-quorumtool_31-two-node-peer-lost.txt"],
        CRITICAL,
        "CLUSTER CRITICAL - quorate only through two_node (1 of 2 votes): the peer is lost",
    ),
    (
        ["--quorumtool-file", "corosync-quorumtool_31-two-node-peer-lost.txt", "--offline-warning"],
        WARNING,
        "CLUSTER WARNING - quorate only through two_node (1 of 2 votes): the peer is lost",
    ),
    (
        ["--quorumtool-file", "corosync-quorumtool_2-one-of-three.txt"],
        CRITICAL,
        "CLUSTER CRITICAL - 1 vote missing (2 of 3 votes): a node is lost (or a configured "
        "qdevice does not vote)",
    ),
    # a qdevice that does not vote: WARNING, and never a node
    (
        ["--quorumtool-file", "corosync-quorumtool_31-qdevice-not-voting.txt"],
        WARNING,
        "CLUSTER WARNING - qdevice Qdevice not voting (0 of 1 vote: corosync-qdevice-tool -sv)",
    ),
    # a configured qdevice whose daemon does not run: no row, no flag, one vote short
    (
        ["--quorumtool-file", "corosync-quorumtool_31-qdevice-daemon-down.txt"],
        CRITICAL,
        "CLUSTER CRITICAL - 1 vote missing (2 of 3 votes): a node is lost (or a configured "
        "qdevice does not vote)",
    ),
    (
        ["--quorumtool-file", "corosync-quorumtool_31-qdevice-daemon-down.txt"]
        + ["--crm-mon-file", "crm-mon_21-two-node-ok.xml"],
        WARNING,
        "CLUSTER WARNING - 1 vote missing (2 of 3 votes) with every node online: a configured "
        "qdevice does not vote (is corosync-qdevice running?)",
    ),
    # the whole healthy stack: crm_mon + quorumtool + cfgtool
    (
        ["--crm-mon-file", "crm-mon_21-two-node-ok.xml"]
        + ["--quorumtool-file", "corosync-quorumtool_31-two-node-ok.txt"]
        + ["--cfgtool-file", "corosync-cfgtool_31-two-links-ok.txt"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (hgnode1, hgnode2), DC hgnode2, 2 votes, "
        "2 expected, 1 needed",
    ),
    (
        ["--quorumtool-file", "corosync-quorumtool_3-qdevice.txt"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (node05, node06), 3 votes, 3 expected, 2 needed",
    ),
]


@pytest.mark.parametrize("args, code, first", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_check_cluster_corosync_states(args, code, first):
    resolved = [fixture(a) if a.endswith((".txt", ".xml")) else a for a in args]
    run = run_plugin("check_cluster", *resolved)
    assert (run.returncode, run.first_line) == (code, first), run.stdout


def test_links_are_perfdata_and_verbose_lines():
    run = run_plugin(
        "check_cluster",
        "--cfgtool-file",
        fixture("corosync-cfgtool_31-link1-down.txt"),
        "--quorumtool-file",
        fixture("corosync-quorumtool_31-two-node-ok.txt"),
        "-v",
    )
    assert run.perfdata["links_up"] == (1.0, "", ["", "1:", "0", "2"])
    assert "OK: link 1 udp 10.77.1.1: hgnode1 localhost, hgnode2 disconnected" in run.lines


def test_the_qdevice_row_is_never_a_node():
    for name in (
        "corosync-quorumtool_31-qdevice-not-voting.txt",
        "corosync-quorumtool_3-qdevice.txt",
    ):
        status = parse_quorumtool((FIXTURES / name).read_text())
        assert [n.name for n in status.cluster_nodes] in (
            ["hgnode1", "hgnode2"],
            ["node05", "node06"],
        )
        (qdevice,) = [n for n in status.nodes if n.qdisk]
        assert qdevice.name == "Qdevice" and qdevice.qdevice_votes == 1
    run = run_plugin(
        "check_cluster",
        "--quorumtool-file",
        fixture("corosync-quorumtool_31-qdevice-not-voting.txt"),
    )
    assert "1)" not in run.stdout and run.perf("nodes_online") == 2


def test_cfgtool_layouts_give_the_same_links():
    new = parse_cfgtool((FIXTURES / "corosync-cfgtool_31-link1-down.txt").read_text())
    old = parse_cfgtool((FIXTURES / "corosync-cfgtool_30-link1-down.txt").read_text())
    for status in (new, old):
        assert [
            (link.link_id, [(p.node_id, p.status) for p in link.peers]) for link in status.links
        ] == [
            (0, [(1, "localhost"), (2, "connected")]),
            (1, [(1, "localhost"), (2, "disconnected")]),
        ]
    assert new.local_node_id == old.local_node_id == 1 and new.links[0].transport == "udp"


def test_corosync_not_running_is_critical():
    run = run_plugin(
        "check_cluster",
        "--cfgtool-file",
        "-",
        stdin="Could not initialize corosync configuration API error 2\n",
    )
    assert run.returncode == CRITICAL
    assert run.first_line.startswith("CLUSTER CRITICAL - cluster stack not running on this node")


def test_not_cfgtool_output_is_unknown_naming_the_file():
    run = run_plugin(
        "check_cluster", "--cfgtool-file", fixture("corosync-quorumtool_31-two-node-ok.txt")
    )
    assert run.returncode == UNKNOWN
    assert run.first_line.startswith(
        f"CLUSTER UNKNOWN - cannot parse {fixture('corosync-quorumtool_31-two-node-ok.txt')}"
    )


# --- the real thing: two corosync + Pacemaker nodes in network namespaces ----------------


def _why_not_live() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in (
        "ip",
        "unshare",
        "nsenter",
        "corosync",
        "pacemakerd",
        "crm_mon",
        "corosync-cfgtool",
    ):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "ip netns does not work here"
    return None


@pytest.mark.real
@pytest.mark.skipif(_why_not_live() is not None, reason=str(_why_not_live()))
def test_live_two_nodes_links_quorum_and_fencing(tmp_path):
    """Runs the capture script again against real daemons (about 90 s) and checks the verdicts
    on what the real tools print today."""
    script = Path(__file__).parent / "fixtures" / "corosync-src" / "capture_two_nodes.py"
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=900
    )
    if proc.returncode == 75:
        pytest.skip("another run of the capture script holds the namespaces")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    def check(*args):
        return run_plugin("check_cluster", *[str(tmp_path / a) if "_" in a else a for a in args])

    assert check("--cfgtool-file", "corosync-cfgtool_31-two-links-ok.txt").returncode == OK
    run = check(
        "--cfgtool-file",
        "corosync-cfgtool_31-link1-down.txt",
        "--quorumtool-file",
        "corosync-quorumtool_31-two-node-ok.txt",
    )
    assert (run.returncode, run.first_line) == (
        WARNING,
        "CLUSTER WARNING - link 1 (10.77.1.1) down to hgnode2 (redundancy lost)",
    )
    assert check("--cfgtool-file", "corosync-cfgtool_31-all-links-down.txt").returncode == CRITICAL
    run = check("--quorumtool-file", "corosync-quorumtool_31-two-node-peer-lost.txt")
    assert run.returncode == CRITICAL and "quorate only through two_node" in run.first_line
    run = check("--crm-mon-file", "crm-mon_21-fencing-failed.xml")
    assert run.returncode == CRITICAL and "fencing of hgnode2 failed" in run.first_line, run.stdout
    run = check("--crm-mon-file", "crm-mon_21-fencing-pending.xml")
    assert run.returncode == CRITICAL and "fencing of hgnode2 pending" in run.first_line
    run = check(
        "--crm-mon-file", "crm-mon_21-fencing-failed-then-succeeded.xml", "--offline-warning"
    )
    assert "superseded by a later success" in run.first_line
    if (tmp_path / "corosync-quorumtool_31-qdevice-not-voting.txt").exists():
        run = check("--quorumtool-file", "corosync-quorumtool_31-qdevice-not-voting.txt")
        assert run.returncode == WARNING and "not voting" in run.first_line
    # nothing of the test cluster is left behind (unless another run started meanwhile)
    others = subprocess.run(["pgrep", "-f", "capture_two_nodes.py"], capture_output=True).stdout
    if not others:
        assert not any(Path("/run/netns", ns).exists() for ns in ("hGa", "hGb"))
        assert not Path("/usr/sbin/fence_hgstub").exists()
