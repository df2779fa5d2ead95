"""check_cluster_lvm --libvirt: a hypervisor that cannot be read is said, not taken for a
node that runs no VM (its LVs would then go unchecked in silence)."""

from __future__ import annotations

from tests.plugin_runner import fixture, run_plugin

LVM = [
    "--vgs-file",
    fixture("vgs_rhel6-clustered-on-drbd.txt"),
    "--pvs-file",
    fixture("pvs_rhel6-clustered-on-drbd.txt"),
]


def test_libvirt_that_cannot_be_read_is_unknown_naming_the_uri(tmp_path):
    missing = tmp_path / "no-such-node.xml"
    run = run_plugin("check_cluster_lvm", *LVM, "--libvirt", f"test://{missing}", "-t", "10")
    assert run.returncode == 3, run
    assert run.first_line.startswith(f"LVM UNKNOWN - libvirt test://{missing}: "), run
    assert run.first_line.endswith("the LVs of running VMs were not checked"), run
    assert run.perf("volnode05_free") == 2147483648  # the VGs are still reported


def test_without_libvirt_the_same_vgs_are_ok():
    run = run_plugin("check_cluster_lvm", *LVM)
    assert (run.returncode, run.first_line) == (0, "LVM OK - 3 volume groups on DRBD OK")
