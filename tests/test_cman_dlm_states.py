"""cman 3 (RHEL 6) fencing and DLM: a fence domain or lockspace that waits blocks clustat,
clvmd and rgmanager until it completes. fence_tool ls, dlm_tool ls and group_tool ls read into
one model; cman_tool status followed by cman_tool nodes (as pcs 0.9 joins them) is read."""

from __future__ import annotations

import pytest

from kvmcluster.errors import ParseError
from kvmcluster.parsers.cman import parse_cman_status
from kvmcluster.parsers.cman_groups import parse_groups
from tests.plugin_runner import FIXTURES, fixture, run_plugin
from tests.test_contract import stub


def groups(name: str):
    return parse_groups((FIXTURES / name).read_text(), source=name)


def by_name(status):
    return {(g.kind, g.name): g for g in status.groups}


class TestFenceToolLs:
    def test_a_domain_with_every_member_and_no_victim_does_not_wait(self):
        status = groups("fence-tool-ls_ok.txt")
        (domain,) = status.groups
        assert (domain.kind, domain.name, domain.members) == ("fence", "default", [1, 2])
        assert domain.master_nodeid == 1 and not domain.waiting and status.waiting == []

    def test_a_victim_being_fenced_waits_for_fencing(self):
        (domain,) = groups("fence-tool-ls_victim-wait-fencing.txt").groups
        assert (domain.victims, domain.victim_now, domain.wait) == (1, 2, "fencing")
        assert domain.members == [1] and domain.waiting

    def test_fencing_postponed_until_quorum_waits_for_quorum(self):
        (domain,) = groups("fence-tool-ls_wait-quorum.txt").groups
        assert (domain.victims, domain.wait) == (1, "quorum") and domain.waiting

    def test_dash_n_names_the_victims(self):
        (domain,) = groups("fence-tool-ls-n_victim-wait-fencing.txt").groups
        assert domain.victim_ids == [2] and domain.waiting

    def test_cluster_300_without_a_wait_state_line_waits_by_its_victims(self):
        text = "fence domain\nmember count  1\nvictim count  1\nvictim now    0\n"
        text += "master nodeid 1\nmembers       1 \n\n"
        (domain,) = parse_groups(text).groups
        assert domain.wait == "" and domain.waiting


class TestDlmToolLs:
    @pytest.mark.parametrize(
        "name", ["dlm-tool-ls_cman3-ok.txt", "dlm-tool-ls_dlm4-lvmlockd-ok.txt"]
    )
    def test_lockspaces_of_every_member_do_not_wait(self, name):
        status = groups(name)
        assert len(status.groups) == 2 and status.waiting == []
        assert all(g.kind == "dlm" and g.members == [1, 2] for g in status.groups)

    def test_a_change_waiting_for_fencing_stops_clvmd_and_rgmanager(self):
        status = groups("dlm-tool-ls_cman3-wait-fencing.txt")
        assert [g.name for g in status.waiting] == ["rgmanager", "clvmd"]
        clvmd = by_name(status)["dlm", "clvmd"]
        assert (clvmd.wait, clvmd.changing, clvmd.failed) == ("fencing", True, 1)
        assert clvmd.flags == ["kern_stop"] and clvmd.new_members == [1]

    @pytest.mark.parametrize(
        ("status_line", "wait"),
        [
            ("wait_messages 0 wait_condition 2 quorum", "quorum"),
            ("wait_messages 0 wait_condition 3 fs", "fs"),
            ("wait_messages 1 wait_condition 0 ", "messages"),
        ],
    )
    def test_every_wait_condition_is_named(self, status_line, wait):
        text = "dlm lockspaces\nname          clvmd\nid            0x4104eefa\n"
        text += (
            "flags         0x00000000 \nchange        member 2 joined 1 remove 0 failed 0 seq 1,1\n"
        )
        text += "members       1 2 \nnew change    member 1 joined 0 remove 1 failed 1 seq 2,2\n"
        text += f"new status    {status_line}\nnew members   1 \n\n"
        (lockspace,) = parse_groups(text).groups
        assert lockspace.wait == wait and lockspace.waiting

    def test_no_output_is_no_lockspace(self):
        assert parse_groups("").groups == []


