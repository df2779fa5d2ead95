"""The cluster view's correlations (issue 17): what only both nodes side by side show, read
from two-node captures of one event (tests/fixtures/cluster/<scenario>/<node>/, provenance in
tests/fixtures/SOURCES.md) through facts_from_capture and correlate, as the cluster view runs
them; the drbdadm advice lines run with the real drbdadm in dry-run mode."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from kvmcluster import advice
from kvmcluster import capture as c
from kvmcluster.capture import Capture
from kvmcluster.model.cluster_view import NodeFacts
from kvmcluster.model.findings import State
from kvmcluster.model.vms import Disk, HypervisorDomain
from kvmcluster.parsers.drbd_version import parse_drbd_version
from kvmcluster.parsers.kernel_log import parse_kernel_log
from kvmcluster.rules.correlate import correlate
from kvmcluster.view.facts import facts_from_capture
from tests import drbd_dry_run as dry

CLUSTER = Path(__file__).parent / "fixtures" / "cluster"
README = Path(__file__).parent.parent / "README.md"
N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"
S05, S06 = "node05", "node06"  # the short names summaries and items use
VM200 = "aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr"
OK_KINDS = {"drbd-pair", "cluster-membership", "config-same"}
SCENARIOS = sorted(p.name for p in CLUSTER.iterdir() if p.is_dir())


def facts(scenario: str) -> list[NodeFacts]:
    found = []
    for folder in sorted((CLUSTER / scenario).iterdir()):
        cap = Capture(str(folder))
        try:
            found.append(facts_from_capture(cap, cap.hostname()))
        finally:
            cap.close()
    return found


def by_kind(correlations, kind: str):
    return [x for x in correlations if x.kind == kind]


def problems(correlations):
    return [x for x in correlations if x.state != State.OK]


def _index(lines, start: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(start))


# --- every scenario is read whole ------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_capture_of_the_pairs_is_read_without_an_unreadable_input(scenario):
    for node in facts(scenario):
        assert node.unread == {}, (node.name, node.unread)
        assert node.drbd is not None or node.cluster is not None


@pytest.mark.parametrize("scenario", ["healthy-cman", "healthy-pacemaker"])
def test_a_healthy_pair_gives_no_correlation_worse_than_ok(scenario):
    found = correlate(facts(scenario))
    assert found and not problems(found), [x.reason for x in problems(found)]
    assert {x.kind for x in found} <= OK_KINDS
    assert by_kind(found, "cluster-membership")[0].reason == (
        "every node sees the same members (node05, node06)"
    )


def test_the_healthy_cman_pair_agrees_on_every_drbd_resource_and_config():
    found = correlate(facts("healthy-cman"))
    pairs = by_kind(found, "drbd-pair")
    assert [x.items[0] for x in pairs] == ["drbd0", "drbd1", "drbd2"]
    assert pairs[0].reason == "drbd0: both sides agree (Primary/Primary, Connected)"
    assert by_kind(found, "config-same")[0].items == (
        "cluster.conf",
        "drbd.conf",
        "lvm.conf settings",
        "DRBD kernel module 8.4.11-1",
    )


# --- drbd-split-brain ------------------------------------------------------------------------


def test_the_seed_split_brain_names_the_resource_its_vg_the_writes_and_the_victim():
    found = correlate(facts("drbd-split-brain"))
    (split,) = by_kind(found, "drbd-split-brain")
    assert split.state == State.CRITICAL
    assert split.nodes == (N05, N06)
    assert split.reason == (
        f"split brain on drbd0 between {S05}, {S06}: {S06} has not written since the split "
        f"(0 out of sync), {S05} has: {S06} is the victim"
    )
    assert split.items[:2] == ("drbd0", "VG volimages on drbd0")
    assert f"{S05}: Primary StandAlone, 400 MiB out of sync: written since the split" in split.items
    assert (
        f"{S06}: Primary StandAlone, 0 out of sync: no writes since the split as far as the "
        "inputs show"
    ) in split.items
    assert (
        f"{S05}: the kernel logged Split-Brain for drbd0 (dmesg.txt line 5, 6); at its handshake "
        "400 MiB changed here, 0 B on the peer"
    ) in split.items
    # the recovery: LVM off on the victim before DRBD goes Secondary there, 8.4's discard form
    steps = list(split.advice)
    assert steps[0].startswith(f"# split brain on drbd0: {N06} is the victim")
    vgchange = steps.index("vgchange -aln volimages")
    assert steps[vgchange - 1] == f"# on {N06}: deactivate the volume groups (here only)"
    assert vgchange < steps.index("drbdadm secondary drbd0")
    assert "drbdadm connect --discard-my-data drbd0" in steps
    assert steps[-2:] == ["drbdadm primary drbd0", "vgchange -aly volimages"]
    # the other resources of the pair are fine: drbd1 resyncs, seen from both ends
    assert [x.state for x in by_kind(found, "drbd-pair")] == [State.OK, State.OK]
    assert problems(found) == [split]


def test_the_vms_on_the_split_resource_leave_the_victim_before_its_vgs_go_down():
    nodes = facts("drbd-split-brain")
    disk = Disk("vda", "/dev/volimages/img0", "block")
    nodes[1].domains = [*nodes[1].domains, HypervisorDomain(N06, "vm-img", "running", [disk])]
    (split,) = by_kind(correlate(nodes), "drbd-split-brain")
    assert f"VM vm-img runs on {S06}" in split.items
    steps = list(split.advice)
    restart = steps.index(f"clusvcadm -r vm:vm-img -m {N05}")
    assert restart < steps.index("vgchange -aln volimages") < steps.index("drbdadm secondary drbd0")


def test_a_public_split_brain_where_both_wrote_suggests_the_side_that_wrote_less():
    (split,) = by_kind(correlate(facts("drbd-split-brain-840")), "drbd-split-brain")
    assert split.reason == (
        "split brain on drbd0 between node1, node2: both sides wrote since the split (node1 "
        "76 KiB, node2 100 KiB out of sync): the suggested victim is node1, it wrote less; its "
        "writes are lost, check them first"
    )
    # node1 is Secondary now: its kernel log is what says the split brain happened
    assert "node1: Secondary StandAlone, 76 KiB out of sync: written since the split" in split.items
    assert "node1: the kernel logged Split-Brain for drbd0 (dmesg.txt line 1)" in split.items
    assert split.advice[0].startswith("# split brain on drbd0: node1 is the victim")


def test_both_primary_and_disconnected_is_a_split_brain_without_any_kernel_log():
    (split,) = by_kind(correlate(facts("drbd-split-brain-both-primary")), "drbd-split-brain")
    assert "the suggested victim is node-b" in split.reason
    assert "node-a 68.3 GiB" in split.reason


def test_when_the_inputs_cannot_tell_who_wrote_the_admin_chooses():
    nodes = facts("drbd-split-brain-840")
    for node in nodes:
        for pd in node.drbd.resources[0].connections[0].peer_devices:
            pd.out_of_sync = None
    (split,) = by_kind(correlate(nodes), "drbd-split-brain")
    assert "choose the victim (its writes are lost): the sequence below is for" in split.reason
    assert split.advice[0].startswith("# both sides may hold writes of their own: choose")
    assert "(swap the two names to keep its data instead)" in split.advice[0]
    assert "node1: Secondary StandAlone, writes since the split unknown" in split.items


def test_without_out_of_sync_counts_the_kernel_handshake_says_who_wrote():
    nodes = facts("drbd-split-brain")
    for node in nodes:
        for pd in node.drbd.resources[0].connections[0].peer_devices:
            pd.out_of_sync = None
    (split,) = by_kind(correlate(nodes), "drbd-split-brain")
    assert split.reason.endswith(
        f"{S06} has not written since the split (0 changed), {S05} has: {S06} is the victim"
    )
    nodes[1].split_brain_lines = []  # node06's log lost: node05's `peer` bits still tell
    (split,) = by_kind(correlate(nodes), "drbd-split-brain")
    assert f"{S06} is the victim" in split.reason


def test_one_side_unreachable_claims_no_split_brain_from_the_other_alone():
    nodes = facts("drbd-split-brain")
    nodes[1] = NodeFacts(N06, reachable=False, error="ssh: connection refused")
    assert correlate(nodes) == []
    halfway = facts("drbd-split-brain")  # a node whose read failed after some inputs came
    halfway[1].reachable, halfway[1].error = False, "killed at its deadline"
    assert correlate(halfway) == []
    three = facts("drbd-split-brain") + [NodeFacts("node07", reachable=False)]
    assert [x.kind for x in problems(correlate(three))] == ["drbd-split-brain"]


# --- drbd-disagreement -----------------------------------------------------------------------


def test_two_sides_that_tell_different_stories():
    found = by_kind(correlate(facts("drbd-disagreement")), "drbd-disagreement")
    assert [(x.items[0], x.state) for x in found] == [
        ("drbd0", State.WARNING),
        ("drbd1", State.WARNING),
        ("drbd2", State.WARNING),
    ]
    standalone, roles, one_side = found
    assert standalone.reason == (
        f"drbd0: {S05} is StandAlone (it will not reconnect by itself) while {S06} waits for it "
        "(WFConnection)"
    )
    assert standalone.advice[-1] == "drbdadm connect drbd0"
    assert standalone.advice[0].startswith(f"# on {N05}: StandAlone does not reconnect")
    assert roles.advice[0].startswith(f"# read drbd1 again on {N05}, {N06} at the same moment")
    assert roles.advice[1:5] == (f"# on {N05}", "drbdadm cstate drbd1", "drbdadm role drbd1",
                                 "drbdadm dstate drbd1")  # fmt: skip
    assert roles.reason == (
        f"drbd1: the two sides contradict each other: {S06} says {S05} is Primary, {S05} says "
        "it is Secondary"
    )
    assert one_side.reason == (
        f"drbd2 up on {S05} only (drbd2 Primary Connected); on {S06}: not up"
    )
    assert one_side.advice == (
        f"# on {N06}: drbd2 not up here",
        "drbdadm up drbd2",
        "drbdadm cstate drbd2   # Connected once both sides see it",
    )
    assert not by_kind(correlate(facts("drbd-disagreement")), "drbd-split-brain")


def test_drbd_not_loaded_on_one_node_is_one_finding_for_every_resource_up_on_the_other():
    from kvmcluster.model.drbd import DrbdStatus

    nodes = facts("healthy-cman")
    nodes[1].drbd = DrbdStatus(source=c.PROC_DRBD, loaded=False)
    (found,) = problems(correlate(nodes))
    assert (found.kind, found.state, found.items[:3]) == (
        "drbd-disagreement",
        State.WARNING,
        ("drbd0", "drbd1", "drbd2"),
    )
    assert found.reason.endswith(f"on {S06}: DRBD is not loaded")
    assert found.advice[:3] == (
        f"# on {N06}: drbd0, drbd1, drbd2 not up here: DRBD is not loaded",
        "modprobe drbd",
        "drbdadm up drbd0",
    )
    # DRBD not captured at all on one node: nothing to compare, nothing said
    nodes[1].drbd = None
    assert not problems(correlate(nodes))


def test_pacemaker_vm_owners_are_read_from_crm_mon():
    before, after = facts("healthy-pacemaker"), facts("split-cluster")
    assert [n.owners for n in before] == [{"vm101": "node05", "vm102": "node06"}] * 2
    assert [n.owners for n in after] == [
        {"vm101": "node05", "vm102": "node05"},
        {"vm101": "node06", "vm102": "node06"},
    ]
    # each partition owns both VMs: where they run twice, no single owner is named
    for node in after:
        node.domains = [HypervisorDomain(node.name, "vm101", "running")]
    (twice,) = by_kind(correlate(after), "vm-active-twice")
    assert "the nodes disagree on its owner: node05 say node05; node06 say node06" in twice.items
    assert "no single owner is known" in twice.reason


def test_standalone_against_wfconnection_with_a_kernel_split_brain_line_is_a_split_brain():
    nodes = facts("drbd-disagreement")
    nodes[0].split_brain_lines = parse_kernel_log(
        "[  141.442715] block drbd0: helper command: /sbin/drbdadm split-brain minor-0\n"
    )
    kinds = [(x.kind, x.items[0]) for x in problems(correlate(nodes))]
    assert ("drbd-split-brain", "drbd0") in kinds
    assert ("drbd-disagreement", "drbd0") not in kinds


def test_one_side_connected_and_the_other_not_is_a_disagreement():
    nodes = facts("healthy-cman")
    nodes[1].drbd.resources[0].connections[0].state = "WFConnection"
    (found,) = by_kind(correlate(nodes), "drbd-disagreement")
    assert found.reason.startswith(f"drbd0: {S05} says Connected, {S06} says WFConnection")


# --- vm-active-twice -------------------------------------------------------------------------


def test_a_vm_running_in_the_libvirt_of_two_nodes_names_the_copy_to_stop():
    found = correlate(facts("vm-active-twice"))
    (twice,) = problems(found)
    assert (twice.kind, twice.state, twice.nodes) == ("vm-active-twice", State.CRITICAL, (N05, N06))
    assert twice.reason == (
        f"{VM200} runs on {S05}, {S06} at once (two writers on its disks); the cluster owns the "
        f"copy on {S05}: stop it on {S06}"
    )
    assert twice.items == (f"VM {VM200}", f"runs on {S05}", f"runs on {S06}",
                           f"the cluster owns the copy on {S05}")  # fmt: skip
    steps = list(twice.advice)
    assert steps[_index(steps, "virsh destroy") - 1] == f"# on {N06}"
    assert f"# on {N05}" not in steps[: _index(steps, "virsh destroy")]


def test_a_vm_twice_whose_owner_is_not_known_stops_every_copy():
    nodes = facts("vm-active-twice")
    for node in nodes:
        node.owners = {}
    (twice,) = problems(correlate(nodes))
    assert "no single owner is known" in twice.reason
    assert [line for line in twice.advice if line.startswith("virsh destroy")] == [
        f"virsh destroy {VM200}"
    ] * 2


# --- split-cluster ---------------------------------------------------------------------------


def test_the_real_two_node_split_is_two_quorate_partitions():
    found = correlate(facts("split-cluster"))
    (split,) = problems(found)
    assert (split.kind, split.state) == ("split-cluster", State.CRITICAL)
    assert split.reason == (
        "the cluster is split: 2 partitions hold quorum at once (node05 with node05; node06 "
        "with node06): each may run the VMs and promote DRBD"
    )
    assert split.items == (
        "node05 sees node05 (quorate)",
        "node06 sees node06 (quorate)",
        "two_node: each side keeps quorum alone (only fencing ends the split)",
        "stonith-enabled=false on node05, node06: nothing fences the other side",
    )
    steps = list(split.advice)
    assert steps[_index(steps, "pcs cluster stop") - 1] == "# on node06"
    assert "pcs property set stonith-enabled=true" in steps


def test_the_cman_two_node_split_stops_rgmanager_clvmd_and_cman_on_the_other_side():
    (split,) = problems(correlate(facts("split-cluster-cman")))
    assert (split.kind, split.state) == ("split-cluster", State.CRITICAL)
    assert "two_node: each side keeps quorum alone (only fencing ends the split)" in split.items
    steps = list(split.advice)
    stop = _index(steps, "service rgmanager stop")
    assert steps[stop - 1] == f"# on {N06}"
    assert steps[stop : stop + 3] == ["service rgmanager stop", "service clvmd stop",
                                      "service cman stop"]  # fmt: skip


def test_one_partition_without_quorum_is_a_warning_not_a_split():
    nodes = facts("split-cluster")
    nodes[1].cluster.quorate = False
    (found,) = problems(correlate(nodes))
    assert (found.kind, found.state) == ("split-cluster", State.WARNING)


# --- config-drift ----------------------------------------------------------------------------


def test_drift_names_the_file_the_versions_and_the_first_differing_line_never_the_text():
    found = problems(correlate(facts("config-drift")))
    assert [(x.kind, x.state, x.items[0]) for x in found] == [
        ("config-drift", State.WARNING, "cluster.conf"),
        ("config-drift", State.WARNING, "drbd.conf"),
        ("config-drift", State.WARNING, "lvm.conf"),
    ]
    cluster_conf, drbd_conf, lvm_conf = found
    assert cluster_conf.reason == (f"cluster.conf differs: config_version 01 on {S05}, 2 on {S06}")
    assert cluster_conf.advice[0].startswith(f"# keep {N06}'s (the highest config_version)")
    assert "cman_tool version -r   # pushes it to every node" in cluster_conf.advice
    line = next(
        n
        for n, text in enumerate(
            (CLUSTER / "config-drift/node05/drbd.conf").read_text().split("\n"), 1
        )
        if "rate 110M" in text and n > 50
    )
    assert drbd_conf.reason == f"drbd.conf differs between {S05}, {S06} from line {line}"
    assert lvm_conf.reason == (
        f"lvm.conf devices/filter, global/locking_type differs between {S05}, {S06}"
    )
    assert f"global/locking_type: 3 on {S05}, 1 on {S06}" in lvm_conf.items
    shown = " ".join(" ".join((x.reason, *x.items, *x.advice)) for x in found)
    for secret in ("rate 40M", "110M", "a|", "drbd[0-9]", "failoverdomainnode"):
        assert secret not in shown


def test_the_same_config_version_with_other_content_names_the_line():
    nodes = facts("config-drift")
    nodes[1].configs[c.CLUSTER_CONF] = dataclasses.replace(
        nodes[1].configs[c.CLUSTER_CONF], version="01"
    )
    (found,) = [x for x in problems(correlate(nodes)) if x.items[0] == "cluster.conf"]
    assert re.fullmatch(
        rf"cluster.conf differs between {S05}, {S06} from line \d+ with the same "
        r"config_version 01",
        found.reason,
    )


def test_a_file_captured_on_one_node_only_is_not_drift():
    nodes = facts("config-drift")
    for name in (c.CLUSTER_CONF, c.DRBD_CONF):
        del nodes[1].configs[name]
    nodes[1].lvm_settings = None
    assert not problems(correlate(nodes))


def test_drbd_versions_that_differ_are_drift():
    nodes = facts("healthy-cman")
    nodes[0].drbd_utils_version, nodes[0].drbd_kernel_version = "9.22.0", "8.4.11"
    nodes[1].drbd_utils_version, nodes[1].drbd_kernel_version = "9.22.0", "8.4.10"
    (found,) = problems(correlate(nodes))
    assert found.reason == f"DRBD kernel module versions differ: 8.4.11 on {S05}, 8.4.10 on {S06}"


# --- inputs are data ---------------------------------------------------------------------------


def test_an_input_that_does_not_parse_is_unknown_with_its_reason_not_an_error(tmp_path):
    node = tmp_path / "node06"
    shutil.copytree(CLUSTER / "healthy-cman" / "node06", node)
    (node / "proc-drbd.txt").write_text("garbage\n")
    (node / "clustat.xml").write_text("<clustat><nodes>")
    (node / "drbd.conf").write_text("resource r0 {\n")
    (node / "drbdadm-version.txt").write_text("DRBDADM_VERSION=$(reboot)\n")
    cap = Capture(str(node))
    found = facts_from_capture(cap, cap.hostname())
    cap.close()
    assert found.drbd is None and found.drbd_configured is None
    assert found.drbd_utils_version is None
    assert set(found.unread) == {c.PROC_DRBD, c.DRBD_CONF, c.DRBD_VERSION, "cluster"}
    assert "proc-drbd.txt" in found.unread[c.PROC_DRBD]
    assert found.pvs and found.domains is not None  # the rest is still read
    # the pair still correlates what both sides have: the broken drbd.conf differs
    found = problems(correlate([facts("healthy-cman")[0], found]))
    assert [(x.kind, x.items[0]) for x in found] == [("config-drift", "drbd.conf")]


def test_names_from_the_inputs_cannot_start_a_line_or_reach_the_terminal():
    nodes = facts("vm-active-twice")
    evil = "vm\n# on node05\x1b[2J"
    for node in nodes:
        node.domains = [HypervisorDomain(node.name, evil, "running")]
    (twice,) = problems(correlate(nodes))
    for line in (twice.reason, *twice.items, *twice.advice):
        assert "\n" not in line and "\x1b" not in line


def test_the_libvirt_file_of_the_node_itself_is_used_when_a_capture_holds_several():
    demo = Path(__file__).parent.parent / "kvmcluster" / "demo_captures" / "healthy"
    cap = Capture(str(demo))
    found = facts_from_capture(cap, N06)
    cap.close()
    assert {d.node for d in found.domains} == {N06}
    cap = Capture(str(demo))
    found = facts_from_capture(cap, "node07")
    cap.close()
    assert found.domains is None and "none of node 'node07'" in found.unread["libvirt"]


# --- the parsers of the new capture files ------------------------------------------------------


def test_kernel_log_split_brain_lines_of_drbd_8_and_9():
    text = (
        "[25910.906270] block drbd0: Split-Brain detected but unresolved, dropping connection!\n"
        "[25910.950821] block drbd0: helper command: /sbin/drbdadm split-brain minor-0 exit "
        "code 0\n"
        "Jan 23 22:19:35 host kernel: drbd r0/0 drbd1 node06: Split-Brain detected, 1 "
        "primaries, automatically solved. Sync from this node\n"
        "drbd web node06: helper command: /sbin/drbdadm split-brain\n"
        "e1000: eth0 NIC Link is Up\n"
    )
    lines = parse_kernel_log(text)
    assert [(x.line, x.minor, x.resource, x.resolved) for x in lines] == [
        (1, 0, None, False),
        (3, 1, "r0", True),
        (4, None, "web", False),
    ]
    seed = (CLUSTER / "drbd-split-brain" / "node05" / "dmesg.txt").read_text()
    assert [(x.line, x.minor, x.self_bits, x.peer_bits) for x in parse_kernel_log(seed)] == [
        (5, 0, 102400, 0),
        (6, 0, 102400, 0),
    ]


def test_drbdadm_version_of_the_real_drbdadm():
    if shutil.which("drbdadm") is None:
        pytest.skip("drbd-utils")
    import subprocess

    out = subprocess.run(["drbdadm", "--version"], capture_output=True, text=True).stdout
    utils, kernel = parse_drbd_version(out)
    assert re.fullmatch(r"9\.\d+\.\d+", utils) and kernel is None  # no module loaded here
    assert parse_drbd_version("DRBDADM_VERSION=9.22.0\nDRBD_KERNEL_VERSION=8.4.11\n") == (
        "9.22.0",
        "8.4.11",
    )


# --- the kinds and the advice ------------------------------------------------------------------


def _readme_kinds() -> set[str]:
    text = README.read_text()
    start = text.index("### Finding kinds")
    table = text[start : text.index("\n#", start + 1)]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M))


def test_every_correlation_kind_is_in_the_readme_table():
    kinds = {x.kind for scenario in SCENARIOS for x in correlate(facts(scenario))}
    assert {"drbd-split-brain", "drbd-disagreement", "vm-active-twice", "split-cluster",
            "config-drift"} <= kinds  # fmt: skip
    assert kinds - _readme_kinds() == set()


@pytest.mark.real
@pytest.mark.skipif(dry.front_end("8.4") is None, reason="drbd-utils (drbdadm-84)")
def test_the_drbdadm_lines_of_the_correlations_run_with_the_real_drbdadm():
    conf = str(CLUSTER / "drbd-split-brain" / "node05" / "drbd.conf")
    lines = []
    for scenario in ("drbd-split-brain", "drbd-disagreement", "config-drift"):
        for found in problems(correlate(facts(scenario))):
            lines += ["# on -", *found.advice]  # each advice starts on no node in particular
    lines += advice.drbd_one_side(["drbd1", "drbd2"], N06, loaded=False)
    checked = 0
    for node, line in dry.lines_by_node(lines, [N05, N06], N05):
        for args in dry.drbdadm_calls([line]):
            args = args[1:] if args[:1] == ["-d"] else args  # the advice's own dry run
            proc = dry.dry_run("8.4", conf, node, args)
            assert proc.returncode == 0, f"{line!r} on {node}: {proc.stderr}"
            checked += 1
    assert checked >= 12
    refused = dry.dry_run("8.4", conf, N06, ["up", "no-such-resource"])
    assert refused.returncode != 0


# --- through the cluster view's front ends: status --from A --from B, check_kvmcluster ----------

FIRST = {  # scenario -> the worst cluster finding's kind and the start of its summary
    "drbd-split-brain": ("drbd-split-brain", "split brain on drbd0 between node05, node06: "
                         "node06 has not written since the split"),
    "drbd-split-brain-840": ("drbd-split-brain", "split brain on drbd0 between node1, node2: "
                             "both sides wrote"),
    "drbd-split-brain-both-primary": ("drbd-split-brain", "split brain on drbd0 between node-a"),
    "drbd-disagreement": ("drbd-disagreement", "drbd0: node05 is StandAlone"),
    "vm-active-twice": ("vm-active-twice", f"{VM200} runs on node05, node06 at once"),
    "split-cluster": ("split-cluster", "the cluster is split: 2 partitions hold quorum"),
    "split-cluster-cman": ("split-cluster", "the cluster is split: 2 partitions hold quorum"),
    "config-drift": ("config-drift", "cluster.conf differs: config_version 01 on node05, 2 on"),
}  # fmt: skip


def _captures(scenario: str) -> list[str]:
    args = []
    for folder in sorted((CLUSTER / scenario).iterdir()):
        args += ["--from", str(folder)]
    return args


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_status_from_both_captures_shows_the_findings_and_exits_with_the_worst(scenario):
    import json

    from tests.plugin_runner import run_plugin

    run = run_plugin("kvmcluster", "status", *_captures(scenario), "--json")
    view = json.loads(run.stdout)
    expected = correlate(facts(scenario))
    assert view["version"] == 2
    assert [(x["kind"], x["state"]) for x in view["correlations"]] == [
        (x.kind, x.state.name) for x in expected
    ]
    assert [x["advice"] for x in view["correlations"]] == [list(x.advice) for x in expected]
    text = run_plugin("kvmcluster", "status", *_captures(scenario), "--no-color")
    assert text.returncode == run.returncode == view["exit_code"]
    assert text.first_line.startswith(
        f"kvmcluster status --cluster: {State(run.returncode).name}   2 nodes, captures "
    )
    if scenario in FIRST:
        kind, summary = FIRST[scenario]
        worst = max(x.state for x in expected if x.kind == kind)
        assert run.returncode >= int(worst) and worst >= State.WARNING
        assert re.search(rf"\b{worst.name} +{kind}: {re.escape(summary)}", text.stdout)
    else:
        assert (run.returncode, text.first_line.split("   ")[0]) == (
            0,
            "kvmcluster status --cluster: OK",
        )


@pytest.mark.parametrize("scenario", sorted(FIRST))
def test_check_kvmcluster_alerts_once_with_the_worst_cluster_finding(scenario):
    import subprocess
    import sys

    from tests.plugin_runner import plugin_env

    proc = subprocess.run(
        [sys.executable, "-m", "kvmcluster.checks.kvmcluster", *_captures(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
        env=plugin_env(),
    )
    first = proc.stdout.splitlines()[0]
    kind, summary = FIRST[scenario]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 2, proc.stdout
    assert first.startswith(f"KVMCLUSTER CRITICAL - {summary}"), first


# --- the live captures again: real daemons, the same findings ------------------------------------


def _why_not_live(*tools: str) -> str | None:
    import os

    if os.geteuid() != 0:
        return "needs root (namespaces, loop devices)"
    missing = [tool for tool in tools if shutil.which(tool) is None]
    return f"{', '.join(missing)} not installed" if missing else None


def _run_script(name: str, out: Path, timeout: float) -> None:
    import subprocess
    import sys

    script = CLUSTER / name
    proc = subprocess.run([sys.executable, str(script), str(out)], capture_output=True,
                          text=True, timeout=timeout, cwd=str(CLUSTER.parents[2]))  # fmt: skip
    if proc.returncode == 75 or "exists: not touched" in proc.stderr:
        pytest.skip(f"{name}: another run holds its namespaces or devices")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _facts_of(folder: Path) -> list[NodeFacts]:
    found = []
    for node in sorted(folder.iterdir()):
        cap = Capture(str(node))
        found.append(facts_from_capture(cap, cap.hostname()))
        cap.close()
    return found


@pytest.mark.real
@pytest.mark.skipif(
    _why_not_live("ip", "unshare", "nsenter", "corosync", "pacemakerd", "crm_mon") is not None,
    reason=str(_why_not_live("ip", "unshare", "nsenter", "corosync", "pacemakerd", "crm_mon")),
)
def test_live_a_real_two_node_cut_is_a_split_cluster_and_before_it_a_healthy_pair(tmp_path):
    """capture_split_cluster.py again (about 40 s): two real corosync + Pacemaker nodes in
    network namespaces, captured healthy, then with the link cut."""
    _run_script("capture_split_cluster.py", tmp_path, 600)
    healthy = correlate(_facts_of(tmp_path / "healthy-pacemaker"))
    assert healthy and not problems(healthy)
    (split,) = problems(correlate(_facts_of(tmp_path / "split-cluster")))
    assert (split.kind, split.state) == ("split-cluster", State.CRITICAL)
    assert "node05 sees node05 (quorate)" in split.items
    assert not any(Path("/run/netns", ns).exists() for ns in ("kK17a", "kK17b"))


@pytest.mark.real
@pytest.mark.skipif(
    _why_not_live("losetup", "/usr/sbin/libvirtd", "qemu-system-x86_64") is not None,
    reason=str(_why_not_live("losetup", "/usr/sbin/libvirtd", "qemu-system-x86_64")),
)
def test_live_a_vm_started_on_a_second_real_libvirtd_is_active_twice(tmp_path):
    """capture_vm_twice.py again (about 10 s): two real libvirtd daemons, the seed's VM
    running in both, each node's libvirt written by collect's writer."""
    from tests.libvirtd_real import missing

    if missing():
        pytest.skip(missing())
    shutil.copytree(
        CLUSTER / "healthy-cman",
        tmp_path / "vm-active-twice",
        ignore=shutil.ignore_patterns("libvirt-*"),  # written again by the capture
    )
    _run_script("capture_vm_twice.py", tmp_path, 300)
    (twice,) = problems(correlate(_facts_of(tmp_path / "vm-active-twice")))
    assert (twice.kind, twice.nodes) == ("vm-active-twice", (N05, N06))
    assert "the cluster owns the copy on node05" in twice.items
    assert not Path("/dev/volnode05").exists()


def _every_capture() -> list[Path]:
    demo = Path(__file__).parent.parent / "kvmcluster" / "demo_captures"
    found = [p for p in sorted(demo.iterdir()) if p.is_dir()]
    for scenario in SCENARIOS:
        found += sorted((CLUSTER / scenario).iterdir())
    return found


def test_any_two_captures_side_by_side_correlate_without_error_in_stable_kinds():
    """Nodes of other stacks, other DRBD versions, other clusters: whatever is paired, the
    rules answer in stable kinds, on printable lines."""
    every = []
    for folder in _every_capture():
        cap = Capture(str(folder))
        every.append(facts_from_capture(cap, folder.name))
        cap.close()
    kinds = set()
    for i, a in enumerate(every):
        for b in every[i + 1 :]:
            for found in correlate([a, b]):
                kinds.add(found.kind)
                assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", found.kind)
                for line in (found.reason, *found.items, *found.advice):
                    assert line.isprintable(), line
    assert kinds - _readme_kinds() == set()
    # a cman node beside a Pacemaker node of another cluster: said so, nothing else claimed
    mixed = problems(correlate([facts("healthy-cman")[0], facts("healthy-pacemaker")[1]]))
    assert [(x.kind, x.reason) for x in mixed] == [
        (
            "config-drift",
            "the nodes belong to different clusters: agacloud001_c3 on node05, kk17 on node06",
        )
    ]


def test_drbd_9_sides_are_paired_by_the_peer_names_and_get_drbd_9_steps(tmp_path):
    """node05: the real `drbdsetup status --json` of a StandAlone resource (to node06, 400 KiB
    written since); node06: Primary too, Connecting to node05, nothing written (its status
    built here). DRBD 9 names each connection's peer: the sides pair by those names."""
    from kvmcluster.model.drbd import (
        Connection,
        Device,
        DrbdStatus,
        PeerDevice,
        Resource,
    )

    node05 = tmp_path / "node05"
    node05.mkdir()
    shutil.copyfile(
        Path(__file__).parent / "fixtures" / "drbdsetup-status-json_9-standalone.json",
        node05 / c.DRBD_JSON,
    )
    (node05 / c.HOSTNAME).write_text("node05\n")
    (node05 / c.DRBD_VERSION).write_text("DRBDADM_VERSION=9.22.0\nDRBD_KERNEL_VERSION=9.2.5\n")
    cap = Capture(str(node05))
    a = facts_from_capture(cap, "node05")
    cap.close()
    assert a.unread == {} and a.drbd_kernel_version == "9.2.5"

    def resource(name: str, minor: int, state: str) -> Resource:
        peer = PeerDevice(0, "Off" if state != "Connected" else "Established", "UpToDate",
                          out_of_sync=0)  # fmt: skip
        conn = Connection(state, "Unknown" if state != "Connected" else "Primary", "node05",
                          peer_devices=[peer])  # fmt: skip
        return Resource(name, "Primary", [Device(0, minor, "UpToDate")], [conn])

    b = NodeFacts("node06", stack="pacemaker")
    b.drbd = DrbdStatus(
        "drbdsetup status --json",
        version="9.2.5",
        resources=[resource("volnode05", 1, "Connecting"), resource("volnode06", 2, "Connected")],
    )
    b.drbd_kernel_version = "9.2.5"
    found = problems(correlate([a, b]))
    (split,) = by_kind(found, "drbd-split-brain")
    assert split.items[0] == "volnode05"
    assert "node06 has not written since the split" in split.reason
    assert "drbdadm wait-sync volnode05   # Connected, UpToDate on every node" in split.advice
    assert "pcs resource ban drbd-volnode05-clone node06 --promoted" in split.advice
    assert [x.kind for x in found] == ["drbd-split-brain"]  # volnode06: both agree
    # the drbdadm lines with the real drbdadm 9 in dry-run mode, on a DRBD 9 config of the pair
    if shutil.which("drbdadm"):
        conf = tmp_path / "r9.conf"
        conf.write_text(
            "resource volnode05 {\n  device /dev/drbd1;\n  disk /dev/sdb2;\n  meta-disk internal;\n"
            "  on node05 { node-id 0; address 127.0.0.1:7789; }\n"
            "  on node06 { node-id 1; address 127.0.0.2:7789; }\n"
            "  connection-mesh { hosts node05 node06; }\n}\n"
        )
        lines = [*split.advice, *advice.drbd_reconnect("volnode05", "node05")]
        lines += [*advice.drbd_one_side(["volnode05"], "node06"), "# on -"]
        lines += advice.config_drift("drbd.conf")
        checked = 0
        for node, line in dry.lines_by_node(lines, ["node05", "node06"], "node05"):
            for args in dry.drbdadm_calls([line]):
                args = args[1:] if args[:1] == ["-d"] else args
                proc = dry.dry_run("9", str(conf), node, args)
                assert proc.returncode == 0, f"{line!r} on {node}: {proc.stderr}"
                checked += 1
        assert checked >= 8
        assert dry.dry_run("9", str(conf), "node06", ["up", "no-such"]).returncode != 0
    # a connection to a third node is not the pair's: nothing is claimed about it
    for conn in b.drbd.resources[0].connections:
        conn.peer_name = "node07"
    assert not by_kind(correlate([a, b]), "drbd-split-brain")


