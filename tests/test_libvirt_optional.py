"""libvirt-python is optional (issue 20): a node without it runs every check that does not
read a hypervisor, and those that do say in one UNKNOWN line what to install."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys

import pytest

from tests.plugin_cases import CAPTURES, ENTRY_POINTS, REPO

HEALTHY = CAPTURES / "healthy"
NODE05 = "node05.c01.cloud.agarik.com"
LIBVIRT05 = f"{NODE05}=test://{HEALTHY / f'libvirt-{NODE05}.xml'}"

# what Python does where libvirt-python is not installed
WITHOUT_LIBVIRT = """
import sys
class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name == "libvirt" or name.startswith("libvirt."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NotInstalled())
sys.argv[0] = COMMAND
from ENTRY import main
main()
"""


def run_without_libvirt(command: str, *args: str) -> subprocess.CompletedProcess:
    code = WITHOUT_LIBVIRT.replace("COMMAND", repr(command)).replace("ENTRY", ENTRY_POINTS[command])
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )


def assert_says_what_to_install(proc: subprocess.CompletedProcess, name: str) -> None:
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stderr == ""  # no thread traceback
    assert proc.stdout.count("\n") == 1, proc.stdout
    assert proc.stdout.startswith(
        f"{name} UNKNOWN - libvirt-python is not installed (No module named 'libvirt'): "
        "install the python3-libvirt package (Debian, Ubuntu, RHEL, Rocky), "
        "or pip install 'kvmcluster[libvirt]' in a venv"
    ), proc.stdout


def test_check_vm_alloc_without_libvirt_says_what_to_install():
    proc = run_without_libvirt(
        "check_vm_alloc",
        "--cluster-conf",
        str(HEALTHY / "cluster.conf"),
        "--clustat-file",
        str(HEALTHY / "clustat.xml"),
        "--libvirt",
        LIBVIRT05,
    )
    assert_says_what_to_install(proc, "VM_ALLOC")


def test_check_cluster_lvm_with_libvirt_but_without_libvirt_python_says_what_to_install():
    proc = run_without_libvirt(
        "check_cluster_lvm",
        "--vgs-file",
        str(HEALTHY / "vgs.txt"),
        "--pvs-file",
        str(HEALTHY / "pvs.txt"),
        "--libvirt",
        f"test://{HEALTHY / f'libvirt-{NODE05}.xml'}",
    )
    assert_says_what_to_install(proc, "LVM")


@pytest.mark.parametrize(
    "command, args",
    [
        ("check_drbd", ["--proc-file", str(HEALTHY / "proc-drbd.txt")]),
        (
            "check_cluster_lvm",
            ["--vgs-file", str(HEALTHY / "vgs.txt"), "--pvs-file", str(HEALTHY / "pvs.txt")],
        ),
    ],
)
def test_checks_that_read_no_hypervisor_run_without_libvirt(command, args):
    proc = run_without_libvirt(command, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "libvirt" not in proc.stdout + proc.stderr


def test_libvirt_python_is_an_extra_not_a_requirement():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    requires = config["options"]["install_requires"].split()
    extras = config["options.extras_require"]
    assert not [r for r in requires if r.startswith("libvirt")]
    assert extras["libvirt"].split() == ["libvirt-python"]
    assert "libvirt-python" in extras["test"].split()  # the tests use libvirt's test driver