class TestGroupToolLs:
    def test_cman3_runs_fence_tool_and_dlm_tool_one_after_the_other(self):
        status = groups("group-tool-ls_cman3-wait-fencing.txt")
        assert [(g.kind, g.name) for g in status.groups] == [
            ("fence", "default"),
            ("dlm", "rgmanager"),
            ("dlm", "clvmd"),
        ]
        assert len(status.waiting) == 3

    def test_cman3_healthy(self):
        assert groups("group-tool-ls_cman3-ok.txt").waiting == []

    def test_the_groupd_table_of_cluster_2(self):
        status = groups("group-tool-ls_cluster2-gfs-ok.txt")
        assert [(g.kind, g.name, g.members) for g in status.groups] == [
            ("fence", "default", [1]),
            ("dlm", "gfs1", [1]),
            ("gfs", "gfs1", [1]),
        ]
        assert status.waiting == []

    def test_g1_a_recovery_in_progress_is_waiting(self):
        status = groups("group-tool-ls-g1_fail-start-wait.txt")
        waits = {(g.kind, g.name): g.wait for g in status.waiting}
        assert waits == {
            ("fence", "default"): "FAIL_START_WAIT",
            ("dlm", "clvmd"): "FAIL_ALL_STOPPED",
            ("dlm", "rgmanager"): "FAIL_ALL_STOPPED",
        }

    def test_a_daemon_that_does_not_answer_is_not_running(self):
        status = parse_groups("fence_tool: can't communicate with fenced\n")
        assert not status.running and "fenced" in status.error

    @pytest.mark.parametrize(
        "text",
        [
            "Version: 6.2.0\nQuorum: 1\n",
            "fence domain\nmember count  x\n",
            "fence domain\nvictim count  1\nbogus line\n",
            "dlm lockspaces\nid            0x1\n",
            "dlm lockspaces\nname          a\nflags         nothex\n",
            "fence domain\nmembers       1 " + "9" * 40 + "\n",
            "type level name id state\nfence 0 default 00010001 none\n[1 x]\n",
        ],
    )
    def test_other_text_is_a_parse_error_naming_the_line(self, text):
        with pytest.raises(ParseError):
            parse_groups(text)


class TestCmanToolStatusFollowedByNodes:
    def test_the_nodes_table_after_the_status_is_read_for_its_nodes(self):
        text = (FIXTURES / "cman-tool-status-nodes_pcs09-joined.txt").read_text()
        status = parse_cman_status(text)
        assert status.quorate and status.expected_votes == 1 and status.quorum_votes == 1
        assert [(n.name, n.node_id, n.member, n.local) for n in status.nodes] == [
            ("node05.c01.cloud.agarik.com", 1, True, True),
            ("node06.c01.cloud.agarik.com", 2, True, False),
        ]
        assert status.nodes_are_configured

    def test_the_status_alone_still_reads_as_before(self):
        text = (FIXTURES / "cman-tool-status_quorate-two-node.txt").read_text()
        status = parse_cman_status(text)
        assert [n.name for n in status.nodes] == ["node05.c01.cloud.agarik.com"]
        assert not status.nodes_are_configured

    def test_another_section_after_the_status_is_left_alone(self):
        text = (FIXTURES / "cman-tool-status_quorate-two-node.txt").read_text()
        status = parse_cman_status(text + "\nfence domain\nmember count  2\n")
        assert status.quorate and status.expected_votes == 1

    def test_text_that_is_no_status_is_still_refused(self):
        with pytest.raises(ParseError):
            parse_cman_status("fence domain\nmember count  2\n")


