"""The generated pcs-setup.sh, applied by the real pcs, checked by the real scheduler.

The script runs once on an empty CIB (`PCS_CIB=cib.xml`, the same script the admin runs on the
live cluster), crm_verify checks the result, and crm_simulate plays it on two nodes: where the
VMs start and in which order, with DRBD not promotable or failing on a node, with a VG that
fails to activate, with a node lost. Then the script runs once on a live one-node cluster named
like the generated corosync.conf, through `pcs cluster cib` / `cib-push`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests import live_pacemaker
from tests.plugin_runner import REPO, run_plugin

PCMK_TOML = str(REPO / "examples" / "pacemaker-cluster.toml")
NODES = ("kvm01", "kvm02")
HOME = {"vm-web01": "kvm01", "vm-db01": "kvm02"}
# VM -> (its DRBD clone's primitive, its VG activation's primitive)
STACK = {
    "vm-web01": ("drbd-vmdata01", "lvm-vg_kvm01"),
    "vm-db01": ("drbd-vmdata02", "lvm-vg_kvm02"),
    "vm-test01": ("drbd-vmdata02", "lvm-vg_kvm02"),
}
TOOLS = ("pcs", "cibadmin", "crm_verify", "crm_simulate", "crm_attribute", "crm_mon")


def _missing() -> str | None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (pcs, pacemaker-cli-utils)"
    if not Path("/usr/sbin/fence_ipmilan").exists():
        return "fence-agents is not installed (pcs reads fence_ipmilan's metadata)"
    if not Path("/usr/lib/ocf/resource.d/linbit/drbd").exists():
        return "drbd-utils' OCF agent is not installed"
    return None


pytestmark = [pytest.mark.real, pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


def run(*argv: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pcs-hD2") / "out"
    gen = run_plugin("kvmcluster", "generate", PCMK_TOML, "--output", str(out))
    assert gen.returncode == 0, gen.stdout + gen.stderr
    return out


@pytest.fixture(scope="module")
def cib(generated) -> Path:
    """The CIB the script builds from an empty one (one application of the script per module)."""
    path = generated.parent / "cib.xml"
    empty = run("cibadmin", "--empty")
    assert empty.returncode == 0, empty.stderr
    path.write_text(empty.stdout)
    applied = run("sh", str(generated / "pcs-setup.sh"), env={"PCS_CIB": str(path)}, timeout=300)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    return path


@pytest.fixture(scope="module")
def probed(cib) -> Path:
    """Both nodes up with quorum (node states only: the first transition probes, then starts)."""
    path = cib.parent / "probed.xml"
    sim = run("crm_simulate", "-x", str(cib), "-u", NODES[0], "-u", NODES[1], "-q", "1",
              "-O", str(path))  # fmt: skip
    assert sim.returncode == 0, sim.stdout + sim.stderr
    return path


def promotable(base: Path, target: Path, where: dict[str, tuple[str, ...]]) -> Path:
    """A copy of `base` where each DRBD resource may be promoted on the nodes given (the drbd
    agent sets this promotion score when its disk is UpToDate, and removes it otherwise)."""
    shutil.copy(base, target)
    for resource, nodes in where.items():
        for node in nodes:
            set_score = run(
                "crm_attribute", "--node", node, "--name", f"master-{resource}",
                "--update", "10", "--lifetime", "reboot", env={"CIB_file": str(target)},
            )  # fmt: skip
            assert set_score.returncode == 0, set_score.stderr
    return target


EVERYWHERE = {"drbd-vmdata01": NODES, "drbd-vmdata02": NODES}


def simulate(base: Path, target: Path, *args: str) -> list[str]:
    """One transition from `base`, saved to `target`: the actions executed, in their order."""
    sim = run("crm_simulate", "-x", str(base), "-S", "-O", str(target), *args)
    assert sim.returncode == 0, sim.stdout + sim.stderr
    executed = sim.stdout.split("Executing Cluster Transition:", 1)[1].split("Revised Cluster")[0]
    actions = []
    for line in executed.splitlines():
        words = line.split()
        if words[:3] == ["*", "Resource", "action:"]:
            # "drbd-vmdata01 promote on kvm01": the clone instance number dropped
            actions.append(" ".join([words[3].split(":")[0], *words[4:]]))
        elif words[:2] == ["*", "Fencing"]:
            actions.append(" ".join(words[1:]))
    return actions


def placement(path: Path) -> dict[str, set[tuple[str, str]]]:
    """resource (primitive id) -> {(node, role)} where it is active, read by crm_mon."""
    mon = run("crm_mon", "--output-as=xml", "-1", env={"CIB_file": str(path)})
    assert mon.returncode == 0, mon.stdout + mon.stderr
    found: dict[str, set[tuple[str, str]]] = {}
    for resource in ET.fromstring(mon.stdout).iter("resource"):
        where = found.setdefault(resource.get("id").split(":")[0], set())
        if resource.get("active") == "true":
            where |= {(node.get("name"), resource.get("role")) for node in resource.iter("node")}
    return found


def action(actions: list[str], text: str) -> int:
    matches = [i for i, a in enumerate(actions) if re.fullmatch(text, a)]
    assert len(matches) == 1, f"{text!r} {len(matches)} times in {actions}"
    return matches[0]


def test_the_script_applies_to_an_empty_cib_and_crm_verify_accepts_it(cib):
    verify = run("crm_verify", "-V", "-x", str(cib))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "error" not in (verify.stdout + verify.stderr).lower()
    config = ET.parse(cib).getroot().find("configuration")
    fences = {p.get("id"): p for p in config.iter("primitive") if p.get("class") == "stonith"}
    assert sorted(fences) == ["fence-kvm01", "fence-kvm02"]
    for node in NODES:
        params = {n.get("name"): n.get("value") for n in fences[f"fence-{node}"].iter("nvpair")}
        assert fences[f"fence-{node}"].get("type") == "fence_ipmilan"
        assert params["pcmk_host_list"] == node and params["lanplus"] == "1"
    locations = {(c.get("rsc"), c.get("node"), c.get("score")) for c in config.iter("rsc_location")}
    assert {("fence-kvm01", "kvm01", "-INFINITY"), ("fence-kvm02", "kvm02", "-INFINITY")} <= (
        locations
    )
    types = {p.get("id"): f"{p.get('provider')}:{p.get('type')}" for p in config.iter("primitive")}
    assert types["dlm"] == "pacemaker:controld" and types["lvmlockd"] == "heartbeat:lvmlockd"
    lvm = next(p for p in config.iter("primitive") if p.get("id") == "lvm-vg_kvm01")
    lvm_params = {n.get("name"): n.get("value") for n in lvm.iter("nvpair")}
    assert lvm_params["vg_access_mode"] == "lvmlockd"
    assert lvm_params["activation_mode"] == "shared"


def test_the_script_changes_only_its_cib_file_until_one_push_at_the_end(generated):
    commands = [
        line.strip()
        for line in (generated / "pcs-setup.sh").read_text().splitlines()
        if line.strip().startswith("pcs ")
    ]
    assert commands[0] == 'pcs cluster cib "$cib"'
    assert commands[-1] == 'pcs cluster cib-push "$cib" --config'
    assert all(c.startswith('pcs -f "$cib" ') for c in commands[1:-1]), commands


def test_everything_starts_in_order_on_the_home_nodes(probed):
    ready = promotable(probed, probed.parent / "ready.xml", EVERYWHERE)
    actions = simulate(ready, probed.parent / "running.xml")
    state = placement(probed.parent / "running.xml")
    assert state["vm-web01"] == {("kvm01", "Started")}
    assert state["vm-db01"] == {("kvm02", "Started")}
    assert state["vm-test01"] == set()  # autostart = false
    for drbd in ("drbd-vmdata01", "drbd-vmdata02"):
        assert state[drbd] == {("kvm01", "Promoted"), ("kvm02", "Promoted")}
    for lvm in ("lvm-vg_kvm01", "lvm-vg_kvm02", "dlm", "lvmlockd"):
        assert state[lvm] == {("kvm01", "Started"), ("kvm02", "Started")}
    for vm, node in HOME.items():
        drbd, lvm = STACK[vm]
        steps = [
            action(actions, f"dlm start on {node}"),
            action(actions, f"lvmlockd start on {node}"),
            action(actions, f"{drbd} promote on {node}"),
            action(actions, f"{lvm} start on {node}"),
            action(actions, f"{vm} start on {node}"),
        ]
        assert steps == sorted(steps), actions


def test_no_vm_starts_where_its_drbd_cannot_be_promoted(probed):
    """vmdata01 UpToDate on kvm02 only: web01 (home kvm01) runs on kvm02, its VG too."""
    only_kvm02 = {"drbd-vmdata01": ("kvm02",), "drbd-vmdata02": NODES}
    ready = promotable(probed, probed.parent / "kvm02-only.xml", only_kvm02)
    actions = simulate(ready, probed.parent / "kvm02-only-after.xml")
    state = placement(probed.parent / "kvm02-only-after.xml")
    assert state["drbd-vmdata01"] == {("kvm01", "Unpromoted"), ("kvm02", "Promoted")}
    assert state["lvm-vg_kvm01"] == {("kvm02", "Started")}
    assert state["vm-web01"] == {("kvm02", "Started")}
    assert not [a for a in actions if a.startswith("vm-web01 start on kvm01")]


def test_a_failed_promote_keeps_the_vm_off_that_node(probed):
    ready = promotable(probed, probed.parent / "fail-ready.xml", EVERYWHERE)
    failed = probed.parent / "promote-failed.xml"
    actions = simulate(ready, failed, "--op-fail", "drbd-vmdata01_promote_0@kvm01=1")
    assert "drbd-vmdata01 promote on kvm01" in actions
    assert placement(failed)["vm-web01"] == set()
    after = probed.parent / "promote-failed-after.xml"
    actions = simulate(failed, after)
    state = placement(after)
    assert ("kvm01", "Promoted") not in state["drbd-vmdata01"]
    assert state["vm-web01"] == {("kvm02", "Started")}
    assert state["lvm-vg_kvm01"] == {("kvm02", "Started")}
    assert not [a for a in actions if a.startswith("vm-web01 start on kvm01")]


def test_no_vm_starts_where_its_vg_failed_to_activate(probed):
    ready = promotable(probed, probed.parent / "vg-ready.xml", EVERYWHERE)
    failed = probed.parent / "vg-failed.xml"
    actions = simulate(ready, failed, "--op-fail", "lvm-vg_kvm01_start_0@kvm01=1")
    assert "lvm-vg_kvm01 start on kvm01" in actions
    assert not [a for a in actions if a.startswith("vm-web01 start on kvm01")]
    # a failed start bans the resource from the node (start-failure-is-fatal): the simulator
    # counts 1, the cluster counts INFINITY
    banned = run(
        "crm_attribute", "--node", "kvm01", "--name", "fail-count-lvm-vg_kvm01#start_0",
        "--update", "INFINITY", "--lifetime", "reboot", env={"CIB_file": str(failed)},
    )  # fmt: skip
    assert banned.returncode == 0, banned.stderr
    after = probed.parent / "vg-failed-after.xml"
    actions = simulate(failed, after)
    state = placement(after)
    assert state["lvm-vg_kvm01"] == {("kvm02", "Started")}
    assert state["vm-web01"] == {("kvm02", "Started")}


def test_a_lost_node_is_fenced_then_its_vms_move_to_the_survivor(probed):
    ready = promotable(probed, probed.parent / "loss-ready.xml", EVERYWHERE)
    running = probed.parent / "loss-running.xml"
    simulate(ready, running)
    lost = probed.parent / "kvm02-lost.xml"
    actions = simulate(running, lost, "--node-fail", "kvm02")
    fenced = action(actions, r"Fencing kvm02 \(reboot\)")
    assert fenced < action(actions, "vm-db01 start on kvm01")
    assert not [a for a in actions if a.startswith("vm-web01 ")]  # untouched on kvm01
    state = placement(lost)
    assert state["vm-db01"] == {("kvm01", "Started")}
    assert state["vm-web01"] == {("kvm01", "Started")}
    assert state["drbd-vmdata02"] == {("kvm01", "Promoted")}
    assert state["lvm-vg_kvm02"] == {("kvm01", "Started")}
    assert state["fence-kvm02"] == {("kvm01", "Started")}


def test_the_runbook_creates_drbd_then_lvm_then_runs_pcs_setup(generated):
    runbook = (generated / "RUNBOOK.md").read_text()
    steps = [
        "drbdadm create-md vmdata01",
        "systemctl start corosync",
        "systemctl start pacemaker",
        "drbdadm primary --force vmdata01",
        "drbdadm primary --force vmdata02",
        "systemctl start dlm",
        "systemctl start lvmlockd",
        "pvcreate /dev/drbd1",
        "vgcreate --shared vg_kvm01 /dev/drbd1",
        "vgcreate --shared vg_kvm02 /dev/drbd2",
        "vgchange -an vg_kvm01 vg_kvm02",
        "vgchange --lockstop vg_kvm01 vg_kvm02",
        "systemctl stop lvmlockd",
        "systemctl stop dlm",
        "sh pcs-setup.sh",
        "check_drbd --role dual-primary",
    ]
    positions = [runbook.index(step) for step in steps]
    assert positions == sorted(positions)
    assert runbook.count("sh pcs-setup.sh") == 1


# --- the same script on a live cluster ----------------------------------------------------


def _ids(root: ET.Element, tags: tuple[str, ...]) -> set[str]:
    return {e.get("id") for tag in tags for e in root.iter(tag)}


@pytest.mark.skipif(live_pacemaker.why_not() is not None, reason=str(live_pacemaker.why_not()))
def test_the_script_on_a_live_cluster_pushes_everything_at_once(generated, cib):
    """One node named kvm01 (pcs reads kvm01 and kvm02 from the generated corosync.conf): the
    live CIB gets what the file got, and no VM is started (its DRBD cannot run here)."""
    conf = (generated / "etc/corosync/corosync.conf").read_text()
    cluster = live_pacemaker.TestCluster(
        generated.parent / "live", node="kvm01", etc_corosync_conf=conf
    )
    (generated.parent / "live").mkdir()
    try:
        cluster.start()
        script = cluster.command("sh", str(generated / "pcs-setup.sh"), timeout=300)
        assert script.returncode == 0, script.stdout + script.stderr
        live = ET.fromstring(cluster.cli("cibadmin", "--query"))
        offline = ET.parse(cib).getroot()
        tags = ("primitive", "clone", "group", "rsc_location", "rsc_order", "rsc_colocation")
        assert _ids(live.find("configuration"), tags) == _ids(offline.find("configuration"), tags)
        # the cluster acts on the new configuration: it probes every VM, and starts none
        vms = {"vm-web01", "vm-db01", "vm-test01"}

        def probed_all() -> bool:
            status = ET.fromstring(cluster.cli("cibadmin", "--query", "-o", "status"))
            return vms <= {rsc.get("id") for rsc in status.iter("lrm_resource")}

        live_pacemaker._wait("the VMs probed", probed_all, 60)
        status = ET.fromstring(cluster.cli("cibadmin", "--query", "-o", "status"))
        vm_ops = {
            op.get("operation")
            for rsc in status.iter("lrm_resource")
            if rsc.get("id").startswith("vm-")
            for op in rsc.iter("lrm_rsc_op")
        }
        assert vm_ops == {"monitor"}, vm_ops
    finally:
        cluster.close()
    assert cluster.processes() == []


def test_single_primary_drbd_gets_an_exclusive_vg_and_vms_that_do_not_live_migrate(tmp_path):
    """Text only (the real tools ran on this variant by hand: crm_verify clean, the VG and its
    VMs follow the one Promoted node, and move with it when that node is lost)."""
    description = tmp_path / "single.toml"
    description.write_text(
        Path(PCMK_TOML)
        .read_text()
        .replace('name = "vmdata02"\n', 'name = "vmdata02"\ndual_primary = false\n')
    )
    out = tmp_path / "out"
    assert run_plugin("kvmcluster", "generate", str(description), "-o", str(out)).returncode == 0
    script = (out / "pcs-setup.sh").read_text()
    lines = {line for line in script.splitlines() if line.startswith("pcs ")}
    assert (
        'pcs -f "$cib" resource create lvm-vg_kvm02 ocf:heartbeat:LVM-activate vgname=vg_kvm02 '
        "vg_access_mode=lvmlockd activation_mode=exclusive op monitor interval=30s timeout=90s"
    ) in lines
    assert 'pcs -f "$cib" constraint colocation add vm-db01 with lvm-vg_kvm02 INFINITY' in lines
    assert (
        'pcs -f "$cib" constraint colocation add lvm-vg_kvm02 with Promoted drbd-vmdata02-clone '
        "INFINITY"
    ) in lines
    assert "promoted-max=1 " in next(line for line in lines if "drbd-vmdata02 " in line)
    vm = {line.split()[5]: line for line in lines if "ocf:heartbeat:VirtualDomain" in line}
    assert "allow-migrate=false" in vm["vm-db01"]
    assert "allow-migrate=true" in vm["vm-web01"]  # its VG is shared on dual-primary DRBD
