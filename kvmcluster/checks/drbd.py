"""check_drbd: DRBD replication health (8.x /proc/drbd, DRBD 9 drbdsetup JSON or events2)."""

from __future__ import annotations

import argparse

from kvmcluster.runtime.cli import guarded_main, plugin_parser, start

NAME = "DRBD"

DESCRIPTION = """\
Checks DRBD replication on this node: connection, disk states, roles, resync progress,
out-of-sync data, quorum and suspended I/O.

Without an input option it reads /proc/drbd and, on DRBD 9, runs
`drbdsetup status --json --statistics` (falling back to `drbdsetup events2 --now`).
Captured output can be given instead (PATH or - for standard input), also the text of
`drbdadm status` as pasted (--status-file).

states: CRITICAL not connected (StandAlone: possible split brain), disk Diskless/Failed/
        Outdated/DUnknown or Inconsistent without resync, quorum lost, I/O suspended,
        role not as expected, resource configured but not up, module not loaded;
        with --libvirt: not Primary, Diskless or suspended under VMs running here (a
        resource in trouble names the VMs on its VG);
        WARNING resync/verify running (judged by --sync-*/--eta-* when given: OK inside
        the warning ranges), stalled (CRITICAL with --stalled-critical), out-of-sync data
        on a connected resource not resyncing (--oos-warning);
        UNKNOWN unreadable input or no resource at all.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = plugin_parser(NAME, "check_drbd", DESCRIPTION)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--proc-file", metavar="PATH", help="captured /proc/drbd (DRBD 8.x)")
    source.add_argument(
        "--json-file", metavar="PATH", help="captured `drbdsetup status --json --statistics`"
    )
    source.add_argument(
        "--events-file", metavar="PATH", help="captured `drbdsetup events2 --now --statistics`"
    )
    source.add_argument(
        "--status-file",
        metavar="PATH",
        help="the text of `drbdadm status` or `drbdsetup status [--verbose --statistics]`",
    )
    parser.add_argument(
        "-r",
        "--resource",
        action="append",
        default=[],
        metavar="NAME",
        help="check only this resource (name or minor number; repeatable)",
    )
    parser.add_argument(
        "-x",
        "--exclude",
        action="append",
        default=[],
        metavar="NAME",
        help="skip this resource (name or minor number; repeatable)",
    )
    parser.add_argument(
        "--role",
        choices=("any", "primary", "secondary", "dual-primary"),
        default="any",
        help="expected role: dual-primary = Primary here and on every peer (default any)",
    )
    parser.add_argument(
        "--oos-warning",
        metavar="RANGE",
        type=nagios_range("bytes"),
        default=None,
        help="out-of-sync bytes outside this Nagios range warn, on a connected resource that "
        "is not resyncing (sizes: 1073741824, 512M, 10G; default 0: any byte warns)",
    )
    parser.add_argument(
        "--oos-critical",
        metavar="RANGE",
        type=nagios_range("bytes"),
        default=None,
        help="out-of-sync bytes outside this Nagios range are critical (default none)",
    )
    parser.add_argument(
        "--sync-warning",
        metavar="RANGE",
        type=nagios_range("percent"),
        default=None,
        help="a running resync whose percent done is outside this Nagios range warns, inside "
        "it is OK (50: warns under 50%% done); without --sync-*/--eta-* every resync warns",
    )
    parser.add_argument(
        "--sync-critical",
        metavar="RANGE",
        type=nagios_range("percent"),
        default=None,
        help="a running resync whose percent done is outside this range is critical (10:)",
    )
    parser.add_argument(
        "--eta-warning",
        metavar="RANGE",
        type=nagios_range("seconds"),
        default=None,
        help="a running resync whose time left is outside this range warns (15m: more than "
        "15 minutes left; 90s, 15m, 2h, 1d or seconds)",
    )
    parser.add_argument(
        "--eta-critical",
        metavar="RANGE",
        type=nagios_range("seconds"),
        default=None,
        help="a running resync whose time left is outside this range is critical (2h)",
    )
    parser.add_argument(
        "--stalled-critical",
        action="store_true",
        help="a resync that makes no progress (stalled) is CRITICAL (default WARNING)",
    )
    parser.add_argument(
        "--libvirt",
        metavar="URI",
        help="the VMs running here (e.g. qemu:///system): a resource in trouble names the VMs "
        "on its VGs; not Primary, Diskless or suspended under them is CRITICAL",
    )
    parser.add_argument(
        "--pvs-file",
        metavar="PATH",
        help="captured `pvs` (which VG is on which DRBD device), with --libvirt (default: run pvs)",
    )
    parser.add_argument(
        "--drbd-conf",
        metavar="PATH",
        help="drbd.conf for resource names of minors and 'configured but not up' "
        "(default /etc/drbd.conf when checking live and it exists)",
    )
    return parser


def nagios_range(kind: str):
    """The type of a threshold option: a Nagios range whose numbers may carry units of `kind`
    ("bytes": 10G, "seconds": 15m, "percent": 50%), read by parsers.values.unit_range."""

    def read(text: str):
        from kvmcluster.parsers.values import unit_range
        from kvmcluster.runtime.np import nagiosplugin

        try:
            return nagiosplugin.Range(unit_range(text, kind))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"bad Nagios range {text!r}: {exc}") from None

    read.__name__ = f"{kind} range"  # argparse names the type in its message
    return read


def build_report(
    node,
    *,
    proc_file: str | None = None,
    json_file: str | None = None,
    events_file: str | None = None,
    drbd_conf: str | None = None,
    sudo: bool = False,
    policy=None,
    status_file: str | None = None,
    libvirt: str | None = None,
    pvs_file: str | None = None,
    views: list | None = None,
):
    """Source -> parser -> rules: the Report check_drbd prints (also used by status).
    views: hypervisor views already read (a capture's), instead of reading `libvirt`."""
    from kvmcluster.rules.drbd import DrbdPolicy, evaluate
    from kvmcluster.sources.drbd import load_configured_resources, load_drbd_status

    live = not (proc_file or json_file or events_file or status_file)
    status = load_drbd_status(node, proc_file, json_file, events_file, sudo, status_file)
    configured = load_configured_resources(node, drbd_conf, live)
    report = evaluate(status, policy or DrbdPolicy(), configured)
    if not (libvirt or views):
        return report
    from kvmcluster.rules.drbd import name_minors
    from kvmcluster.rules.drbd_vms import name_affected_vms, vms_by_resource
    from kvmcluster.sources.lvm import load_pvs

    named = name_minors(status, configured)
    if views is None:
        from kvmcluster.sources.libvirt import read_hypervisors

        views = read_hypervisors([(node.name, libvirt)], node.deadline)
    usage = vms_by_resource(named, load_pvs(node, pvs_file, sudo), views)
    return name_affected_vms(report, named, usage)


def _run(argv: list[str] | None) -> None:
    from kvmcluster.model.findings import State
    from kvmcluster.rules.drbd import DrbdPolicy
    from kvmcluster.runtime.nagios import build_check
    from kvmcluster.runtime.np import nagiosplugin

    args = build_parser().parse_args(argv)
    node = start(args)
    policy = DrbdPolicy(
        role=args.role,
        oos_warning=args.oos_warning if args.oos_warning is not None else nagiosplugin.Range("0"),
        oos_critical=args.oos_critical,
        include=args.resource,
        exclude=args.exclude,
        sync_warning=args.sync_warning,
        sync_critical=args.sync_critical,
        eta_warning=args.eta_warning,
        eta_critical=args.eta_critical,
        stalled_state=State.CRITICAL if args.stalled_critical else State.WARNING,
    )

    def build():
        return build_report(
            node,
            proc_file=args.proc_file,
            json_file=args.json_file,
            events_file=args.events_file,
            status_file=args.status_file,
            libvirt=args.libvirt,
            pvs_file=args.pvs_file,
            drbd_conf=args.drbd_conf,
            sudo=args.sudo,
            policy=policy,
        )

    check = build_check(NAME, "resources", build)
    check.main(verbose=args.verbose, timeout=args.timeout)


def main(argv: list[str] | None = None) -> None:
    guarded_main(NAME, _run, argv)


if __name__ == "__main__":
    main()
