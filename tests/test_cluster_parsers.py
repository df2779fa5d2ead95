"""Cluster parsers: every format gives the same ClusterStatus / ServicesStatus model."""

from __future__ import annotations

import pytest

from kvmcluster.errors import ParseError
from kvmcluster.model.cluster import merge_status
from kvmcluster.parsers.cib import parse_cib_constraints
from kvmcluster.parsers.clustat import parse_clustat
from kvmcluster.parsers.cman import parse_cman_nodes, parse_cman_status
from kvmcluster.parsers.crm_mon import parse_crm_mon
from kvmcluster.parsers.quorumtool import parse_quorumtool
from tests.plugin_runner import FIXTURES


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


def nodes(status):
    return {n.name: n for n in status.nodes}


class TestCman:
    def test_status_quorate_two_node(self):
        status = parse_cman_status(text("cman-tool-status_quorate-two-node.txt"))
        assert status.quorate and not status.activity_blocked
        assert (status.expected_votes, status.total_votes, status.quorum_votes) == (1, 2, 1)
        assert status.flags == ["2node"] and status.member_count == 2
        assert status.cluster_name == "agacloud001_c3"
        assert nodes(status)["node05.c01.cloud.agarik.com"].local

    def test_status_activity_blocked(self):
        status = parse_cman_status(text("cman-tool-status_inquorate-activity-blocked.txt"))
        assert status.quorate is False and status.activity_blocked and status.quorum_votes == 2

    def test_status_not_running(self):
        status = parse_cman_status(text("cman-tool-status_not-running.txt"))
        assert not status.running and "Cannot open connection to cman" in status.error

    def test_nodes_with_empty_joined_column(self):
        status = parse_cman_nodes(text("cman-tool-nodes_node06-offline.txt"))
        assert [(n.name, n.member) for n in status.nodes] == [
            ("node05.c01.cloud.agarik.com", True),
            ("node06.c01.cloud.agarik.com", False),
        ]

    def test_nodes_disallowed_and_qdisk(self):
        by_name = nodes(parse_cman_nodes(text("cman-tool-nodes_three-nodes-disallowed-qdisk.txt")))
        assert by_name["/dev/block/253:5"].qdisk
        assert by_name["kvm02.example.com"].disallowed
        assert not by_name["kvm03.example.com"].member

    def test_status_and_nodes_merge(self):
        merged = merge_status(
            [
                parse_cman_status(text("cman-tool-status_quorate-two-node.txt")),
                parse_cman_nodes(text("cman-tool-nodes_node06-offline.txt")),
            ]
        )
        assert merged.quorate and merged.nodes_are_configured
        node05 = nodes(merged)["node05.c01.cloud.agarik.com"]
        assert node05.local and node05.member and node05.node_id == 1

    @pytest.mark.parametrize("bad", ["", "garbage\n", "Version: 6.2.0\n"])
    def test_bad_status(self, bad):
        with pytest.raises(ParseError):
            parse_cman_status(bad, "x")

    def test_bad_nodes(self):
        with pytest.raises(ParseError):
            parse_cman_nodes("   1   Q  44  node05\n", "x")


class TestClustat:
    def test_411_nodes_and_started_vms(self):
        status, services = parse_clustat(text("clustat-x_411-all-started.xml"))
        assert (
            status.quorate
            and len(status.nodes) == 2
            and nodes(status)["node05.c01.cloud.agarik.com"].local
        )
        vm = services.services[1]
        assert (vm.name, vm.kind, vm.state, vm.owner) == (
            "vm:aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr",
            "vm",
            "started",
            "node05.c01.cloud.agarik.com",
        )

    def test_inquorate_attribute_split_over_two_lines_and_no_groups(self):
        status, services = parse_clustat(text("clustat-x_411-inquorate-no-rgmanager.xml"))
        assert status.quorate is False
        assert not services.running

    def test_qdisk_flags_and_owner_none(self):
        status, services = parse_clustat(text("clustat-x_411-qdisk-services-in-trouble.xml"))
        assert nodes(status)["/dev/block/253:5"].qdisk
        by_name = {s.name: s for s in services.services}
        assert by_name["service:nfs-export"].flags == ["frozen"]
        assert by_name["vm:db01"].owner is None and by_name["vm:db01"].restarts == 3

    def test_40_numeric_states_without_state_str(self):
        _, services = parse_clustat(text("clustat-x_40-rhel5-numeric-states.xml"))
        assert [s.state for s in services.services] == ["started", "uninitialized"]

    @pytest.mark.parametrize("bad", ["", "<clustat>", "<crm_mon/>"])
    def test_bad_input(self, bad):
        with pytest.raises(ParseError):
            parse_clustat(bad, "x")


