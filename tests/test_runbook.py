"""The generated RUNBOOK.md, followed verbatim: every drbdadm line runs with the real drbdadm
of the version in use (dry run, the generated drbd.conf, pretending the node the runbook
names), every pcs line with the real pcs on the CIB pcs-setup.sh builds, and the steps come
in the order of their dependencies (DRBD, then the cluster stack, then Primary, then LVM,
then the VMs' disks and domains, then the resource manager that starts the VMs)."""

from __future__ import annotations

import re
import shutil

import pytest

from tests import drbd_dry_run as dry
from tests.plugin_runner import REPO, run_plugin

SEED_TOML = str(REPO / "examples" / "seed-cluster.toml")
PCMK_TOML = str(REPO / "examples" / "pacemaker-cluster.toml")
N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"


def _generate(toml: str, out):
    run = run_plugin("kvmcluster", "generate", toml, "--output", str(out))
    assert run.returncode == 0, run.stderr
    return out


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    return _generate(SEED_TOML, tmp_path_factory.mktemp("h21-seed") / "out")


@pytest.fixture(scope="module")
def pcmk(tmp_path_factory):
    return _generate(PCMK_TOML, tmp_path_factory.mktemp("h21-pcmk") / "out")


def _section(runbook: str, title: str) -> str:
    start = runbook.index(f"\n## {title}")
    end = runbook.find("\n## ", start + 1)
    return runbook[start : end if end > 0 else None]


def _positions(text: str, steps: list[str]) -> list[int]:
    return [text.index(step) for step in steps]


def _every_drbdadm_line(out, version: str, nodes: list[str]) -> int:
    runbook = (out / "RUNBOOK.md").read_text()
    conf = str(out / "etc/drbd.conf")
    checked = 0
    for block in dry.code_blocks(runbook):
        for node, line in dry.lines_by_node(block, nodes, nodes[0]):
            for args in dry.drbdadm_calls([line]):
                proc = dry.dry_run(version, conf, node, args)
                assert proc.returncode == 0, f"{line!r} on {node}: {proc.stdout}{proc.stderr}"
                checked += 1
    return checked


@pytest.mark.real
@pytest.mark.skipif(dry.front_end("8.4") is None, reason="drbd-utils (drbdadm-84)")
def test_every_drbdadm_line_of_the_84_runbook_runs_with_the_84_drbdadm(seed):
    checked = _every_drbdadm_line(seed, "8.4", [N05, N06])
    assert checked >= 40, checked
    # the validator itself refuses what 8.4 does not have
    refused = dry.dry_run("8.4", str(seed / "etc/drbd.conf"), N05, ["wait-sync", "drbd0"])
    assert refused.returncode != 0 and "Unknown command 'wait-sync'" in refused.stderr


@pytest.mark.real
@pytest.mark.skipif(dry.front_end("9") is None, reason="drbd-utils")
def test_every_drbdadm_line_of_the_drbd9_runbook_runs_with_drbdadm_9(pcmk):
    checked = _every_drbdadm_line(pcmk, "9", ["kvm01", "kvm02"])
    assert checked >= 15, checked


@pytest.mark.real
@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pcs", "cibadmin")), reason="pcs, pacemaker"
)
def test_every_pcs_line_of_the_pacemaker_runbook_runs_on_the_cib_of_pcs_setup(pcmk, tmp_path):
    cib = dry.pcs_cib(tmp_path, pcmk / "pcs-setup.sh", ["kvm01", "kvm02"])
    runbook = (pcmk / "RUNBOOK.md").read_text()
    lines = [
        line for block in dry.code_blocks(runbook) for line in block if line.startswith("pcs ")
    ]
    assert len(lines) >= 15, lines
    for line in lines:
        accepted, output = dry.pcs_run(cib, line)
        assert accepted, f"{line}: {output}"
    refused, _ = dry.pcs_run(cib, "pcs resource ban vm-nosuch kvm01")
    assert not refused, "the check refuses a resource pcs-setup.sh does not create"


def test_the_84_runbook_never_uses_what_84_lacks_nor_the_83_forms(seed):
    runbook = (seed / "RUNBOOK.md").read_text()
    assert "drbdadm wait-sync" not in runbook
    assert "drbdadm -- --discard-my-data" not in runbook
    assert "drbdadm connect --discard-my-data drbd0" in runbook


def test_the_cman_bring_up_follows_the_dependencies(seed):
    runbook = (seed / "RUNBOOK.md").read_text()
    bring_up = runbook[: runbook.index("\n## After a reboot")]
    steps = [
        "chkconfig drbd off",
        "chkconfig cman off",
        "chkconfig rgmanager off",
        "drbdadm create-md drbd0",
        "drbdadm up drbd0",
        "service cman start",  # the fence handler needs cman before any Primary
        "drbdadm -- --overwrite-data-of-peer primary drbd0",
        'until [ "$(drbdadm dstate drbd0)" = UpToDate/UpToDate ]',
        "drbdadm primary drbd0",
        "service clvmd start",
        "pvcreate /dev/drbd1",
        "vgcreate -cy volnode05 /dev/drbd1",
        "lvcreate -n aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr -L 20G volnode05",
        "virsh define /etc/libvirt/qemu/aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr.xml",
        "virsh autostart --disable aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr",
        "service rgmanager start",  # the VMs have autostart: only once their disks exist
        "check_drbd --role dual-primary",
    ]
    positions = _positions(bring_up, steps)
    assert positions == sorted(positions), [s for p, s in sorted(zip(positions, steps))]
    # every vgcreate before rgmanager, every Primary after cman
    rgmanager = bring_up.index("service rgmanager start")
    cman = bring_up.index("service cman start")
    for res in ("drbd0", "drbd1", "drbd2"):
        assert bring_up.index(f"primary {res}") > cman
    for vg in ("volimages", "volnode05", "volnode06"):
        assert bring_up.index(f"vgcreate -cy {vg} ") < rgmanager


