"""check_vm_alloc: every VM runs exactly once, on its preferred node, on its node's VG."""

from __future__ import annotations

import argparse
import os
import re

from kvmcluster.runtime.cli import guarded_main, plugin_parser, start

NAME = "VM_ALLOC"
CLUSTER_CONF = "/etc/cluster/cluster.conf"

DESCRIPTION = """\
Compares three views of the VMs: where the cluster config wants them (cluster.conf failover
domains, or the location constraints of the Pacemaker CIB), where the cluster runs them
(clustat -x or crm_mon), and where the hypervisors run them (libvirt, read-only).

states: CRITICAL a VM active on two hypervisors at once; not running although it should;
                 outside its restricted domain; the cluster and libvirt disagree; crashed;
                 paused by an I/O error (the disk named);
                 the cluster's own config is wrong (not well-formed, unknown failover domain,
                 domain nodes that are not cluster nodes);
        WARNING  a VM failed over (runs on another node of its domain); disks on another
                 node's VG; a disk that is a local file; a VM no cluster resource manages;
                 paused;
        OK       a VM the cluster places on a node whose libvirt was not read: not
                 verified (said so);
        UNKNOWN  a libvirt URI that cannot be read (named with the error); libvirt-python
                 not installed (says what to install: python3-libvirt).
"""


def node_value(text: str) -> tuple[str, str]:
    """NODE=VALUE, with a host name libvirt and ssh can take as it is."""
    node, sep, value = text.partition("=")
    if not sep or not node or not value:
        raise argparse.ArgumentTypeError(f"expected NODE=VALUE, got {text!r}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", node):
        raise argparse.ArgumentTypeError(f"not a host name: {node!r}")
    return node, value


def build_parser() -> argparse.ArgumentParser:
    parser = plugin_parser(NAME, "check_vm_alloc", DESCRIPTION)
    parser.add_argument(
        "--stack",
        choices=("auto", "cman", "pacemaker"),
        default="auto",
        help="auto: cman when cluster.conf exists (or is given), else Pacemaker",
    )
    parser.add_argument(
        "--cluster-conf", metavar="PATH", help=f"rgmanager config (default {CLUSTER_CONF})"
    )
    parser.add_argument(
        "--cib-file", metavar="PATH", help="Pacemaker CIB (default: live `cibadmin -Q`)"
    )
    placement = parser.add_mutually_exclusive_group()
    placement.add_argument(
        "--clustat-file", metavar="PATH", help="where rgmanager runs the VMs (`clustat -x`)"
    )
    placement.add_argument(
        "--crm-mon-file", metavar="PATH", help="where Pacemaker runs the VMs (crm_mon XML)"
    )
    parser.add_argument(
        "--libvirt",
        action="append",
        default=[],
        type=node_value,
        metavar="NODE=URI",
        help="a hypervisor to read, e.g. node05=qemu+ssh://root@node05/system (repeatable; "
        "default: qemu:///system for this node)",
    )
    parser.add_argument(
        "--vg",
        action="append",
        default=[],
        type=node_value,
        metavar="NODE=VG",
        help="the volume group of each node's VMs, e.g. node05=volnode05 (repeatable)",
    )
    parser.add_argument(
        "--vm", action="append", default=[], metavar="NAME", help="check only this VM"
    )
    return parser


def default_libvirt(ssh: str | None, options: list[str] | None = None) -> list[tuple[str, str]]:
    """This node's hypervisor: qemu:///system, or qemu+ssh:// to the --ssh node, with the
    --ssh-option Port, User, IdentityFile and StrictHostKeyChecking=no that libvirt's ssh
    transport can carry (port, user, keyfile=, no_verify=1; `options` are the validated
    `Name=value` forms); the others stay in the monitoring user's ~/.ssh/config."""
    if not ssh:
        return [(os.uname().nodename, "qemu:///system")]
    from urllib.parse import quote

    user, _, host = ssh.rpartition("@")
    given = dict(option.split("=", 1) for option in options or [])
    user = given.get("User", user)
    port = f":{given['Port']}" if "Port" in given else ""
    query = []
    if "IdentityFile" in given:
        query.append("keyfile=" + quote(given["IdentityFile"], safe="/~"))
    if given.get("StrictHostKeyChecking", "").lower() == "no":
        query.append("no_verify=1")
    login = f"{user}@" if user else ""
    uri = f"qemu+ssh://{login}{host}{port}/system" + ("?" + "&".join(query) if query else "")
    return [(host.strip("[]"), uri)]


def _ssh_options(args) -> list[str]:
    from kvmcluster.sources.ssh_options import validate_options

    return validate_options(getattr(args, "ssh_option", None))


def _stack(node, args) -> str:
    if args.stack != "auto":
        return args.stack
    if args.cluster_conf or args.clustat_file:
        return "cman"
    if args.cib_file or args.crm_mon_file:
        return "pacemaker"
    return live_stack(node)


def live_stack(node) -> str:
    """cman when the checked node runs the Cluster Suite, else pacemaker (sources.cluster's
    detect_stack, the one every check uses)."""
    from kvmcluster.sources.cluster import detect_stack

    return "cman" if detect_stack(node) == "cman" else "pacemaker"


def build_report(node, stack: str, policy, **inputs):
    """Source -> parser -> rules: the Report check_vm_alloc prints (also used by status).
    `inputs`: those of sources.vm_alloc.load_vm_alloc."""
    from kvmcluster.rules.vm_alloc import broken_config, evaluate
    from kvmcluster.sources.vm_alloc import load_vm_alloc

    found = load_vm_alloc(node, stack, **inputs)
    if found.config_error:
        return broken_config(found.config_error)
    return evaluate(found.config, found.views, policy, found.services, found.cluster)


def _run(argv: list[str] | None) -> None:
    from kvmcluster.rules.vm_alloc import AllocPolicy
    from kvmcluster.runtime.nagios import build_check

    args = build_parser().parse_args(argv)
    node = start(args)
    policy = AllocPolicy(vgs=dict(args.vg), include=args.vm)

    def build():
        return build_report(
            node,
            _stack(node, args),
            policy,
            cluster_conf=args.cluster_conf or CLUSTER_CONF,
            cib_file=args.cib_file,
            clustat_file=args.clustat_file,
            crm_mon_file=args.crm_mon_file,
            libvirt=args.libvirt or default_libvirt(args.ssh, _ssh_options(args)),
            sudo=args.sudo,
            live_cluster_conf=args.cluster_conf is None,
        )

    build_check(NAME, "VMs", build).main(verbose=args.verbose, timeout=args.timeout)


def main(argv: list[str] | None = None) -> None:
    guarded_main(NAME, _run, argv)


if __name__ == "__main__":
    main()
