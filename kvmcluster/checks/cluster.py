"""check_cluster: quorum and membership, for cman (RHEL 6) and corosync + Pacemaker."""

from __future__ import annotations

import argparse

from kvmcluster.runtime.cli import guarded_main, plugin_parser, positive_int, start

NAME = "CLUSTER"

DESCRIPTION = """\
Checks the cluster's quorum and membership as this node sees them.

Live: cman_tool status + cman_tool nodes (+ fence_tool ls, dlm_tool ls where installed)
(cman stack), or corosync-quorumtool -s +
corosync-cfgtool -s + crm_mon --output-as=xml -1 (Pacemaker stack). Captured output of each
can be given instead (PATH or - for standard input); several captured files are merged.

states: CRITICAL not quorate or "Activity blocked"; the stack not running on this node;
                 a configured node offline, or quorate only through two_node / with a
                 voter missing (WARNING with --offline-warning), UNCLEAN (needs fencing)
                 or disallowed; fewer members than --expected-nodes; a peer that no
                 corosync link reaches, every ring FAULTY; a fencing action failed or
                 pending that no later success superseded; a cman fence domain or DLM
                 lockspace waiting (fencing, quorum, recovery: clustat, clvmd and
                 rgmanager block until it completes);
        WARNING  a node in standby, maintenance, shutting down or pending; no DC elected;
                 quorum disk offline, qdevice not voting; one corosync link (ring) of
                 several down; superseded failed fencing (stonith_admin --cleanup
                 --history); maintenance-mode or stop-all-resources; mixed Pacemaker
                 versions;
        UNKNOWN  output that cannot be read.
"""


def add_stack_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack",
        choices=("auto", "cman", "pacemaker"),
        default="auto",
        help="which stack's tools to run (default auto: cman when cman_tool is installed, "
        "else Pacemaker)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = plugin_parser(NAME, "check_cluster", DESCRIPTION)
    add_stack_option(parser)
    for option, what in (
        ("--cman-status-file", "captured `cman_tool status`"),
        ("--cman-nodes-file", "captured `cman_tool nodes`"),
        ("--clustat-file", "captured `clustat -x`"),
        ("--quorumtool-file", "captured `corosync-quorumtool -s`"),
        ("--crm-mon-file", "captured `crm_mon --output-as=xml -1` (or 1.1 `--as-xml`)"),
        ("--cfgtool-file", "captured `corosync-cfgtool -s` (knet links, corosync 2 rings)"),
        ("--fence-file", "captured `fence_tool ls` (cman 3)"),
        ("--group-file", "captured `group_tool ls` (cman 3, or the groupd table of -g1)"),
        ("--dlm-file", "captured `dlm_tool ls`"),
    ):
        parser.add_argument(option, metavar="PATH", help=what)
    parser.add_argument(
        "--offline-warning",
        action="store_true",
        help="an offline node is a WARNING, not CRITICAL (planned maintenance)",
    )
    parser.add_argument(
        "--expected-nodes",
        type=positive_int,
        metavar="N",
        help="CRITICAL when fewer nodes are members (default: the configured node list)",
    )
    return parser


def build_report(node, stack: str = "auto", *, sudo: bool = False, policy=None, **files):
    """files: cman_status_file, cman_nodes_file, clustat_file, quorumtool_file, crm_mon_file,
    cfgtool_file, fence_file, group_file, dlm_file."""
    from kvmcluster.rules.cluster import ClusterPolicy, evaluate
    from kvmcluster.sources.cluster import load_cluster_status

    status = load_cluster_status(node, stack, sudo=sudo, **files)
    return evaluate(status, policy or ClusterPolicy())


def _run(argv: list[str] | None) -> None:
    from kvmcluster.rules.cluster import ClusterPolicy
    from kvmcluster.runtime.nagios import build_check

    args = build_parser().parse_args(argv)
    node = start(args)
    policy = ClusterPolicy(args.offline_warning, args.expected_nodes)

    def build():
        return build_report(
            node,
            args.stack,
            sudo=args.sudo,
            policy=policy,
            cman_status_file=args.cman_status_file,
            cman_nodes_file=args.cman_nodes_file,
            clustat_file=args.clustat_file,
            quorumtool_file=args.quorumtool_file,
            crm_mon_file=args.crm_mon_file,
            cfgtool_file=args.cfgtool_file,
            fence_file=args.fence_file,
            group_file=args.group_file,
            dlm_file=args.dlm_file,
        )

    build_check(NAME, "nodes", build).main(verbose=args.verbose, timeout=args.timeout)


def main(argv: list[str] | None = None) -> None:
    guarded_main(NAME, _run, argv)


if __name__ == "__main__":
    main()
