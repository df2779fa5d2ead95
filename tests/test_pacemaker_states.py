"""Issue 18, Pacemaker: states real clusters get into that read OK (or UNKNOWN) before.

Fixtures: Pacemaker's own scheduler/CLI test CIBs rendered by the real crm_mon 2.1.5
(tests/fixtures/pacemaker-src/make_issue18_fixtures.py), Pacemaker 2.0.5's own expected
crm_mon output, and two real corosync + Pacemaker nodes in network namespaces driven into a
split with a failing stub fence agent (tests/fixtures/corosync-src/capture_two_nodes.py).
Each case: the verdict (exit code) and the first line, through the plugin.
"""

from __future__ import annotations

import pytest

from kvmcluster.parsers.crm_mon import parse_crm_mon
from tests.plugin_runner import FIXTURES, fixture, run_plugin

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NO_FENCING_1_VM = (
    "stonith-enabled=false with 1 VM: a split brain can run them on both nodes (configure fencing)"
)
MULTI_ACTIVE = (
    "sle12-kvm failed, active on 2 nodes at once (kimball, castor), failed migrate_to on "
    "kimball (none), failed migrate_to on castor (none), leftover "
    "cli-ban-sle12-kvm-on-castor (crm_resource --clear -r sle12-kvm), " + NO_FENCING_1_VM
)


def files(*args: str) -> list[str]:
    return [fixture(a) if a.endswith(".xml") else a for a in args]


SERVICES_CASES = [
    # a VirtualDomain started on two nodes: both crm_mon schemas and the nested layout
    (
        ["--crm-mon-file", "crm-mon_21-virtualdomain-active-on-two-nodes.xml", "-s", "sle12-kvm"],
        CRITICAL,
        "SERVICES CRITICAL - " + MULTI_ACTIVE,
    ),
    (
        [
            "--crm-mon-file",
            "crm-mon_21-legacy-virtualdomain-active-on-two-nodes.xml",
            "-s",
            "sle12-kvm",
        ],
        CRITICAL,
        "SERVICES CRITICAL - " + MULTI_ACTIVE,
    ),
    (
        [
            "--crm-mon-file",
            "crm-mon_21-group-by-node-virtualdomain-active-on-two-nodes.xml",
            "-s",
            "sle12-kvm",
        ],
        CRITICAL,
        "SERVICES CRITICAL - " + MULTI_ACTIVE,
    ),
    # resources on an UNCLEAN node (real split, fencing failed)
    (
        ["--crm-mon-file", "crm-mon_21-fencing-failed.xml"],
        CRITICAL,
        "SERVICES CRITICAL - vm-dummy state unknown on UNCLEAN hgnode2 (until fencing "
        "succeeds), 1 of 2 resources degraded",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-fencing-failed-then-succeeded.xml"],
        OK,
        "SERVICES OK - 2 resources OK (2 started)",
    ),
    # cluster options
    (
        ["--crm-mon-file", "crm-mon_21-stop-all-resources.xml", "-s", "dummy"],
        WARNING,
        "SERVICES WARNING - dummy stopped by the cluster option stop-all-resources=true",
    ),
    # fail-counts and migration-threshold
    (
        ["--crm-mon-file", "crm-mon_21-fail-count-one-below-threshold.xml", "-s", "vm-aquarius199"]
        + ["--failcount-warning", "5"],
        WARNING,
        "SERVICES WARNING - vm-aquarius199 fail-count 1 on node06, one below "
        "migration-threshold 2 (the next failure moves it), failed monitor on node06 "
        "(Simulated action result), " + NO_FENCING_1_VM,
    ),
    (
        ["--crm-mon-file", "crm-mon_21-failure-ignored-threshold-reached.xml", "-s", "nfs_snet_ip"],
        WARNING,
        "SERVICES WARNING - nfs_snet_ip a failure was ignored (on-fail=ignore), fail-count 2 on "
        "407888-db1 reached migration-threshold 2 (banned there until crm_resource --cleanup "
        "-r nfs_snet_ip -N 407888-db1), failed monitor on 407888-db1 (Unable to find nic or "
        "netmask.)",
    ),
    # orphaned resources still active
    (
        ["--crm-mon-file", "crm-mon_21-orphaned-active.xml", "-s", "ms-drbd0"]
        + ["--failcount-warning", "10"],
        WARNING,
        # its instance on sles238 is Stopped although the node is online (issue 18, F18)
        "SERVICES WARNING - ms-drbd0 not running on sles238 (online; 1 of 2 instances "
        "running), orphaned (no longer configured) but still active",
    ),
    # tickets
    (
        ["--crm-mon-file", "crm-mon_21-ticket-revoked.xml", "-x", "clone1"],
        WARNING,
        "SERVICES WARNING - ticket ticketA revoked (resources that need it stay stopped here)",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-ticket-standby.xml", "-x", "clone1"],
        WARNING,
        "SERVICES WARNING - ticket ticketA in standby (resources that need it are stopped)",
    ),
    # bundles: an offline replica is a resource problem
    (
        ["--crm-mon-file", "crm-mon_21-bundle-replica-stopped.xml", "-s", "httpd-bundle"],
        WARNING,
        "SERVICES WARNING - httpd-bundle replica 2 stopped (2 of 3 running)",
    ),
    # promoted-max from the CIB: dual-primary DRBD promoted on one node
    (
        ["--crm-mon-file", "crm-mon_21-dual-primary-promoted-on-one.xml"]
        + ["--cib-file", "cib_21-dual-primary-promoted-on-one.xml"],
        CRITICAL,
        "SERVICES CRITICAL - ms_drbd_r0 promoted on 1 node (ibm2.isg.si), expected 2, "
        "1 of 2 resources degraded",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-dual-primary-promoted-on-one.xml"]
        + ["--cib-file", "cib_21-dual-primary-promoted-on-one.xml", "--promoted", "1"],
        OK,
        "SERVICES OK - 2 resources OK (2 started)",
    ),
    # a fencing device that may only run on a node in standby: lost redundancy
    (
        ["--crm-mon-file", "crm-mon_21-fencing-device-node-standby.xml"]
        + ["-s", "fence_ilo_ha-idg-1"],
        WARNING,
        "SERVICES WARNING - fence_ilo_ha-idg-1 stopped while ha-idg-2 is offline or in "
        "standby (fencing redundancy degraded)",
    ),
    # layouts: nested under nodes (2.1 and 2.0), without <summary>
    (
        ["--crm-mon-file", "crm-mon_21-group-by-node.xml", "-s", "ping", "-s", "Fencing"],
        OK,
        "SERVICES OK - 2 resources OK (2 started)",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-legacy-group-by-node.xml", "-s", "ping", "-s", "Fencing"],
        OK,
        "SERVICES OK - 2 resources OK (2 started)",
    ),
    (
        ["--crm-mon-file", "crm-mon_20-group-by-node.xml", "-s", "ping", "-s", "Fencing"],
        OK,
        "SERVICES OK - 2 resources OK (2 started)",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-no-summary.xml", "-s", "ping-clone", "-s", "Fencing"],
        OK,
        "SERVICES OK - 2 resources OK (2 started)",
    ),
    (
        ["--crm-mon-file", "crm-mon_20-all-resources.xml", "-s", "httpd-bundle"],
        CRITICAL,
        "SERVICES CRITICAL - httpd-bundle stopped although it should run",
    ),
]

