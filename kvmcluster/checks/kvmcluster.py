"""check_kvmcluster: the cluster view (`kvmcluster status --cluster`) as a plugin for the
cluster host object: every node read at once, and what only a view across nodes sees."""

from __future__ import annotations

from kvmcluster.runtime.cli import guarded_main, plugin_parser

NAME = "KVMCLUSTER"

DESCRIPTION = """\
Reads every node of the cluster at once (this node locally, the others over SSH, one
connection and one -t deadline each, in parallel), or one capture per node (--from), and
judges what no per-node check can see: a DRBD split brain with both sides written, the two
sides of a resource disagreeing, a VM running on two nodes, a split cluster, configuration
drift between the nodes.

The nodes: --node NAME[=[USER@]HOST[:PORT]] (repeatable), else the nodes of this node's (or
the --ssh node's) cluster.conf, CIB or corosync.conf.

states: the worst cluster finding, the worst area of every node read, and at least WARNING
        when a node could not be read (the view is incomplete; the first line names it);
        UNKNOWN on bad arguments, an unreadable capture, or no node read at all.
perfdata: NODE_AREA=0..3 per node and area (3 for a node not read), nodes_reachable.
"""


class _Expired(BaseException):
    pass


def build_parser():
    from kvmcluster.checks.vm_alloc import node_value
    from kvmcluster.view.read import node_arg

    parser = plugin_parser(NAME, "check_kvmcluster", DESCRIPTION)
    parser.add_argument(
        "--node",
        action="append",
        type=node_arg,
        metavar="NAME[=[USER@]HOST[:PORT]]",
        help="a node to read (repeatable; default: the nodes the cluster configuration names)",
    )
    parser.add_argument(
        "--from",
        dest="from_",
        action="append",
        metavar="CAPTURE",
        help="a node's capture (kvmcluster collect), repeatable; or one collect --cluster capture",
    )
    parser.add_argument(
        "--libvirt",
        action="append",
        type=node_value,
        metavar="NODE=URI",
        help="the hypervisor of NODE (default: qemu+ssh:// to the node, its own connection)",
    )
    return parser


def perf_label(text: str) -> str:
    """A perfdata label from a node's name (data from a capture): escaped, no `|`, quoted
    when it holds a space, `=` or a quote (a quote doubled, as the plugin guidelines say)."""
    from kvmcluster.output.perfdata import label_text

    label = label_text(text)
    return f"'{label}'" if any(ch in label for ch in " ='") else label


def perfdata(readings) -> str:
    from kvmcluster.status import AREAS

    values = []
    for reading in readings:
        for key, _title, _noun in AREAS:
            label = perf_label(f"{reading.name}_{key}")
            if not reading.reachable:
                values.append(f"{label}=3;1;2;0;3")
                continue
            area = next((a for a in reading.areas if a["name"] == key), None)
            if area is not None and area.get("captured"):
                values.append(f"{label}={int(area['report'].state)};1;2;0;3")
    reachable = sum(1 for r in readings if r.reachable)
    values.append(f"nodes_reachable={reachable};;;0;{len(readings)}")
    return " ".join(values)


def _run(argv: list[str] | None) -> None:
    import signal

    from kvmcluster.errors import KvmclusterError
    from kvmcluster.model.findings import State, printable
    from kvmcluster.output.cluster_view import headline

    args = build_parser().parse_args(argv)

    def expired(signum, frame):
        raise _Expired

    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, args.timeout + 1.0)  # each node has its own -t
    try:
        from kvmcluster.view.run import read_view

        readings, correlations, _source = read_view(args)
        state, text = headline(readings, correlations)
    except KvmclusterError as exc:
        print(f"{NAME} UNKNOWN - {printable(str(exc)).replace('|', '/')}")
        raise SystemExit(3) from None
    except _Expired:
        print(f"{NAME} UNKNOWN - no result within {args.timeout}s (raise -t if the nodes are slow)")
        raise SystemExit(3) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    lines = [f"{NAME} {state.name} - {text.replace('|', '/')} | {perfdata(readings)}"]
    if args.verbose:
        for finding in sorted(correlations, key=lambda k: -k.state.severity):
            if finding.state == State.OK and args.verbose < 2:
                continue
            items = f" ({', '.join(finding.items)})" if finding.items else ""
            line = f"{finding.state.name} {finding.kind}: {finding.reason}{items}"
            lines.append(printable(line).replace("|", "/"))
        for reading in readings:
            if not reading.reachable:
                line = f"UNKNOWN node {reading.name} not read: {reading.error}"
                lines.append(printable(line).replace("|", "/"))
    print("\n".join(lines))
    raise SystemExit(int(state))


def main(argv: list[str] | None = None) -> None:
    guarded_main(NAME, _run, argv)


if __name__ == "__main__":
    main()
