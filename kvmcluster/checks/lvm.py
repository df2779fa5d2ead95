"""check_cluster_lvm: the LVM layer on top of DRBD."""

from __future__ import annotations

import argparse

from kvmcluster.runtime.cli import guarded_main, plugin_parser, start

NAME = "LVM"

DESCRIPTION = """\
Checks the volume groups on DRBD: built on the DRBD devices (never on their backing disks),
clustered or shared when DRBD is dual-primary, with the LVM locking to match, no PV missing,
enough free space, and an LVM filter that keeps the backing disks out of LVM's scan.

Live: vgs, pvs, lvs (--noheadings --separator '|' --units b --nosuffix) and lvmconfig (or
`lvm dumpconfig` on RHEL 6); /etc/drbd.conf for the backing devices. Captured output can be
given instead (PATH or -).

states: CRITICAL an expected VG missing; a PV that is a DRBD backing device; a VG on
                 dual-primary DRBD neither clustered nor shared; clustered/shared VGs without
                 locking_type = 3 / use_lvmlockd = 1; a PV missing;
        WARNING  no filter rejecting the DRBD backing devices (the line to add is given);
                 free space under -w/-c; an LV of a VM running here not active.
"""


def parse_free_limit(text: str):
    """`10%` or `20G` (parsers.values.free_space: a bare number is refused) as a FreeLimit."""
    from kvmcluster.parsers.values import free_space
    from kvmcluster.rules.lvm import FreeLimit

    percent, size = free_space(text)
    return FreeLimit(text, percent=percent, size=size)


def free_limit(text: str):
    try:
        return parse_free_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = plugin_parser(NAME, "check_cluster_lvm", DESCRIPTION)
    parser.add_argument(
        "--vg",
        action="append",
        default=[],
        metavar="NAME",
        help="check this VG (repeatable; default: every VG whose PVs are DRBD devices)",
    )
    parser.add_argument(
        "-w",
        "--warning",
        type=free_limit,
        metavar="FREE",
        help="WARNING when a VG has less free space (10%%, 20G, 512M; a bare number is refused)",
    )
    parser.add_argument(
        "-c",
        "--critical",
        type=free_limit,
        metavar="FREE",
        help="CRITICAL when a VG has less free space (5%%, 10G)",
    )
    for option, what in (
        ("--vgs-file", "captured vgs"),
        ("--pvs-file", "captured pvs"),
        ("--lvs-file", "captured lvs"),
        ("--lvm-conf-file", "lvm.conf or lvmconfig output"),
    ):
        parser.add_argument(option, metavar="PATH", help=what)
    parser.add_argument(
        "--drbd-conf",
        metavar="PATH",
        help="drbd.conf for the backing devices (default /etc/drbd.conf when checking live)",
    )
    parser.add_argument(
        "--libvirt",
        metavar="URI",
        help="read this node's running VMs (e.g. qemu:///system) to check their LVs are active",
    )
    return parser


def build_report(
    node,
    *,
    vgs_file: str | None = None,
    pvs_file: str | None = None,
    lvs_file: str | None = None,
    lvm_conf_file: str | None = None,
    drbd_conf: str | None = None,
    libvirt: str | None = None,
    sudo: bool = False,
    policy=None,
):
    from kvmcluster.parsers.drbd_conf import backing_devices
    from kvmcluster.rules.lvm import LvmPolicy, evaluate
    from kvmcluster.sources.drbd import local_hostnames, node_drbd_conf
    from kvmcluster.sources.drbd_conf import read_drbd_conf
    from kvmcluster.sources.lvm import load_lvm_config, load_lvm_report

    live = not (vgs_file or pvs_file or lvs_file)
    report = load_lvm_report(node, vgs_file, pvs_file, lvs_file, sudo)
    config = load_lvm_config(node, lvm_conf_file, live, sudo)
    # an explicit --drbd-conf is a file here; live, the checked node's own (over --ssh too)
    drbd = read_drbd_conf(drbd_conf) if drbd_conf else node_drbd_conf(node) if live else None
    backing = backing_devices(drbd, local_hostnames(node)) if drbd else []
    policy = policy or LvmPolicy()
    if libvirt:
        from kvmcluster.sources.libvirt import read_hypervisors

        for view in read_hypervisors([("local", libvirt)], node.deadline):
            if view.error:
                policy.libvirt_error = f"libvirt {libvirt}: {view.error}"
            policy.vm_lvs += [
                d.source
                for dom in view.domains
                if dom.active
                for d in dom.disks
                if d.type == "block"
            ]
    return evaluate(report, config, backing, policy)


def _run(argv: list[str] | None) -> None:
    from kvmcluster.rules.lvm import LvmPolicy
    from kvmcluster.runtime.nagios import build_check

    args = build_parser().parse_args(argv)
    node = start(args)

    def build():
        return build_report(
            node,
            vgs_file=args.vgs_file,
            pvs_file=args.pvs_file,
            lvs_file=args.lvs_file,
            lvm_conf_file=args.lvm_conf_file,
            drbd_conf=args.drbd_conf,
            libvirt=args.libvirt,
            sudo=args.sudo,
            policy=LvmPolicy(args.vg, args.warning, args.critical),
        )

    build_check(NAME, "volume groups", build).main(verbose=args.verbose, timeout=args.timeout)


def main(argv: list[str] | None = None) -> None:
    guarded_main(NAME, _run, argv)


if __name__ == "__main__":
    main()