CLUSTER_CASES = [
    # fencing history
    (
        ["--crm-mon-file", "crm-mon_21-fencing-failed.xml"],
        CRITICAL,
        "CLUSTER CRITICAL - hgnode2 UNCLEAN (needs fencing), fencing of hgnode2 failed "
        "(3 attempts): reboot by hgnode1 at 2026-12-01 07:08:52Z, 1 of 2 nodes degraded",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-fencing-pending.xml"],
        CRITICAL,
        "CLUSTER CRITICAL - hgnode2 UNCLEAN (needs fencing), fencing of hgnode2 pending "
        "(reboot by hgnode1) after 3 failed attempts: its resources are blocked until it "
        "completes, 1 of 2 nodes degraded",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-fencing-failed-then-succeeded.xml", "--offline-warning"],
        WARNING,
        "CLUSTER WARNING - hgnode2 offline, 4 failed fencing actions on hgnode2 superseded by "
        "a later success (stonith_admin --cleanup --history hgnode2), 1 of 2 nodes degraded",
    ),
    # cluster options and node states
    (
        ["--crm-mon-file", "crm-mon_21-stop-all-resources.xml"],
        WARNING,
        "CLUSTER WARNING - stop-all-resources=true: every resource is stopped",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-maintenance-mode-node-shutdown.xml"],
        WARNING,
        "CLUSTER WARNING - bl460g6a shutting down, maintenance-mode=true: no resource is "
        "managed, 1 of 2 nodes degraded",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-node-shutdown.xml"],
        WARNING,
        "CLUSTER WARNING - c001n02 shutting down, 1 of 4 nodes degraded",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-node-pending.xml"],
        WARNING,
        "CLUSTER WARNING - gcdoubwap02 pending (joining), standby, maintenance-mode=true: no "
        "resource is managed, 1 of 2 nodes degraded",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-mixed-versions.xml", "--expected-nodes", "2"]
        + ["--offline-warning"],
        WARNING,
        "CLUSTER WARNING - cluster03 offline, remote01 offline, mixed Pacemaker versions "
        "(cluster01 3.15.1, cluster02 3.10.2): finish the rolling upgrade, 2 of 5 nodes degraded",
    ),
    # bundles and guest nodes: an offline bundle replica is not a missing member
    (
        ["--crm-mon-file", "crm-mon_21-bundle-replica-stopped.xml"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (cluster01, cluster02), DC cluster02",
    ),
    # layouts
    (
        ["--crm-mon-file", "crm-mon_21-group-by-node.xml"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (cluster01, cluster02), DC cluster02",
    ),
    (
        ["--crm-mon-file", "crm-mon_21-no-summary.xml"],
        UNKNOWN,
        f"CLUSTER UNKNOWN - quorum and DC not shown in {fixture('crm-mon_21-no-summary.xml')} "
        "(crm_mon without <summary>): add --quorumtool-file or capture crm_mon without "
        "--exclude",
    ),
    (
        ["--crm-mon-file", "crm-mon_20-group-by-node.xml"],
        OK,
        "CLUSTER OK - quorate, 2 of 2 nodes online (cluster01, cluster02), DC unnamed",
    ),
]


@pytest.mark.parametrize(
    "args, code, first", SERVICES_CASES, ids=[" ".join(c[0]) for c in SERVICES_CASES]
)
def test_check_cluster_services_states(args, code, first):
    run = run_plugin("check_cluster_services", *files(*args))
    assert (run.returncode, run.first_line) == (code, first), run.stdout


@pytest.mark.parametrize(
    "args, code, first", CLUSTER_CASES, ids=[" ".join(c[0]) for c in CLUSTER_CASES]
)
def test_check_cluster_states(args, code, first):
    run = run_plugin("check_cluster", *files(*args))
    assert (run.returncode, run.first_line) == (code, first), run.stdout


def test_a_fencing_failure_that_nothing_superseded_is_critical_even_with_offline_warning():
    run = run_plugin(
        "check_cluster",
        "--crm-mon-file",
        fixture("crm-mon_21-fencing-failed.xml"),
        "--offline-warning",
    )
    assert run.returncode == CRITICAL
    assert "fencing of hgnode2 failed (3 attempts)" in run.first_line


def test_stonith_disabled_under_vms_is_named_once_for_the_cluster():
    run = run_plugin(
        "check_cluster_services",
        "--crm-mon-file",
        fixture("crm-mon_21-virtualdomain-active-on-two-nodes.xml"),
        "-v",
    )
    assert run.returncode == CRITICAL
    assert sum(NO_FENCING_1_VM in line for line in run.lines) == 2  # first line and -v line


def test_promoted_max_is_read_from_the_cib_only_when_given():
    run = run_plugin(
        "check_cluster_services",
        "--crm-mon-file",
        fixture("crm-mon_21-dual-primary-promoted-on-one.xml"),
    )
    assert run.returncode == OK  # without the CIB, 1 promoted instance is all that is known


def test_the_nested_layout_finds_the_same_resources_as_the_default_one():
    _, nested = parse_crm_mon((FIXTURES / "crm-mon_21-group-by-node.xml").read_text())
    _, flat = parse_crm_mon((FIXTURES / "crm-mon_21-bundle-replica-stopped.xml").read_text())
    by_name = {s.name: s for s in nested.services}
    assert by_name["ping"].kind == "clone" and by_name["ping"].nodes == ["cluster01", "cluster02"]
    assert by_name["promotable-rsc"].kind == "promotable"
    assert by_name["promotable-rsc"].promoted_nodes == ["cluster02"]
    assert {s.name for s in flat.services if not s.nodes} <= set(by_name)


def test_fence_history_is_read_newest_first_with_reasons():
    cluster, _ = parse_crm_mon(
        (FIXTURES / "crm-mon_21-fencing-failed-then-succeeded.xml").read_text()
    )
    statuses = [e.status for e in cluster.fence_history]
    assert statuses == ["success", "failed", "failed", "failed", "failed"]
    assert cluster.fence_history[1].exit_reason == "Fence agent did not complete within 19s"


def test_guest_nodes_are_not_counted_as_cluster_members():
    cluster, _ = parse_crm_mon((FIXTURES / "crm-mon_21-bundle-replica-stopped.xml").read_text())
    guests = [n.name for n in cluster.nodes if n.container]
    assert guests == ["httpd-bundle-0", "httpd-bundle-1", "httpd-bundle-2"]
    assert [n.name for n in cluster.cluster_nodes] == ["cluster01", "cluster02"]


# --- check_vm_alloc: a VM the cluster reports only on an UNCLEAN node -----------------------


def test_vm_reported_only_on_an_unclean_node_is_not_ok(tmp_path):
    # node06 is UNCLEAN and its libvirt cannot be read: the cluster's word is all there is,
    # and it is "unknown" (before, this VM read OK)
    from tests.test_vm_alloc import VM199, hypervisor, vm200

    uri05 = hypervisor(tmp_path, "node05", vm200())
    run = run_plugin(
        "check_vm_alloc",
        "--cib-file",
        fixture("cib_seed-node06-failed-unclean.xml"),
        "--crm-mon-file",
        fixture("crm-mon_seed-node06-failed-unclean.xml"),
        "--libvirt",
        f"node05={uri05}",
        "--libvirt",
        f"node06=test://{tmp_path}/node06-unreachable.xml",
        "--vg",
        "node05=volnode05",
        "--vg",
        "node06=volnode06",
    )
    assert run.returncode == CRITICAL, run.stdout
    assert run.first_line.startswith(
        f"VM_ALLOC CRITICAL - {VM199} reported only on UNCLEAN node06: its state is unknown "
        "until fencing succeeds"
    ), run.first_line
