"""check_cluster and check_cluster_services on captured output of every supported tool."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.plugin_runner import FIXTURES, fixture, run_plugin

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3

CLUSTER_CASES = [
    (
        [
            "--cman-status-file",
            "cman-tool-status_quorate-two-node.txt",
            "--cman-nodes-file",
            "cman-tool-nodes_both-members.txt",
        ],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (node05.c01.cloud.agarik.com, "
        "node06.c01.cloud.agarik.com), 2 votes, 1 expected, 1 needed",
    ),
    (
        [
            "--cman-status-file",
            "cman-tool-status_quorate-two-node.txt",
            "--cman-nodes-file",
            "cman-tool-nodes_node06-offline.txt",
        ],
        CRITICAL,
        "CLUSTER CRITICAL - node06.c01.cloud.agarik.com offline, 1 of 2 nodes degraded",
    ),
    (
        [
            "--cman-status-file",
            "cman-tool-status_quorate-two-node.txt",
            "--cman-nodes-file",
            "cman-tool-nodes_node06-offline.txt",
            "--offline-warning",
        ],
        WARNING,
        "CLUSTER WARNING - node06.c01.cloud.agarik.com offline",
    ),
    (
        [
            "--cman-status-file",
            "cman-tool-status_inquorate-activity-blocked.txt",
            "--cman-nodes-file",
            "cman-tool-nodes_three-nodes-disallowed-qdisk.txt",
        ],
        CRITICAL,
        "CLUSTER CRITICAL - not quorate (activity blocked, 1 vote, 3 expected, 2 needed), "
        "kvm02.example.com disallowed (restart the cluster stack on it), kvm03.example.com offline",
    ),
    (
        ["--cman-status-file", "cman-tool-status_not-running.txt"],
        CRITICAL,
        "CLUSTER CRITICAL - cluster stack not running on this node (cman_tool: Cannot open "
        "connection to cman, is it running ?): service cman start",
    ),
    (
        ["--clustat-file", "clustat-x_411-all-started.xml"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online",
    ),
    (
        ["--clustat-file", "clustat-x_411-inquorate-no-rgmanager.xml"],
        CRITICAL,
        "CLUSTER CRITICAL - not quorate, kvm02.example.com offline, kvm03.example.com offline",
    ),
    (
        ["--clustat-file", "clustat-x_40-rhel5-numeric-states.xml"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (xen1.example.com, xen2.example.com)",
    ),
    (
        ["--quorumtool-file", "corosync-quorumtool_3-quorate.txt"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (node05, node06), 2 votes, 2 expected, 1 needed",
    ),
    (
        ["--quorumtool-file", "corosync-quorumtool_3-inquorate-activity-blocked.txt"],
        CRITICAL,
        "CLUSTER CRITICAL - not quorate (activity blocked, 1 vote, 2 expected, 2 needed)",
    ),
    (
        ["--quorumtool-file", "corosync-quorumtool_3-qdevice.txt"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (node05, node06), 3 votes, 3 expected, 2 needed",
    ),
    (
        ["--quorumtool-file", "corosync-quorumtool_2-one-of-three.txt", "--expected-nodes", "3"],
        CRITICAL,
        "CLUSTER CRITICAL - 2 of 3 expected nodes are members",
    ),
    (
        ["--quorumtool-file", "corosync-quorumtool_not-running.txt"],
        CRITICAL,
        "CLUSTER CRITICAL - cluster stack not running on this node (Cannot initialize CMAP "
        "service)",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-healthy.xml"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (node05, node06), DC node05",
    ),
    (
        [
            "--crm-mon-file",
            "crm-mon_seed-healthy.xml",
            "--quorumtool-file",
            "corosync-quorumtool_3-quorate.txt",
        ],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (node05, node06), DC node05, 2 votes",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-node06-down.xml"],
        CRITICAL,
        "CLUSTER CRITICAL - node06 offline",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-node06-failed-unclean.xml"],
        CRITICAL,
        "CLUSTER CRITICAL - node06 UNCLEAN (needs fencing)",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-inquorate.xml"],
        CRITICAL,
        "CLUSTER CRITICAL - not quorate, node06 offline",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-node06-standby.xml"],
        WARNING,
        "CLUSTER WARNING - node06 standby",
    ),
    (
        ["--crm-mon-file", "crm-mon_11-rhel7-master-failed.xml"],
        WARNING,
        "CLUSTER WARNING - kvm02 maintenance",
    ),
    (
        ["--crm-mon-file", "crm-mon_not-connected.xml"],
        CRITICAL,
        "CLUSTER CRITICAL - cluster stack not running on this node (Not connected",
    ),
]

SERVICES_CASES = [
    (
        ["--clustat-file", "clustat-x_411-all-started.xml"],
        OK,
        "SERVICES OK - 2 services OK (2 started)",
    ),
    (
        ["--clustat-file", "clustat-x_411-qdisk-services-in-trouble.xml"],
        CRITICAL,
        "SERVICES CRITICAL - vm:db01 failed (last on kvm02.example.com), service:nfs-export frozen",
    ),
    (
        ["--clustat-file", "clustat-x_411-qdisk-services-in-trouble.xml", "-x", "db01"],
        WARNING,
        "SERVICES WARNING - service:nfs-export frozen, vm:test01 disabled",
    ),
    (
        [
            "--clustat-file",
            "clustat-x_411-qdisk-services-in-trouble.xml",
            "-s",
            "vm:test01",
            "--ignore-disabled",
        ],
        OK,
        "SERVICES OK - 1 services OK (0 started)",
    ),
    (
        ["--clustat-file", "clustat-x_411-qdisk-services-in-trouble.xml", "-s", "web02"],
        WARNING,
        "SERVICES WARNING - vm:web02 partial",
    ),
    (
        [
            "--clustat-file",
            "clustat-x_411-qdisk-services-in-trouble.xml",
            "-s",
            "vm:web01",
            "-s",
            "vm:web03",
        ],
        WARNING,
        "SERVICES WARNING - vm:web01 recovering (last on kvm01.example.com), "
        "vm:web03 stopped (last on kvm02.example.com)",
    ),
    (
        ["--clustat-file", "clustat-x_40-rhel5-numeric-states.xml"],
        CRITICAL,
        "SERVICES CRITICAL - vm:legacy02 uninitialized",
    ),
    (
        ["--clustat-file", "clustat-x_411-inquorate-no-rgmanager.xml"],
        CRITICAL,
        "SERVICES CRITICAL - rgmanager not running on this node",
    ),
    (
        ["--clustat-file", "clustat-x_411-all-started.xml", "-s", "vm:nonexistent"],
        CRITICAL,
        "SERVICES CRITICAL - vm:nonexistent not configured",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-healthy.xml", "--promoted", "2"],
        WARNING,  # issue 18: no fencing under dual-primary DRBD and VMs is not OK
        "SERVICES WARNING - stonith-enabled=false with dual-primary drbd-volnode05-clone and "
        "2 VMs: a split brain can run them on both nodes (configure fencing)",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-node06-down.xml", "--promoted", "2"],
        CRITICAL,
        "SERVICES CRITICAL - drbd-volnode05-clone promoted on 1 node (node05), expected 2",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-node06-down.xml"],
        WARNING,  # issue 18: no fencing under VMs is not OK
        "SERVICES WARNING - stonith-enabled=false with 2 VMs: a split brain can run them on "
        "both nodes (configure fencing)",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-inquorate.xml"],
        CRITICAL,
        "SERVICES CRITICAL - drbd-volnode05-clone stopped although it should run",
    ),
    (
        ["--crm-mon-file", "crm-mon_seed-vm-monitor-failed.xml"],
        CRITICAL,
        "SERVICES CRITICAL - vm-aquarius199 failed, blocked (crm_resource --cleanup after fixing "
        "the cause), unmanaged, fail-count 2 on node06, failed stop on node06 (User-injected "
        "result)",
    ),
    (
        [
            "--crm-mon-file",
            "crm-mon_seed-vm-monitor-failed.xml",
            "--failcount-warning",
            "3",
            "-x",
            "vm-aquarius199",
        ],
        WARNING,  # issue 18: no fencing under dual-primary DRBD; the fail-count 2 stays hidden
        "SERVICES WARNING - stonith-enabled=false with dual-primary drbd-volnode05-clone and "
        "1 VM: a split brain can run them on both nodes (configure fencing)",
    ),
    (
        [
            "--crm-mon-file",
            "crm-mon_seed-moved-disabled-unmanaged.xml",
            "--cib-file",
            "cib_seed-moved-disabled-unmanaged.xml",
        ],
        WARNING,
        "SERVICES WARNING - vm-aquarius200 disabled (target-role Stopped), leftover "
        "cli-ban-vm-aquarius200-on-node06 (crm_resource --clear -r vm-aquarius200), "
        "vm-aquarius199 unmanaged, leftover cli-prefer-vm-aquarius199",
    ),
    (
        [
            "--crm-mon-file",
            "crm-mon_seed-moved-disabled-unmanaged.xml",
            "--ignore-disabled",
            "-s",
            "vm-aquarius200",
        ],
        WARNING,
        "SERVICES WARNING - vm-aquarius200 leftover cli-ban-vm-aquarius200-on-node06",
    ),
    (
        ["--crm-mon-file", "crm-mon_11-rhel7-master-failed.xml", "--promoted", "2"],
        CRITICAL,
        "SERVICES CRITICAL - ms-drbd0 promoted on 1 node (kvm01), expected 2, web-vm failed, "
        "fail-count 1 on kvm01, failed monitor on kvm01 (not running)",
    ),
    (
        ["--crm-mon-file", "crm-mon_not-connected.xml"],
        CRITICAL,
        "SERVICES CRITICAL - pacemaker not running on this node (Not connected",
    ),
]


def resolve(args: list[str]) -> list[str]:
    return [fixture(a) if (FIXTURES / a).is_file() else a for a in args]


@pytest.mark.parametrize(
    "args, code, first", CLUSTER_CASES, ids=[" ".join(c[0]) for c in CLUSTER_CASES]
)
def test_check_cluster(args, code, first):
    run = run_plugin("check_cluster", *resolve(args))
    assert run.returncode == code, run.stdout
    assert run.first_line.startswith(first), run.stdout


@pytest.mark.parametrize(
    "args, code, first", SERVICES_CASES, ids=[" ".join(c[0]) for c in SERVICES_CASES]
)
def test_check_cluster_services(args, code, first):
    run = run_plugin("check_cluster_services", *resolve(args))
    assert run.returncode == code, run.stdout
    assert run.first_line.startswith(first), run.stdout


def test_cluster_perfdata():
    run = run_plugin(
        "check_cluster",
        "--cman-status-file",
        fixture("cman-tool-status_inquorate-activity-blocked.txt"),
        "--cman-nodes-file",
        fixture("cman-tool-nodes_three-nodes-disallowed-qdisk.txt"),
    )
    assert run.perf("nodes_online") == 1 and run.perf("nodes_configured") == 3
    assert (run.perf("votes_total"), run.perf("votes_expected"), run.perf("quorum_votes")) == (
        1,
        3,
        2,
    )
    assert run.perf("quorate") == 0


def test_services_perfdata_counts_and_fail_counts():
    run = run_plugin(
        "check_cluster_services", "--crm-mon-file", fixture("crm-mon_seed-vm-monitor-failed.xml")
    )
    assert (run.perf("services_started"), run.perf("services_failed"), run.perf("fail_count")) == (
        3,
        1,
        2,
    )


def test_verbose_lists_every_node_and_the_quorum():
    run = run_plugin(
        "check_cluster", "-v", "--crm-mon-file", fixture("crm-mon_seed-node06-standby.xml")
    )
    assert run.lines[1:4] == [
        "OK: quorum: quorate",
        "OK: node node05: online, DC, id 1",
        "WARNING: node node06: online, id 2 => standby",
    ]


def test_cman_captures_from_stdin():
    path = fixture("cman-tool-status_inquorate-activity-blocked.txt")
    with open(path) as handle:
        run = run_plugin("check_cluster", "--cman-status-file", "-", stdin=handle.read())
    assert run.returncode == CRITICAL and run.first_line.startswith(
        "CLUSTER CRITICAL - not quorate"
    )


@pytest.mark.parametrize(
    "plugin, option, name",
    [
        ("check_cluster", "--clustat-file", "proc-drbd_84-truncated.txt"),
        ("check_cluster", "--quorumtool-file", "clustat-x_411-all-started.xml"),
        ("check_cluster", "--crm-mon-file", "clustat-x_411-all-started.xml"),
        ("check_cluster_services", "--crm-mon-file", "corosync-quorumtool_3-quorate.txt"),
    ],
)
def test_wrong_capture_is_unknown_naming_the_file(plugin, option, name):
    run = run_plugin(plugin, option, fixture(name))
    assert run.returncode == UNKNOWN
    assert f"cannot parse {fixture(name)}" in run.first_line


needs_crm_mon = pytest.mark.skipif(shutil.which("crm_mon") is None, reason="pacemaker-cli-utils")


@needs_crm_mon
@pytest.mark.real
@pytest.mark.parametrize("cib", sorted(p.name for p in FIXTURES.glob("cib_*.xml")))
def test_committed_crm_mon_fixtures_match_what_real_crm_mon_renders_from_the_cib(cib, tmp_path):
    """The committed crm_mon output is what crm_mon says about the committed CIB today."""
    rendered = tmp_path / "crm_mon.xml"
    proc = subprocess.run(
        ["crm_mon", "--output-as=xml", "-1"],
        capture_output=True,
        text=True,
        env={**os.environ, "CIB_file": str(FIXTURES / cib)},
    )
    assert proc.returncode == 0, proc.stderr
    rendered.write_text(proc.stdout)
    committed = fixture(cib.replace("cib_", "crm-mon_"))
    for plugin in ("check_cluster", "check_cluster_services"):
        ours = run_plugin(plugin, "--crm-mon-file", str(rendered))
        theirs = run_plugin(plugin, "--crm-mon-file", committed)
        assert (ours.returncode, ours.first_line) == (theirs.returncode, theirs.first_line)