# --- through check_cluster: the verdict and the first line ----------------------------------

CMAN = (
    "--cman-status-file",
    fixture("cman-tool-status_quorate-two-node.txt"),
    "--cman-nodes-file",
    fixture("cman-tool-nodes_node06-offline.txt"),
)
BLOCKS = "clustat, clvmd and rgmanager block until it completes"


def check_cluster(*args, env=None):
    return run_plugin("check_cluster", *args, env=env)


class TestCheckCluster:
    def test_healthy_groups_change_nothing(self):
        alone = check_cluster(*CMAN)
        for option, name in (
            ("--fence-file", "fence-tool-ls_ok.txt"),
            ("--dlm-file", "dlm-tool-ls_cman3-ok.txt"),
            ("--group-file", "group-tool-ls_cman3-ok.txt"),
            ("--group-file", "group-tool-ls_cluster2-gfs-ok.txt"),
            ("--dlm-file", "dlm-tool-ls_dlm4-lvmlockd-ok.txt"),
        ):
            run = check_cluster(*CMAN, option, fixture(name))
            assert (run.returncode, run.stdout) == (alone.returncode, alone.stdout), name

    def test_a_victim_being_fenced_is_critical_naming_the_node_and_what_blocks(self):
        run = check_cluster(*CMAN, "--fence-file", fixture("fence-tool-ls_victim-wait-fencing.txt"))
        assert run.returncode == 2, run
        assert run.first_line.startswith(
            "CLUSTER CRITICAL - fence domain waiting for the fencing of "
            "node06.c01.cloud.agarik.com (node 2): " + BLOCKS
        ), run

    def test_fencing_postponed_until_quorum(self):
        run = check_cluster(*CMAN, "--fence-file", fixture("fence-tool-ls_wait-quorum.txt"))
        assert run.returncode == 2
        assert "fence domain fencing of 1 victim postponed until quorum returns" in run.first_line
        assert BLOCKS in run.first_line

    def test_lockspaces_waiting_for_fencing_name_clvmd_and_rgmanager(self):
        run = check_cluster(*CMAN, "--dlm-file", fixture("dlm-tool-ls_cman3-wait-fencing.txt"))
        assert run.returncode == 2
        assert run.first_line.startswith(
            "CLUSTER CRITICAL - DLM lockspace rgmanager waiting for fencing, 1 node failed; "
            "DLM lockspace clvmd waiting for fencing, 1 node failed: " + BLOCKS
        ), run

    def test_group_tool_names_the_fence_domain_and_the_lockspaces(self):
        run = check_cluster(*CMAN, "--group-file", fixture("group-tool-ls_cman3-wait-fencing.txt"))
        assert run.returncode == 2
        line = run.first_line
        assert line.index("fence domain waiting") < line.index("DLM lockspace rgmanager"), line
        run = check_cluster(*CMAN, "--group-file", fixture("group-tool-ls-g1_fail-start-wait.txt"))
        assert run.returncode == 2
        assert "fence domain in recovery (FAIL_START_WAIT)" in run.first_line

    def test_unreadable_group_output_is_unknown_naming_the_file(self, tmp_path):
        bad = tmp_path / "fence.txt"
        bad.write_text("fence domain\nvictim count  many\n")
        run = check_cluster(*CMAN, "--fence-file", str(bad))
        assert run.returncode == 3
        assert run.first_line.startswith(f"CLUSTER UNKNOWN - cannot parse {bad}:2: victim count")

    def test_live_cman_runs_fence_tool_and_dlm_tool_where_installed(self, tmp_path):
        sbin = tmp_path / "sbin"
        stub(sbin, "cman_tool", "cman-tool-status_quorate-two-node.txt")
        env = {"PATH": "/usr/bin:/bin", "KVMCLUSTER_TOOL_PATH": str(sbin)}
        # cman_tool prints its status for `nodes` too: the stub's status has no table, so use
        # a stub that answers by its argument
        tool = sbin / "cman_tool"
        status, nodes = (
            fixture("cman-tool-status_quorate-two-node.txt"),
            fixture("cman-tool-nodes_node06-offline.txt"),
        )
        tool.write_text(
            f'#!/bin/sh\ncase "$1" in status) exec /bin/cat {status};; '
            f"nodes) exec /bin/cat {nodes};; esac\nexit 1\n"
        )
        without = run_plugin("check_cluster", "--stack", "cman", env=env)
        assert without.stdout == check_cluster(*CMAN).stdout
        stub(sbin, "fence_tool", "fence-tool-ls_victim-wait-fencing.txt")
        stub(sbin, "dlm_tool", "dlm-tool-ls_cman3-wait-fencing.txt")
        run = run_plugin("check_cluster", "--stack", "cman", env=env)
        assert run.returncode == 2
        assert "fence domain waiting for the fencing of node06" in run.first_line
        assert "DLM lockspace clvmd waiting for fencing" in run.first_line
        # fenced not running: fence_tool ls exits 1 and prints nothing; nothing is added
        (sbin / "fence_tool").write_text("#!/bin/sh\nexit 1\n")
        (sbin / "dlm_tool").write_text("#!/bin/sh\nexit 0\n")
        quiet = run_plugin("check_cluster", "--stack", "cman", env=env)
        assert quiet.stdout == without.stdout


