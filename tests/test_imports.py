"""A plugin runs every minute on every node: heavy modules only where the check needs them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.plugin_runner import fixture, plugin_command

HEAVY = ("lxml", "psutil", "libvirt")
# Standard modules nagiosplugin or argparse would load for nothing (runtime.np, runtime.cli).
AVOIDED = ("logging", "traceback", "shutil", "json", "tempfile")

CASES = [
    (["check_drbd", "--proc-file", fixture("proc-drbd_84-dual-primary-ok.txt")], set()),
    (["check_drbd", "--json-file", fixture("drbdsetup-status-json_9-ok.json")], set()),
    (["check_cluster", "--crm-mon-file", fixture("crm-mon_seed-healthy.xml")], set()),
    (
        ["check_cluster", "--cman-status-file", fixture("cman-tool-status_quorate-two-node.txt")],
        set(),
    ),
    (["check_cluster_services", "--clustat-file", fixture("clustat-x_411-all-started.xml")], set()),
    (["check_cluster_daemons", "--ps-file", fixture("ps_rhcs-node-all-running.txt")], set()),
    (["check_cluster_daemons", "--profile", "libvirt"], {"psutil"}),
    (
        [
            "check_cluster_lvm",
            "--vgs-file",
            fixture("vgs_rhel6-clustered-on-drbd.txt"),
            "--pvs-file",
            fixture("pvs_rhel6-clustered-on-drbd.txt"),
        ],
        set(),
    ),
    (
        [
            "check_vm_alloc",
            "--cluster-conf",
            fixture("cluster-conf_seed-fixed.conf"),
            "--clustat-file",
            fixture("clustat-x_411-all-started.xml"),
            "--libvirt",
            "node05=test:///nonexistent.xml",
        ],
        {"lxml", "libvirt"},
    ),
]


@pytest.mark.parametrize("argv, needed", CASES, ids=[" ".join(c[0][:2]) for c in CASES])
def test_heavy_modules_are_imported_only_where_needed(argv, needed):
    script = plugin_command(argv[0])[0]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", script, *argv[1:]], capture_output=True, text=True
    )
    assert proc.returncode in (0, 1, 2, 3), proc.stdout + proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    top = {name.split(".")[0] for name in imported}
    assert {h for h in HEAVY if h in top} == needed, sorted(h for h in HEAVY if h in top)
    if not needed and "--json-file" not in argv:
        assert not {a for a in AVOIDED if a in top}, sorted(a for a in AVOIDED if a in top)