class TestQuorumtool:
    def test_corosync3_two_node_quorate(self):
        status = parse_quorumtool(text("corosync-quorumtool_3-quorate.txt"))
        assert status.quorate and status.flags == ["2Node", "Quorate", "WaitForAll"]
        assert [(n.name, n.local, n.votes) for n in status.nodes] == [
            ("node05", True, 1),
            ("node06", False, 1),
        ]

    def test_qdevice_column_and_row(self):
        status = parse_quorumtool(text("corosync-quorumtool_3-qdevice.txt"))
        assert [n.name for n in status.cluster_nodes] == ["node05", "node06"]
        assert nodes(status)["Qdevice"].qdisk

    def test_real_corosync3_inquorate(self):
        status = parse_quorumtool(text("corosync-quorumtool_3-inquorate-activity-blocked.txt"))
        assert status.quorate is False and status.activity_blocked
        assert (status.total_votes, status.expected_votes, status.quorum_votes) == (1, 2, 2)

    def test_corosync2_ring_id_and_addresses(self):
        status = parse_quorumtool(text("corosync-quorumtool_2-one-of-three.txt"))
        assert status.quorate and status.member_count == 2 and status.expected_votes == 3

    def test_not_running(self):
        assert not parse_quorumtool(text("corosync-quorumtool_not-running.txt")).running

    def test_bad_input(self):
        with pytest.raises(ParseError):
            parse_quorumtool(
                "Membership information\n----\n    Nodeid      Votes Name\n x y\n", "x"
            )


class TestCrmMon:
    def test_real_render_healthy_two_nodes(self):
        status, services = parse_crm_mon(text("crm-mon_seed-healthy.xml"))
        assert status.quorate and status.dc == "node05" and len(status.nodes) == 2
        by_name = {s.name: s for s in services.services}
        drbd = by_name["drbd-volnode05-clone"]
        assert drbd.kind == "promotable" and drbd.promoted_nodes == ["node05", "node06"]
        assert drbd.members == ["drbd-volnode05"]
        assert by_name["vm-aquarius200"].nodes == ["node05"]

    def test_unclean_node(self):
        status, _ = parse_crm_mon(text("crm-mon_seed-node06-failed-unclean.xml"))
        assert nodes(status)["node06"].unclean

    def test_inquorate(self):
        status, services = parse_crm_mon(text("crm-mon_seed-inquorate.xml"))
        assert status.quorate is False
        assert all(not s.nodes for s in services.services)

    def test_failed_op_failures_and_fail_counts(self):
        _, services = parse_crm_mon(text("crm-mon_seed-vm-monitor-failed.xml"))
        vm = {s.name: s for s in services.services}["vm-aquarius199"]
        assert vm.failed and vm.fail_counts == {"node06": 2}
        # the injected monitor failure led to a stop, which failed too: the last failure stays
        assert [(f.resource, f.task, f.node, f.exit_reason) for f in services.failures] == [
            ("vm-aquarius199", "stop", "node06", "User-injected result")
        ]

    def test_legacy_11_master_slave_groups_failures(self):
        status, services = parse_crm_mon(text("crm-mon_11-rhel7-master-failed.xml"))
        assert status.dc == "kvm02" and nodes(status)["kvm02"].maintenance
        by_name = {s.name: s for s in services.services}
        assert by_name["ms-drbd0"].kind == "promotable"
        assert by_name["ms-drbd0"].promoted_nodes == ["kvm01"]
        assert by_name["web-vm"].failed and by_name["web-vm"].fail_counts == {"kvm01": 1}
        assert services.failures[0].resource == "web-vm"

    def test_not_connected(self):
        status, services = parse_crm_mon(text("crm-mon_not-connected.xml"))
        assert not status.running and not services.running
        assert "Connection refused" in status.error

    def test_bans_from_crm_mon_and_prefers_from_cib(self):
        constraints = parse_cib_constraints(text("cib_seed-moved-disabled-unmanaged.xml"))
        ids = {c.id for c in constraints}
        assert {"cli-prefer-vm-aquarius199", "cli-ban-vm-aquarius200-on-node06"} <= ids
        _, services = parse_crm_mon(text("crm-mon_seed-moved-disabled-unmanaged.xml"))
        assert [c.id for c in services.constraints] == ["cli-ban-vm-aquarius200-on-node06"]

    @pytest.mark.parametrize(
        "bad",
        ["", "<pacemaker-result/>", '<pacemaker-result><status code="105"/></pacemaker-result>'],
    )
    def test_bad_input(self, bad):
        with pytest.raises(ParseError):
            parse_crm_mon(bad, "x")
