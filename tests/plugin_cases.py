"""Every plugin on every capture and fixture it reads: the argument lists that
tests/test_distro_libs.py runs on two nagiosplugin versions and tests/test_package.py runs
from the installed package. Built from the file names (`<command>_<scenario>.<ext>`), so a
new fixture is covered without editing this list."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parent.parent
FIXTURES = REPO / "tests" / "fixtures"
CAPTURES = REPO / "examples" / "captures"

PLUGINS = (
    "check_drbd",
    "check_cluster",
    "check_cluster_services",
    "check_cluster_daemons",
    "check_vm_alloc",
    "check_cluster_lvm",
)


def _entry_points() -> dict[str, str]:
    """command -> the module whose main() its console script runs, as setup.cfg declares them."""
    import configparser

    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    found = {}
    for line in config["options.entry_points"]["console_scripts"].strip().splitlines():
        command, _, target = (part.strip() for part in line.partition("="))
        found[command] = target.partition(":")[0]
    return found


ENTRY_POINTS = _entry_points()

# fixture prefix -> (plugin, option) pairs that read it alone
_BY_PREFIX = {
    "proc-drbd": [("check_drbd", "--proc-file")],
    "drbdsetup-status-json": [("check_drbd", "--json-file")],
    "drbdsetup-events2": [("check_drbd", "--events-file")],
    "corosync-quorumtool": [("check_cluster", "--quorumtool-file")],
    "crm-mon": [("check_cluster", "--crm-mon-file"), ("check_cluster_services", "--crm-mon-file")],
    "clustat-x": [("check_cluster_services", "--clustat-file")],
    "ps": [("check_cluster_daemons", "--ps-file")],
    "vgs": [("check_cluster_lvm", "--vgs-file")],
}


def _capture_cases(capture: Path) -> list[tuple[str, list[str]]]:
    f = {p.name: str(p) for p in capture.iterdir()}
    vgs = [
        arg
        for line in Path(f["vg-map.txt"]).read_text().split()
        if "=" in line
        for arg in ("--vg", line)
    ]
    libvirt = [
        arg
        for name in sorted(f)
        if name.startswith("libvirt-") and name.endswith(".xml")
        for arg in ("--libvirt", f"{name[len('libvirt-') : -len('.xml')]}=test://{f[name]}")
    ]
    cases = [
        ("check_drbd", ["--proc-file", f["proc-drbd.txt"], "--drbd-conf", f["drbd.conf"], "-v"]),
        (
            "check_cluster",
            [
                "--cman-status-file",
                f["cman-tool-status.txt"],
                "--cman-nodes-file",
                f["cman-tool-nodes.txt"],
                "--clustat-file",
                f["clustat.xml"],
                "-v",
            ],
        ),
        ("check_cluster_services", ["--clustat-file", f["clustat.xml"], "-v"]),
        (
            "check_cluster_daemons",
            ["--ps-file", f["ps.txt"], "--uptime-file", f["uptime.txt"], "-v"],
        ),
        (
            "check_vm_alloc",
            ["--cluster-conf", f["cluster.conf"], "--clustat-file", f["clustat.xml"], "-v"]
            + vgs
            + libvirt,
        ),
        (
            "check_cluster_lvm",
            [
                "--vgs-file",
                f["vgs.txt"],
                "--pvs-file",
                f["pvs.txt"],
                "--lvm-conf-file",
                f["lvmconfig.txt"],
                "--drbd-conf",
                f["drbd.conf"],
                "-v",
            ],
        ),
        ("kvmcluster", ["status", "--from", str(capture), "--no-color"]),
        ("kvmcluster", ["status", "--from", str(capture), "--json"]),
        (
            "kvmcluster",
            ["lint", "--cluster-conf", f["cluster.conf"], "--drbd-conf", f["drbd.conf"]],
        ),
    ]
    return cases


def cases() -> list[tuple[str, list[str]]]:
    """(command, arguments) for every capture in examples/captures and every fixture, and a
    bad option for every plugin."""
    found: list[tuple[str, list[str]]] = [(plugin, ["--no-such-option"]) for plugin in PLUGINS]
    found += [("check_drbd", ["-V"]), ("kvmcluster", ["-V"]), ("kvmcluster", ["lint"])]
    for capture in sorted(p for p in CAPTURES.iterdir() if p.is_dir()):
        found += _capture_cases(capture)
    for path in sorted(FIXTURES.iterdir()):
        prefix = path.name.split("_", 1)[0]
        for plugin, option in _BY_PREFIX.get(prefix, []):
            found.append((plugin, [option, str(path), "-v"]))
        crm_mon = FIXTURES / path.name.replace("cib_", "crm-mon_", 1)
        if prefix == "cib" and crm_mon.exists():  # a CIB with the crm_mon of the same state
            found.append(
                (
                    "check_cluster_services",
                    ["--cib-file", str(path), "--crm-mon-file", str(crm_mon)],
                )
            )
    return found


def case_id(case: tuple[str, list[str]]) -> str:
    command, args = case
    files = [Path(a.split("=", 1)[-1]).name for a in args if "/" in a]
    return (
        f"{command}:{files[0] if files else '-'}:{' '.join(a for a in args if a.startswith('--'))}"
    )


_NOW = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[+-]\d{4})?")


def comparable(result: tuple[int, str, str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) with the time of the run (status prints it) masked."""
    code, out, err = result
    return code, _NOW.sub("<now>", out), _NOW.sub("<now>", err)
