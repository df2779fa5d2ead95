"""check_cluster_services: rgmanager services and VMs, Pacemaker resources."""

from __future__ import annotations

import argparse

from kvmcluster.checks.cluster import add_stack_option
from kvmcluster.runtime.cli import guarded_main, plugin_parser, positive_int, start

NAME = "SERVICES"

DESCRIPTION = """\
Checks the state of the services and VMs the cluster manages: rgmanager groups from
`clustat -x`, or Pacemaker resources from `crm_mon --output-as=xml -1` (with the location
constraints of `cibadmin -Q`). Captured output can be given instead (PATH or -).

rgmanager: started OK; starting, stopping, migrating, checking, recovering, stopped,
           disabled (unless --ignore-disabled, or autostart="0" in cluster.conf: OK,
           disabled on purpose), frozen or partial WARNING; failed, recoverable,
           uninitialized CRITICAL.
Pacemaker: failed or blocked CRITICAL; stopped although it should run CRITICAL; a primitive
           active on several nodes at once CRITICAL; a resource on an UNCLEAN node CRITICAL
           (its state is unknown); a promotable clone promoted on fewer nodes than
           --promoted (default: its promoted-max in the CIB) CRITICAL; stopped by
           target-role (unless --ignore-disabled) or by stop-all-resources, unmanaged,
           orphaned but active, a failure ignored, fail-count >= --failcount-warning or one
           below migration-threshold, failed actions, leftover cli-ban/cli-prefer
           constraints, a bundle replica stopped, a fencing device stopped because its
           nodes are offline/standby, a ticket revoked or in standby, stonith-enabled=false
           with VMs or dual-primary DRBD WARNING.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = plugin_parser(NAME, "check_cluster_services", DESCRIPTION)
    add_stack_option(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--clustat-file", metavar="PATH", help="captured `clustat -x`")
    source.add_argument(
        "--crm-mon-file", metavar="PATH", help="captured `crm_mon --output-as=xml -1`"
    )
    parser.add_argument(
        "--cib-file",
        metavar="PATH",
        help="captured `cibadmin -Q`, for leftover cli-ban/cli-prefer constraints "
        "(with --crm-mon-file)",
    )
    parser.add_argument(
        "-s",
        "--service",
        action="append",
        default=[],
        metavar="NAME",
        help="check only this service/resource (vm:NAME, service:NAME or NAME; repeatable)",
    )
    parser.add_argument(
        "-x",
        "--exclude",
        action="append",
        default=[],
        metavar="NAME",
        help="skip this service/resource (repeatable)",
    )
    parser.add_argument(
        "--cluster-conf",
        metavar="PATH",
        help='cluster.conf: rgmanager services and VMs with autostart="0" are disabled on '
        "purpose (OK) (default /etc/cluster/cluster.conf when checking live and it exists)",
    )
    parser.add_argument(
        "--ignore-disabled",
        action="store_true",
        help="services disabled on purpose (rgmanager disabled, target-role Stopped) are OK",
    )
    parser.add_argument(
        "--failcount-warning",
        type=positive_int,
        default=1,
        metavar="N",
        help="WARNING at this Pacemaker fail-count (default %(default)s)",
    )
    parser.add_argument(
        "--promoted",
        type=positive_int,
        default=None,
        metavar="N",
        help="promotable clones (DRBD) must be promoted on N nodes; dual-primary needs 2 "
        "(default: the clone's promoted-max in the CIB, with --cib-file or live; else 1)",
    )
    return parser


def build_report(node, stack: str = "auto", *, sudo: bool = False, policy=None, **files):
    """files: clustat_file, crm_mon_file, cib_file, cluster_conf."""
    from kvmcluster.rules.services import ServicesPolicy, evaluate
    from kvmcluster.sources.cluster import load_services

    status = load_services(node, stack, sudo=sudo, **files)
    return evaluate(status, policy or ServicesPolicy())


def _run(argv: list[str] | None) -> None:
    from kvmcluster.rules.services import ServicesPolicy
    from kvmcluster.runtime.nagios import build_check

    args = build_parser().parse_args(argv)
    node = start(args)
    policy = ServicesPolicy(
        args.service, args.exclude, args.ignore_disabled, args.failcount_warning, args.promoted
    )

    def build():
        return build_report(
            node,
            args.stack,
            sudo=args.sudo,
            policy=policy,
            clustat_file=args.clustat_file,
            crm_mon_file=args.crm_mon_file,
            cib_file=args.cib_file,
            cluster_conf=args.cluster_conf,
        )

    build_check(NAME, "services", build).main(verbose=args.verbose, timeout=args.timeout)


def main(argv: list[str] | None = None) -> None:
    guarded_main(NAME, _run, argv)


if __name__ == "__main__":
    main()
