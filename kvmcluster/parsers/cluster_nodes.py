"""The cluster's node names from its configuration (the cluster view's node discovery):
cluster.conf `<clusternodes>`, the CIB's `<nodes>` (`cibadmin -Q`), corosync.conf's `nodelist`.
Pure: text in, names out, in the order the file gives them, each once. The names are data
from a file: the caller validates them before using one as a host to connect to."""

from __future__ import annotations

from kvmcluster.parsers.values import parser


def _unique(names) -> list[str]:
    out: list[str] = []
    for name in names:
        name = (name or "").strip()
        if name and name not in out:
            out.append(name)
    return out


@parser("/etc/cluster/cluster.conf")
def nodes_from_cluster_conf(text: str, source: str = "/etc/cluster/cluster.conf") -> list[str]:
    from kvmcluster.parsers.cluster_conf import parse_cluster_conf

    return _unique(parse_cluster_conf(text, source).nodes)


@parser("cibadmin -Q")
def nodes_from_cib(text: str, source: str = "cibadmin -Q") -> list[str]:
    from kvmcluster.parsers.xmltext import parse_xml

    root = parse_xml(text, source, ("cib", "nodes"))
    nodes = root if root.tag == "nodes" else root.find("configuration/nodes")
    found = nodes.iterfind("node") if nodes is not None else []
    return _unique(node.get("uname") for node in found)


@parser("/etc/corosync/corosync.conf")
def nodes_from_corosync_conf(text: str, source: str = "/etc/corosync/corosync.conf") -> list[str]:
    """Each `node {}` of the nodelist by its `name` (else its ring0_addr)."""
    from kvmcluster.parsers.corosync_conf import parse_corosync_conf

    root = parse_corosync_conf(text, source)
    names = []
    for nodelist in root.all("nodelist"):
        for node in nodelist.all("node"):
            value = node.values.get("name") or node.values.get("ring0_addr")
            names.append(value[0] if value else "")
    return _unique(names)