def test_mangled_captures_never_raise_out_of_the_facts_or_the_rules(tmp_path):
    """Every file of two captures cut, doubled, flipped or emptied (a fixed seed): each node's
    facts say what they could not read, the rules answer in correlations."""
    import random

    rng = random.Random(1717)
    unread = 0
    sources = [CLUSTER / "drbd-split-brain", CLUSTER / "split-cluster", CLUSTER / "config-drift"]
    for round_number in range(60):
        scenario = sources[round_number % len(sources)]
        work = tmp_path / f"r{round_number}"
        shutil.copytree(scenario, work)
        for path in sorted(work.rglob("*")):
            if not path.is_file() or rng.random() < 0.5:
                continue
            data = path.read_bytes()
            cut = rng.randrange(len(data) + 1)
            path.write_bytes(
                rng.choice(
                    [
                        data[:cut],
                        data[:cut] + data[cut // 2 :],
                        bytes(b ^ 0x20 if rng.random() < 0.05 else b for b in data),
                        b"",
                        data.replace(b"Primary", b"Pr\x00imary\n\x1b[2J"),
                    ]
                )
            )
        nodes = _facts_of(work)
        unread += sum(len(n.unread) for n in nodes)
        for found in correlate(nodes):
            for line in (found.reason, *found.items, *found.advice):
                assert line.isprintable(), line
    assert unread > 30  # the mangling reached the parsers' refusals


def test_drbd_conf_with_drbd_d_compares_alike_from_a_local_and_a_remote_capture(tmp_path):
    """Locally collect copies drbd.d/ beside drbd.conf; over SSH drbd.conf arrives as `cat
    /etc/drbd.conf /etc/drbd.d/*.conf /etc/drbd.d/*.res`: the same files are no drift."""
    main = 'include "drbd.d/*.conf";\\ninclude "drbd.d/*.res";\\n'
    common = "common {\\n  net { protocol C; }\\n}\\n"
    r0 = (CLUSTER / "healthy-cman" / "node05" / "drbd.conf").read_text().split("resource ", 1)[1]
    r0 = "resource " + r0
    local, remote = tmp_path / "node05", tmp_path / "node06"
    (local / "drbd.d").mkdir(parents=True)
    remote.mkdir()
    (local / "drbd.conf").write_text(main)
    (local / "drbd.d" / "global_common.conf").write_text(common)
    (local / "drbd.d" / "a-seed.res").write_text(r0)
    (remote / "drbd.conf").write_text(main + common + r0)
    found = []
    for folder in (local, remote):
        cap = Capture(str(folder))
        found.append(facts_from_capture(cap, folder.name))
        cap.close()
    assert found[0].configs[c.DRBD_CONF] == found[1].configs[c.DRBD_CONF]
    assert not problems(correlate(found))
    (remote / "drbd.conf").write_text(main + common + r0.replace("110M", "40M"))
    cap = Capture(str(remote))
    found[1] = facts_from_capture(cap, "node06")
    cap.close()
    (drift,) = problems(correlate(found))
    assert drift.items[0] == "drbd.conf"


def test_a_split_brain_the_kernel_log_shows_connected_again_after_is_over():
    text = (
        "[1.0] block drbd0: Split-Brain detected but unresolved, dropping connection!\n"
        "[2.0] block drbd1: Split-Brain detected but unresolved, dropping connection!\n"
        "[3.0] block drbd0: conn( WFBitMapT -> SyncTarget ) disk( UpToDate -> Inconsistent )\n"
        "[4.0] drbd r1/0 drbd3 node06: Split-Brain detected but unresolved, dropping connection!\n"
        "[5.0] drbd r1 node06: cstate( Connecting -> Connected )\n"
    )
    assert [(x.line, x.resolved) for x in parse_kernel_log(text)] == [
        (1, True),
        (2, False),
        (4, True),
    ]
    # an old, resolved split brain in the log of a pair now merely disconnected: not claimed
    nodes = facts("drbd-disagreement")
    nodes[0].split_brain_lines = parse_kernel_log(text)
    assert not by_kind(correlate(nodes), "drbd-split-brain")
    nodes[0].split_brain_lines = parse_kernel_log(text.split("[3.0]")[0])
    assert by_kind(correlate(nodes), "drbd-split-brain")


def test_a_pacemaker_vm_twice_names_its_virtualdomain_resource_of_the_cib(tmp_path):
    """The seed's real CIB and crm_mon (VirtualDomain vm-aquarius200 runs aquarius_000200 on
    node05): the domain also running on node06 is stopped there, and the pcs lines name the
    CIB's resource id, not pcs-setup.sh's vm-NAME."""
    fixtures = Path(__file__).parent / "fixtures"
    nodes = []
    for name in ("node05", "node06"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copyfile(fixtures / "crm-mon_seed-healthy.xml", folder / c.CRM_MON)
        shutil.copyfile(fixtures / "cib_seed-healthy.xml", folder / c.CIB)
        cap = Capture(str(folder))
        node = facts_from_capture(cap, f"{name}.c01.cloud.agarik.com")
        cap.close()
        node.domains = [HypervisorDomain(node.name, VM200, "running")]
        nodes.append(node)
    assert nodes[0].owners[VM200] == "node05"
    assert nodes[0].vm_resources[VM200] == "vm-aquarius200"
    (twice,) = problems(correlate(nodes))
    assert f"the cluster owns the copy on {S05}" in twice.items
    steps = list(twice.advice)
    assert steps[_index(steps, "virsh destroy") - 1] == f"# on {N06}"
    assert "pcs resource refresh vm-aquarius200" in steps
    assert not any(VM200 in line for line in steps if line.startswith("pcs "))


def test_drbd_resources_of_other_pairs_in_a_bigger_cluster_are_not_compared():
    """Five nodes, DRBD in pairs: drbd.conf names each resource's hosts, so node07's drbd0
    (with node08) is not compared with node05's (with node06)."""
    import copy

    pair = facts("healthy-cman")
    other = [copy.deepcopy(n) for n in facts("drbd-split-brain")]
    for node, name in zip(other, ("node07.c01.cloud.agarik.com", "node08.c01.cloud.agarik.com")):
        node.name = name
        for configured in node.drbd_configured:
            configured.hosts = ["node07.c01.cloud.agarik.com", "node08.c01.cloud.agarik.com"]
        node.domains = []
        node.cluster = None
        # their own drbd.conf (another pair's resources): not drift against node05's
        node.configs = {c.DRBD_CONF: facts("config-drift")[1].configs[c.DRBD_CONF]}
    five = [*pair, *other, NodeFacts("node09", reachable=False)]
    found = correlate(five)
    assert not problems(x for x in found if x.kind.startswith("config"))
    (split,) = by_kind(found, "drbd-split-brain")
    assert split.nodes == ("node07.c01.cloud.agarik.com", "node08.c01.cloud.agarik.com")
    assert not by_kind(found, "drbd-disagreement")
    assert sorted({x.nodes for x in by_kind(found, "drbd-pair")}) == [
        (N05, N06),
        tuple(split.nodes),
    ]
