"""cman (RHEL 6 Cluster Suite): `cman_tool status` and `cman_tool nodes`."""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.cluster import ClusterNode, ClusterStatus
from kvmcluster.parsers.values import integer, parser

NOT_RUNNING = "Cannot open connection to cman"
_NODE_ROW = re.compile(
    r"^\s*(\d+)\s+([MXd])\s+(\d+)\s+(?:(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+)?(\S+)\s*$"
)
_HEADER = re.compile(r"^\s*Node\s+Sts\s+Inc\s+Joined\s+Name\s*$")
# `Key: value` of cman_tool status: words before the colon (a node row's time has colons too)
_STATUS_FIELD = re.compile(r"^([A-Za-z][A-Za-z ]*):(.*)$")


def _int(value: str | None, source: str, key: str) -> int | None:
    if value is None:
        return None
    m = re.match(r"\s*(\d+)", value)
    if not m:
        raise ParseError(source, f"{key}: expected a number, got {value[:30]!r}")
    return integer(m.group(1), source, None, key)


@parser("cman_tool status")
def parse_cman_status(text: str, source: str = "cman_tool status") -> ClusterStatus:
    if NOT_RUNNING in text:
        return ClusterStatus("cman", source, running=False, error=text.strip().splitlines()[0])
    fields: dict[str, str] = {}
    lines = text.splitlines()
    table: list[ClusterNode] | None = None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if _HEADER.match(line) and "Quorum" in fields:
            # cman_tool nodes after the status (as pcs 0.9 and admins join them): read too
            rest = "\n".join(lines[lineno - 1 :])
            table = parse_cman_nodes(rest, source=f"{source} (nodes)").nodes
            break
        m = _STATUS_FIELD.match(line)
        if not m:
            if "Quorum" in fields and "Expected votes" in fields:
                break  # another tool's section follows: the status holds what it holds
            raise ParseError(source, f"expected 'Key: value', got {line[:60]!r}", lineno)
        fields[m.group(1).strip()] = m.group(2).strip()
    if "Quorum" not in fields or "Expected votes" not in fields:
        raise ParseError(source, "no 'Quorum:' or 'Expected votes:' line: not cman_tool status")
    quorum = fields["Quorum"]
    blocked = "Activity blocked" in quorum
    local = fields.get("Node name")
    local_id = _int(fields.get("Node ID"), source, "Node ID")
    nodes = [ClusterNode(local, local_id, True, True)] if local else []
    if table is not None:
        for node in table:
            node.local = node.local or node.name == local
        nodes = table + [n for n in nodes if n.name not in {t.name for t in table}]
    return ClusterStatus(
        "cman",
        source,
        cluster_name=fields.get("Cluster Name", ""),
        quorate=not blocked,
        activity_blocked=blocked,
        expected_votes=_int(fields["Expected votes"], source, "Expected votes"),
        total_votes=_int(fields.get("Total votes"), source, "Total votes"),
        quorum_votes=_int(quorum, source, "Quorum"),
        flags=fields.get("Flags", "").split(),
        member_count=_int(fields.get("Nodes"), source, "Nodes"),
        nodes=nodes,
        nodes_are_configured=table is not None,
    )


@parser("cman_tool nodes")
def parse_cman_nodes(text: str, source: str = "cman_tool nodes") -> ClusterStatus:
    if NOT_RUNNING in text:
        return ClusterStatus("cman", source, running=False, error=text.strip().splitlines()[0])
    nodes = []
    seen_header = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if _HEADER.match(line):
            seen_header = True
            continue
        m = _NODE_ROW.match(line)
        if not m:
            raise ParseError(source, f"not a cman_tool nodes row: {line[:60]!r}", lineno)
        node_id, sts, _inc, _joined, name = m.groups()
        number = integer(node_id, source, lineno, "node id")
        nodes.append(
            ClusterNode(
                name,
                number,
                member=sts == "M",
                disallowed=sts == "d",
                qdisk=number == 0,
            )
        )
    if not seen_header:
        raise ParseError(source, "no 'Node  Sts   Inc   Joined   Name' header")
    return ClusterStatus("cman", source, nodes=nodes, nodes_are_configured=True)
