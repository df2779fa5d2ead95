"""rgmanager's `clustat -x` (versions 4.0 of RHEL 5 and 4.1.1 of RHEL 6): quorum, nodes
(with the quorum disk) and service/VM groups."""

from __future__ import annotations

from kvmcluster.model.cluster import ClusterNode, ClusterStatus, Service, ServicesStatus
from kvmcluster.parsers.values import parser
from kvmcluster.parsers.xmltext import flag, number, parse_xml

# rgmanager's numeric states (resgroup.h, RG_STATE_BASE 110) for when state_str is missing.
RG_STATES = {
    110: "stopped",
    111: "starting",
    112: "started",
    113: "stopping",
    114: "failed",
    115: "uninitialized",
    116: "checking",
    117: "recoverable",
    118: "recovering",
    119: "disabled",
    120: "migrating",
}


@parser("clustat -x")
def parse_clustat(text: str, source: str = "clustat -x") -> tuple[ClusterStatus, ServicesStatus]:
    root = parse_xml(text, source, ("clustat",))
    cluster = root.find("cluster")
    quorum = root.find("quorum")
    nodes = []
    for element in root.iterfind("nodes/node"):
        nodes.append(
            ClusterNode(
                element.get("name", "?"),
                number(element, "nodeid", source),
                member=flag(element, "state"),
                local=flag(element, "local"),
                estranged=flag(element, "estranged"),
                qdisk=flag(element, "qdisk"),
            )
        )
    status = ClusterStatus(
        "cman",
        source,
        cluster_name=cluster.get("name", "") if cluster is not None else "",
        quorate=flag(quorum, "quorate") if quorum is not None else None,
        nodes=nodes,
        nodes_are_configured=True,
    )
    groups = root.find("groups")
    services = ServicesStatus(source, "rgmanager", running=groups is not None)
    if groups is None:
        services.error = "rgmanager not running: clustat -x lists no service groups"
    for element in groups if groups is not None else []:
        name = element.get("name", "?")
        kind = name.split(":", 1)[0] if ":" in name else "service"
        state = element.get("state_str") or RG_STATES.get(number(element, "state", source), "")
        flags = [f for f in (element.get("flags_str") or "").replace(",", " ").split() if f]
        owner = element.get("owner")
        last_owner = element.get("last_owner")
        services.services.append(
            Service(
                name,
                kind,
                state or f"state {element.get('state')}",
                owner=None if owner in (None, "none", "unknown") else owner,
                last_owner=None if last_owner in (None, "none", "unknown") else last_owner,
                flags=flags,
                restarts=number(element, "restarts", source) or 0,
                since=_since(element),
            )
        )
    return status, services


def _since(element) -> str:
    """last_transition_str, unless rgmanager never moved the group (the epoch)."""
    if (element.get("last_transition") or "0") == "0":
        return ""
    return element.get("last_transition_str", "")
