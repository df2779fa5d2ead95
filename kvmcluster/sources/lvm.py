"""LVM reports and configuration: captured files, or the LVM tools of this node."""

from __future__ import annotations

from kvmcluster.model.lvm import LvmConfig, LvmReport
from kvmcluster.parsers.lvm import (
    LVS_ARGV,
    PVS_ARGV,
    VGS_ARGV,
    parse_lvm_config,
    parse_lvs,
    parse_pvs,
    parse_vgs,
)
from kvmcluster.runtime.command import command_failure
from kvmcluster.sources.files import input_label, read_text

LVMCONFIG_ARGV = ["lvmconfig"]
DUMPCONFIG_ARGV = ["lvm", "dumpconfig"]  # lvm2 2.02 of RHEL 6 has no lvmconfig
QUIET = {"LVM_SUPPRESS_FD_WARNINGS": "1"}


def _captured_or_live(node, path, option, argv, parse, sudo):
    if path:
        return parse(read_text(path, option), input_label(path))
    result = node.run(argv, sudo=sudo, env=QUIET)
    return parse(result.stdout, " ".join(argv))


def load_lvm_report(node, vgs_file, pvs_file, lvs_file, sudo: bool) -> LvmReport:
    report = LvmReport(vgs_file or " ".join(VGS_ARGV))
    report.vgs = _captured_or_live(node, vgs_file, "--vgs-file", VGS_ARGV, parse_vgs, sudo)
    report.pvs = _captured_or_live(node, pvs_file, "--pvs-file", PVS_ARGV, parse_pvs, sudo)
    if lvs_file or not (vgs_file or pvs_file):
        report.lvs = _captured_or_live(node, lvs_file, "--lvs-file", LVS_ARGV, parse_lvs, sudo)
    return report


def load_pvs(node, pvs_file: str | None, sudo: bool) -> list:
    """The PVs alone (check_drbd --libvirt: which VG is on which DRBD device)."""
    return _captured_or_live(node, pvs_file, "--pvs-file", PVS_ARGV, parse_pvs, sudo)


def load_lvm_config(node, path: str | None, live: bool, sudo: bool) -> LvmConfig | None:
    if path:
        return parse_lvm_config(read_text(path, "--lvm-conf-file"), input_label(path))
    if not live:
        return None
    result = node.run(LVMCONFIG_ARGV, sudo=sudo, ok_codes=None, env=QUIET)
    if result.returncode != 0:
        result = node.run(DUMPCONFIG_ARGV, sudo=sudo, ok_codes=None, env=QUIET)
        if result.returncode != 0:
            raise command_failure(result, sudo=sudo)
    return parse_lvm_config(result.stdout, " ".join(result.argv))