def test_the_cman_runbook_restarts_the_stack_after_a_reboot_in_order(seed):
    after = _section((seed / "RUNBOOK.md").read_text(), "After a reboot")
    steps = [
        "modprobe drbd",
        "drbdadm up drbd1",
        "drbdadm wait-connect drbd1",
        'until [ "$(drbdadm dstate drbd2)" = UpToDate/UpToDate ]',
        "service cman start",
        "drbdadm primary drbd0",
        "service clvmd start",
        "vgchange -aly volimages volnode05 volnode06",
        "service rgmanager start",
    ]
    positions = _positions(after, steps)
    assert positions == sorted(positions)
    assert "service libvirt-guests" not in after


def test_the_split_brain_section_frees_lvm_and_the_vms_before_drbd(seed):
    section = _section((seed / "RUNBOOK.md").read_text(), "Split brain")
    drbd1 = section[section.index("### drbd1") : section.index("### drbd2")]
    steps = [
        f"# split brain on drbd1: {N06} is the victim",
        f"clusvcadm -r vm:aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr -m {N05}",
        "vgchange -aln volnode05",  # drbdadm secondary fails while the VG is active
        "drbdadm disconnect drbd1",
        "drbdadm secondary drbd1",
        "drbdadm connect --discard-my-data drbd1",
        f"# on {N05}: if it is StandAlone too",
        "drbdadm connect drbd1",
        "drbdadm wait-connect drbd1",
        "drbdadm primary drbd1",
        "vgchange -aly volnode05",
    ]
    positions = _positions(drbd1, steps)
    assert positions == sorted(positions)
    assert "clusvcadm -M" not in drbd1.replace("never clusvcadm -M", "")


def test_the_pacemaker_bring_up_follows_the_dependencies(pcmk):
    runbook = (pcmk / "RUNBOOK.md").read_text()
    bring_up = runbook[: runbook.index("\n## After a reboot")]
    steps = [
        "systemctl disable drbd corosync pacemaker",
        "drbdadm create-md vmdata01",
        "systemctl start corosync",
        "systemctl start pacemaker",
        "drbdadm primary --force vmdata01",
        "drbdadm wait-sync vmdata01",
        "vgcreate --shared vg_kvm01 /dev/drbd1",
        "lvcreate -n web01 -L 20G vg_kvm01",
        "vgchange --lockstop vg_kvm01 vg_kvm02",
        "virsh define /etc/libvirt/qemu/web01.xml",
        "sh pcs-setup.sh",
    ]
    positions = _positions(bring_up, steps)
    assert positions == sorted(positions)
    # the second node never goes Primary by hand: Pacemaker promotes it
    assert "drbdadm primary vmdata01" not in bring_up


def test_the_runbook_covers_a_vm_running_twice_and_failback(seed, pcmk):
    seed_text, pcmk_text = (seed / "RUNBOOK.md").read_text(), (pcmk / "RUNBOOK.md").read_text()
    twice = _section(seed_text, "A VM running on two nodes at once")
    assert f"# on {N06}\nvirsh destroy aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr" in twice
    failback = _section(seed_text, "Failover and failback")
    assert "clusvcadm -d vm:aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr\n" in failback
    assert f"clusvcadm -e vm:aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr -m {N06}" in failback
    assert f"clusvcadm -M vm:aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr -m {N06}" in failback
    assert "pcs resource cleanup vm-db01" in _section(pcmk_text, "Failover and failback")


# clusvcadm (rgmanager 3, RHEL 6; not packaged here): the forms the runbook may use, from its
# usage text: -d/-e/-r/-M/-R SERVICE, -e/-r/-M with -m MEMBER
CLUSVCADM = re.compile(r"^clusvcadm (?:-[dR] (\S+)|-[erM] (\S+)(?: -m (\S+))?)$")


def test_every_clusvcadm_line_names_a_vm_of_the_description_and_a_member(seed):
    runbook = (seed / "RUNBOOK.md").read_text()
    vms = {
        "vm:aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr",
        "vm:aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr",
    }
    lines = [
        line.split("   #")[0]
        for block in dry.code_blocks(runbook)
        for line in block
        if line.startswith("clusvcadm ")
    ]
    assert len(lines) >= 8, lines
    for line in lines:
        match = CLUSVCADM.match(line)
        assert match, line
        service = match.group(1) or match.group(2)
        assert service in vms, line
        assert match.group(3) in (None, N05, N06), line