# --- check_cluster_services: autostart="0" in cluster.conf is disabled on purpose -----------

TROUBLE = "clustat-x_411-qdisk-services-in-trouble.xml"
CONF = "cluster-conf_kvm-test01-autostart-off.conf"


def only_test01_disabled(tmp_path) -> str:
    """The trouble capture with every other group started (as after the incident)."""
    text = (FIXTURES / TROUBLE).read_text()
    for old, new in (
        ('flags="1" flags_str="frozen"', 'flags="0" flags_str=""'),
        ('flags="2" flags_str="partial"', 'flags="0" flags_str=""'),
        ('state="114" state_str="failed" flags="0" flags_str="" owner="none"',
         'state="112" state_str="started" flags="0" flags_str="" owner="kvm02.example.com"'),
        ('state="118" state_str="recovering"', 'state="112" state_str="started"'),
        ('state="110" state_str="stopped" flags="0" flags_str="" owner="none"',
         'state="112" state_str="started" flags="0" flags_str="" owner="kvm02.example.com"'),
    ):  # fmt: skip
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "clustat.xml"
    path.write_text(text)
    return str(path)


class TestServicesAutostartOff:
    def test_a_vm_with_autostart_0_disabled_is_ok_and_said_so(self, tmp_path):
        clustat = only_test01_disabled(tmp_path)
        run = run_plugin(
            "check_cluster_services", "--clustat-file", clustat, "--cluster-conf", fixture(CONF)
        )
        assert (run.returncode, run.first_line) == (
            0,
            "SERVICES OK - 6 services OK (5 started), vm:test01 disabled on purpose (autostart=0)",
        ), run
        without = run_plugin("check_cluster_services", "--clustat-file", clustat)
        assert (without.returncode, without.first_line) == (
            1,
            "SERVICES WARNING - vm:test01 disabled (last on kvm01.example.com), "
            "1 of 6 services degraded",
        ), without

    def test_the_other_problems_stay(self):
        run = run_plugin(
            "check_cluster_services", "--clustat-file", fixture(TROUBLE), "--cluster-conf",
            fixture(CONF),
        )  # fmt: skip
        assert run.returncode == 2
        assert "test01" not in run.first_line and "5 of 6 services degraded" in run.first_line

    def test_a_vm_that_should_autostart_is_still_a_warning_when_disabled(self, tmp_path):
        conf = tmp_path / "cluster.conf"
        conf.write_text((FIXTURES / CONF).read_text().replace('autostart="0"', 'autostart="1"'))
        clustat = only_test01_disabled(tmp_path)
        run = run_plugin(
            "check_cluster_services", "--clustat-file", clustat, "--cluster-conf", str(conf)
        )
        assert run.returncode == 1 and "vm:test01 disabled" in run.first_line

    def test_a_broken_cluster_conf_given_is_unknown_naming_it(self, tmp_path):
        conf = tmp_path / "cluster.conf"
        conf.write_text("<cluster><rm>\n")
        run = run_plugin(
            "check_cluster_services",
            "--clustat-file",
            fixture(TROUBLE),
            "--cluster-conf",
            str(conf),
        )
        assert run.returncode == 3 and str(conf) in run.first_line, run

    def test_live_the_nodes_own_cluster_conf_is_read_and_a_broken_one_ignored(self):
        from kvmcluster.sources.cluster import CLUSTER_CONF, _autostart_off

        class Node:
            def __init__(self, text):
                self.text = text

            def read(self, path):
                assert path == CLUSTER_CONF
                return self.text

        conf = (FIXTURES / CONF).read_text()
        assert _autostart_off(Node(conf), None, live=True) == ["vm:test01"]
        assert _autostart_off(Node(None), None, live=True) is None
        assert _autostart_off(Node("<cluster"), None, live=True) is None
        assert _autostart_off(Node(conf), None, live=False) is None


