"""check_vm_alloc: cluster config x cluster placement x real libvirt (test driver)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmcluster.model.vms import vg_of
from kvmcluster.parsers.cib import parse_cib_vms
from kvmcluster.parsers.libvirt_xml import domain_disks
from tests.libvirt_nodes import VM199, VM200, domain, hypervisor, vm199, vm200
from tests.plugin_runner import FIXTURES, fixture, run_plugin

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"
SEED = fixture("cluster-conf_seed-fixed.conf")
STARTED = fixture("clustat-x_411-all-started.xml")
VGS = ["--vg", f"{N05}=volnode05", "--vg", f"{N06}=volnode06"]


def clustat(tmp_path, vm200_owner="node05", vm199_owner="node06", vm199_state="started"):
    """clustat -x of the seed cluster with the two VMs where the test wants them."""
    text = (FIXTURES / "clustat-x_411-all-started.xml").read_text()
    owner = "none" if vm199_state == "stopped" else f"{vm199_owner}.c01.cloud.agarik.com"
    code = 110 if vm199_state == "stopped" else 112
    text = text.replace(
        'state="112" state_str="started" flags="0" flags_str="" '
        'owner="node06.c01.cloud.agarik.com" last_owner="node06.c01.cloud.agarik.com"',
        f'state="{code}" state_str="{vm199_state}" flags="0" flags_str="" owner="{owner}" '
        'last_owner="node06.c01.cloud.agarik.com"',
    )
    text = text.replace(
        'owner="node05.c01.cloud.agarik.com" last_owner="node05.c01.cloud.agarik.com"',
        f'owner="{vm200_owner}.c01.cloud.agarik.com" last_owner="node05.c01.cloud.agarik.com"',
    )
    path = tmp_path / "clustat.xml"
    path.write_text(text)
    return str(path)


def check(tmp_path, node05: list[str], node06: list[str], *args: str, conf=SEED, placement=None):
    uri05 = hypervisor(tmp_path, "node05", *node05)
    uri06 = hypervisor(tmp_path, "node06", *node06)
    return run_plugin(
        "check_vm_alloc",
        "--cluster-conf",
        conf,
        "--clustat-file",
        placement or STARTED,
        "--libvirt",
        f"{N05}={uri05}",
        "--libvirt",
        f"{N06}={uri06}",
        *VGS,
        *args,
    )


def test_each_vm_on_its_home_node_and_vg_is_ok(tmp_path):
    run = check(tmp_path, [vm200(), vm199("shutoff")], [vm199(), vm200("shutoff")])
    assert run.returncode == OK, run.stdout
    assert (
        run.first_line
        == "VM_ALLOC OK - 2 VMs on their preferred nodes and volume groups, 2 running"
    )
    assert (run.perf("vms_configured"), run.perf("vms_running"), run.perf("vms_misplaced")) == (
        2,
        2,
        0,
    )


def test_failed_over_vm_is_a_warning_saying_where_it_belongs(tmp_path):
    run = check(
        tmp_path,
        [vm200(), vm199()],
        [vm199("shutoff"), vm200("shutoff")],
        placement=clustat(tmp_path, vm199_owner="node05"),
    )
    assert run.returncode == WARNING, run.stdout
    assert run.first_line.startswith(
        f"VM_ALLOC WARNING - {VM199} runs on node05, belongs on node06 (failed over; "
        "failback pending)"
    )
    assert run.perf("vms_misplaced") == 1


def test_vm_active_on_two_hypervisors_is_critical_and_says_which_to_destroy(tmp_path):
    run = check(tmp_path, [vm200(), vm199("shutoff")], [vm199(), vm200()])
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        f"VM_ALLOC CRITICAL - {VM200} running on node05 and node06 at once (disk corruption "
        f"risk: virsh destroy {VM200} on node06)"
    )


def test_cluster_and_libvirt_disagree(tmp_path):
    run = check(tmp_path, [vm200(), vm199("shutoff")], [vm199("shutoff"), vm200("shutoff")])
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        f"VM_ALLOC CRITICAL - {VM199} the cluster says node06, libvirt says nowhere"
    )


def test_vm_that_should_run_but_runs_nowhere(tmp_path):
    run = check(
        tmp_path,
        [vm200(), vm199("shutoff")],
        [vm199("shutoff"), vm200("shutoff")],
        placement=clustat(tmp_path, vm199_state="stopped"),
    )
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        f"VM_ALLOC CRITICAL - {VM199} not running anywhere although it should (autostart)"
    )
    assert run.perf("vms_not_running") == 1


def test_disks_on_the_other_nodes_vg_and_local_files(tmp_path):
    run = check(
        tmp_path,
        [
            vm200(vg="volnode06", extra=[("file", "/var/lib/libvirt/images/scratch.qcow2")]),
            vm199("shutoff"),
        ],
        [vm199(), vm200("shutoff")],
        "-v",
    )
    assert run.returncode == WARNING, run.stdout
    assert run.first_line.startswith(
        f"VM_ALLOC WARNING - {VM200} disk vda on volnode06, the VG of node06 (expected "
        "volnode05), disk vdb is a local file /var/lib/libvirt/images/scratch.qcow2 (cannot "
        "fail over)"
    )


def test_vm_outside_the_cluster_is_a_warning(tmp_path):
    run = check(
        tmp_path,
        [
            vm200(),
            vm199("shutoff"),
            domain("scratch-test", 7, disks=[("block", "/dev/volimages/x")]),
        ],
        [vm199(), vm200("shutoff")],
    )
    assert run.returncode == WARNING
    assert run.first_line.startswith(
        "VM_ALLOC WARNING - scratch-test runs on node05 but no cluster resource manages it"
    )
    assert run.perf("vms_unmanaged") == 1


def test_paused_is_a_warning_and_crashed_critical(tmp_path):
    paused = check(tmp_path, [vm200("paused"), vm199("shutoff")], [vm199(), vm200("shutoff")])
    assert paused.returncode == WARNING
    assert paused.first_line.startswith(f"VM_ALLOC WARNING - {VM200} paused on node05")
    crashed = check(tmp_path, [vm200("crashed"), vm199("shutoff")], [vm199(), vm200("shutoff")])
    assert crashed.returncode == CRITICAL
    assert f"{VM200} crashed on node05" in crashed.first_line


def test_restricted_domain_nofailback_and_unknown_domain(tmp_path):
    conf = fixture("cluster-conf_seed-restricted-nofailback-unknown-domain.conf")
    node07 = hypervisor(tmp_path, "node07", vm200())
    uri05 = hypervisor(tmp_path, "node05", vm199(), vm200("shutoff"))
    uri06 = hypervisor(tmp_path, "node06", vm199("shutoff"), vm200("shutoff"))
    run = run_plugin(
        "check_vm_alloc",
        "--cluster-conf",
        conf,
        "--clustat-file",
        clustat(tmp_path, vm200_owner="node07", vm199_owner="node05"),
        "--libvirt",
        f"{N05}={uri05}",
        "--libvirt",
        f"{N06}={uri06}",
        "--libvirt",
        f"node07={node07}",
        *VGS,
        "-v",
    )
    assert run.returncode == CRITICAL, run.stdout
    lines = run.lines
    assert lines[0].startswith(
        "VM_ALLOC CRITICAL - cluster config: vm:aquarius_000210_MFA_mfa.fr_test1.mfa.fr "
        "(line 38) uses failover domain kvm_node07, which does not exist"
    )
    assert any("runs on node07, outside its restricted domain kvm_node05" in line for line in lines)
    assert any(
        f"{VM199} runs on node05, belongs on node06 (failed over; nofailback is set)" in line
        or "nofailback is set" in line
        for line in lines
    )


def test_the_seed_cluster_conf_as_it_is_is_critical_with_the_line(tmp_path):
    uri05 = hypervisor(tmp_path, "node05", vm200())
    run = run_plugin(
        "check_vm_alloc",
        "--cluster-conf",
        fixture("cluster-conf_seed-as-is.conf"),
        "--clustat-file",
        STARTED,
        "--libvirt",
        f"{N05}={uri05}",
    )
    assert run.returncode == CRITICAL
    assert run.first_line == (
        "VM_ALLOC CRITICAL - cluster config: cannot parse "
        f"{fixture('cluster-conf_seed-as-is.conf')}:35: not well-formed XML: "
        "StartTag: invalid element name"
    )


def test_a_failover_priority_that_is_not_a_number_is_critical_with_the_line(tmp_path):
    """Like any cluster.conf cman would refuse (see the seed test above)."""
    conf = tmp_path / "cluster.conf"
    text = Path(fixture("cluster-conf_seed-fixed.conf")).read_text()
    conf.write_text(text.replace('priority="1"', 'priority="first"', 1))
    line = text[: text.index('priority="1"')].count("\n") + 1
    run = run_plugin("check_vm_alloc", "--cluster-conf", conf, "--clustat-file", STARTED)
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        f"VM_ALLOC CRITICAL - cluster config: cannot parse {conf}:{line}: "
    )
    assert run.first_line.endswith("priority 'first' is not a number")


def test_seed_domains_naming_node03_node04_are_critical(tmp_path):
    run = check(
        tmp_path,
        [vm200(), vm199("shutoff")],
        [vm199(), vm200("shutoff")],
        conf=fixture("cluster-conf_seed-comment-fixed.conf"),
    )
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        "VM_ALLOC CRITICAL - cluster config: failover domain kvm_node05 (line 25) names "
        "node03.c01.cloud.agarik.com, node04.c01.cloud.agarik.com, not nodes of this cluster"
    )


def test_unreachable_libvirt_is_unknown_naming_the_uri(tmp_path):
    uri05 = hypervisor(tmp_path, "node05", vm200(), vm199("shutoff"))
    run = run_plugin(
        "check_vm_alloc",
        "--cluster-conf",
        SEED,
        "--clustat-file",
        STARTED,
        "--libvirt",
        f"{N05}={uri05}",
        "--libvirt",
        f"{N06}=test:///nonexistent/node06.xml",
    )
    assert run.returncode == UNKNOWN, run.stdout
    assert run.first_line.startswith(
        f"VM_ALLOC UNKNOWN - libvirt of {N06} (test:///nonexistent/node06.xml): "
    )


def test_vm_selection(tmp_path):
    run = check(
        tmp_path,
        [vm200(), vm199()],
        [vm199("shutoff"), vm200("shutoff")],
        "--vm",
        VM200,
        placement=clustat(tmp_path, vm199_owner="node05"),
    )
    assert run.returncode == OK and run.perf("vms_configured") == 1


@pytest.mark.parametrize("bad", ["node05", "=qemu:///system", "node05;rm=x"])
def test_bad_node_value_arguments_exit_3(bad):
    run = run_plugin("check_vm_alloc", "--libvirt", bad)
    assert run.returncode == UNKNOWN and "bad arguments" in run.first_line


# --- Pacemaker --------------------------------------------------------------------------


def pacemaker(tmp_path, scenario, node05, node06, *args):
    uri05 = hypervisor(tmp_path, "node05", *node05)
    uri06 = hypervisor(tmp_path, "node06", *node06)
    return run_plugin(
        "check_vm_alloc",
        "--cib-file",
        fixture(f"cib_{scenario}.xml"),
        "--crm-mon-file",
        fixture(f"crm-mon_{scenario}.xml"),
        "--libvirt",
        f"node05={uri05}",
        "--libvirt",
        f"node06={uri06}",
        "--vg",
        "node05=volnode05",
        "--vg",
        "node06=volnode06",
        *args,
    )


def test_pacemaker_virtualdomains_on_their_preferred_nodes(tmp_path):
    run = pacemaker(
        tmp_path, "seed-healthy", [vm200(), vm199("shutoff")], [vm199(), vm200("shutoff")]
    )
    assert run.returncode == OK, run.stdout
    assert run.first_line.startswith("VM_ALLOC OK - 2 VMs on their preferred nodes")


def test_pacemaker_node_down_vm_on_the_surviving_node_keeps_its_vg(tmp_path):
    # node06 is offline: node05 is the best online place, and the disks stay on volnode06
    run = pacemaker(tmp_path, "seed-node06-down", [vm200(), vm199()], [], "-v")
    assert run.returncode == OK, run.stdout
    assert "OK: vm-aquarius199: libvirt node05, cluster node05 (Started)" in run.lines


def test_pacemaker_vm_away_from_its_online_home_is_a_warning(tmp_path):
    run = pacemaker(
        tmp_path, "seed-healthy", [vm200(), vm199()], [vm199("shutoff"), vm200("shutoff")]
    )
    assert run.returncode == CRITICAL, run.stdout  # crm_mon says vm199 runs on node06
    assert f"{VM199} the cluster says node06, libvirt says node05" in run.first_line
    assert "runs on node05, belongs on node06 (failed over; failback pending)" in run.first_line


def test_pacemaker_cib_vms_from_virtualdomain_config():
    config = parse_cib_vms((FIXTURES / "cib_seed-healthy.xml").read_text())
    assert [(v.name, v.resource, v.preferred) for v in config.vms] == [
        (VM200, "vm-aquarius200", ["node05"]),
        (VM199, "vm-aquarius199", ["node06"]),
    ]


# --- small pieces -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, vg",
    [
        ("/dev/volnode05/vm1", "volnode05"),
        ("/dev/mapper/volnode06-vm199--disk0", "volnode06"),
        ("/dev/mapper/vol--images-base", "vol-images"),
        ("/dev/drbd1", None),
        ("/dev/disk/by-id/wwn-0x5000", None),
        ("/var/lib/libvirt/images/a.qcow2", None),
    ],
)
def test_volume_group_of_a_device_path(path, vg):
    assert vg_of(path) == vg


def test_domain_disks_skip_cdroms():
    xml = (
        "<domain><devices>"
        '<disk type="block" device="disk"><source dev="/dev/volnode05/a"/>'
        '<target dev="vda"/></disk>'
        '<disk type="file" device="cdrom"><source file="/iso/x.iso"/><target dev="hdc"/></disk>'
        '<disk type="network" device="disk"><source protocol="rbd" name="pool/img"/>'
        '<target dev="vdb"/></disk>'
        "</devices></domain>"
    )
    assert [(d.target, d.type, d.source) for d in domain_disks(xml)] == [
        ("vda", "block", "/dev/volnode05/a"),
        ("vdb", "network", "rbd:pool/img"),
    ]