# --- kvmcluster status --from and collect: the fence domain and lockspaces are captured ----


def test_status_from_a_capture_with_fencing_pending_says_what_blocks(tmp_path):
    import shutil

    from tests.plugin_runner import REPO

    capture = tmp_path / "capture"
    shutil.copytree(REPO / "kvmcluster" / "demo_captures" / "healthy", capture)
    healthy = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    assert healthy.returncode == 0, healthy
    shutil.copy(FIXTURES / "fence-tool-ls_victim-wait-fencing.txt", capture / "fence-tool-ls.txt")
    shutil.copy(FIXTURES / "dlm-tool-ls_cman3-wait-fencing.txt", capture / "dlm-tool-ls.txt")
    run = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    assert run.returncode == 2, run
    (line,) = [ln for ln in run.stdout.splitlines() if ln.startswith("Quorum and membership")]
    assert "CRITICAL" in line and "fence domain waiting for the fencing of" in line, run.stdout
    assert BLOCKS in run.stdout


def test_collect_and_sudoers_know_fence_tool_and_dlm_tool():
    from kvmcluster import capture as c
    from kvmcluster.collect import COMMANDS
    from kvmcluster.sources.cluster import DLM_TOOL_ARGV, FENCE_TOOL_ARGV
    from kvmcluster.sources.privileged import allowed_argvs

    assert (c.FENCE_TOOL, FENCE_TOOL_ARGV) in COMMANDS and (c.DLM_TOOL, DLM_TOOL_ARGV) in COMMANDS
    assert tuple(FENCE_TOOL_ARGV) in allowed_argvs() and tuple(DLM_TOOL_ARGV) in allowed_argvs()


def test_a_group_file_alone_runs_no_live_tool(tmp_path):
    sbin = tmp_path / "sbin"
    stub(sbin, "cman_tool", "cman-tool-status_not-running.txt")
    env = {"PATH": "/usr/bin:/bin", "KVMCLUSTER_TOOL_PATH": str(sbin)}
    victim = fixture("fence-tool-ls_victim-wait-fencing.txt")
    run = run_plugin("check_cluster", "--fence-file", victim, env=env)
    assert run.returncode == 2, run
    assert run.first_line == (
        "CLUSTER CRITICAL - fence domain waiting for the fencing of node 2: " + BLOCKS
    ), run
    healthy = run_plugin("check_cluster", "--fence-file", fixture("fence-tool-ls_ok.txt"), env=env)
    assert healthy.returncode == 3 and "no quorum or node data" in healthy.first_line, healthy
