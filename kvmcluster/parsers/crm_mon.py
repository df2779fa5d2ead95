"""Pacemaker's `crm_mon --output-as=xml -1` (2.x, <pacemaker-result>) and the legacy
`crm_mon --as-xml` (1.1, <crm_mon>): quorum, DC, nodes, resources, fail-counts, failures."""

from __future__ import annotations

from kvmcluster.errors import ParseError
from kvmcluster.model.cluster import (
    ClusterNode,
    ClusterStatus,
    FailedAction,
    LocationConstraint,
    Service,
    ServicesStatus,
)
from kvmcluster.parsers.values import integer, parser
from kvmcluster.parsers.xmltext import check_depth, flag, number, parse_xml

NOT_CONNECTED = 102
PROMOTED_ROLES = ("Promoted", "Master")
ACTIVE_ROLES = ("Started", "Promoted", "Unpromoted", "Master", "Slave", "Migrating")


@parser("crm_mon --output-as=xml -1")
def parse_crm_mon(
    text: str, source: str = "crm_mon --output-as=xml -1"
) -> tuple[ClusterStatus, ServicesStatus]:
    root = parse_xml(text, source, ("pacemaker-result", "crm_mon"))
    status_element = root.find("status")
    if status_element is not None and status_element.get("code", "0") != "0":
        errors = [e.text or "" for e in status_element.iterfind("errors/error")]
        message = status_element.get("message", "error")
        detail = f"{message} ({errors[-1]})" if errors else message
        if number(status_element, "code", source) == NOT_CONNECTED:
            return (
                ClusterStatus("pacemaker", source, running=False, error=detail),
                ServicesStatus(source, "pacemaker", running=False, error=detail),
            )
        raise ParseError(source, f"crm_mon reported status {status_element.get('code')}: {detail}")
    summary = root.find("summary")
    if summary is None:
        raise ParseError(source, "no <summary>: not crm_mon XML")
    dc = summary.find("current_dc")
    dc_present = dc is not None and flag(dc, "present")
    cluster = ClusterStatus(
        "pacemaker",
        source,
        quorate=flag(dc, "with_quorum") if dc_present else None,
        dc=dc.get("name") if dc_present else None,
        dc_known=True,
        nodes=[_node(n, source) for n in root.iterfind("nodes/node")],
        nodes_are_configured=True,
    )
    services = ServicesStatus(source, "pacemaker")
    fail_counts = _fail_counts(root, source)
    resources = root.find("resources")
    for element in resources if resources is not None else []:
        services.services.extend(_services(element, fail_counts, source))
    for failure in root.iterfind("failures/failure"):
        op_key = failure.get("op_key", "")
        services.failures.append(
            FailedAction(
                resource=_resource_of(op_key, failure.get("task", "")),
                node=failure.get("node", ""),
                task=failure.get("task", ""),
                exit_reason=failure.get("exitreason", ""),
                exit_status=failure.get("exitstatus", ""),
                exit_code=number(failure, "exitcode", source),
                last_change=failure.get("last-rc-change", ""),
            )
        )
    bans = root.find("bans")
    if bans is not None:
        services.constraints = [
            LocationConstraint(
                b.get("id", ""), b.get("resource", ""), b.get("node", ""), b.get("weight", "")
            )
            for b in bans
        ]
    return cluster, services


def _node(element, source: str) -> ClusterNode:
    return ClusterNode(
        element.get("name", "?"),
        number(element, "id", source) if (element.get("id") or "").isdigit() else None,
        member=flag(element, "online"),
        standby=flag(element, "standby") or flag(element, "standby_onfail"),
        maintenance=flag(element, "maintenance"),
        unclean=flag(element, "unclean"),
        pending=flag(element, "pending"),
        is_dc=flag(element, "is_dc"),
    )


def _resource_of(op_key: str, task: str) -> str:
    """`vm1_monitor_10000` -> `vm1` (resource ids may hold underscores themselves)."""
    marker = f"_{task}_" if task else "_"
    return op_key.rsplit(marker, 1)[0] if marker in op_key else op_key


def _fail_counts(root, source: str) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for node in root.iterfind("node_history/node"):
        for history in node.iterfind("resource_history"):
            value = history.get("fail-count")
            if value is None:
                continue
            if value.upper() in ("INFINITY", "+INFINITY"):
                count = 1000000
            else:
                count = integer(value, source, None, "<resource_history fail-count>")
            rsc = history.get("id", "").split(":", 1)[0]  # clone instances: drbd-r0:1
            counts.setdefault(rsc, {})[node.get("name", "?")] = count
    return counts


def _primitive(element, fail_counts) -> Service:
    nodes = [n.get("name", "?") for n in element.iterfind("node")]
    role = element.get("role", "Stopped")
    rid = element.get("id", "?")
    return Service(
        rid,
        "primitive",
        role,
        agent=element.get("resource_agent", ""),
        target_role=element.get("target_role"),
        managed=flag(element, "managed") if element.get("managed") else True,
        failed=flag(element, "failed"),
        blocked=flag(element, "blocked"),
        nodes=nodes if role in ACTIVE_ROLES else [],
        promoted_nodes=nodes if role in PROMOTED_ROLES else [],
        fail_counts=dict(fail_counts.get(rid, {})),
    )


def _services(element, fail_counts, source: str, depth: int = 0) -> list[Service]:
    check_depth(depth, source, "resources (groups, clones, bundles)")
    if element.tag == "resource":
        return [_primitive(element, fail_counts)]
    if element.tag == "group":
        return [s for child in element for s in _services(child, fail_counts, source, depth + 1)]
    if element.tag in ("clone", "bundle"):
        members = [
            s
            for child in element
            if child.tag in ("resource", "group")
            for s in _services(child, fail_counts, source, depth + 1)
        ]
        promotable = (
            flag(element, "multi_state")
            or element.tag == "clone"
            and any(
                m.state in PROMOTED_ROLES or m.state in ("Unpromoted", "Slave") for m in members
            )
        )
        running = sorted({n for m in members for n in m.nodes})
        promoted = sorted({n for m in members for n in m.promoted_nodes})
        counts: dict[str, int] = {}
        for member in members:
            for node, count in member.fail_counts.items():
                counts[node] = max(counts.get(node, 0), count)
        states = sorted({m.state for m in members})
        return [
            Service(
                element.get("id", "?"),
                "promotable" if promotable else "clone",
                "Started" if running else "Stopped",
                agent=members[0].agent if members else "",
                target_role=element.get("target_role")
                or next((m.target_role for m in members if m.target_role), None),
                managed=(flag(element, "managed") if element.get("managed") else True)
                and all(m.managed for m in members),
                failed=flag(element, "failed") or any(m.failed for m in members),
                blocked=any(m.blocked for m in members),
                nodes=running,
                promoted_nodes=promoted,
                fail_counts=counts,
                flags=states,
                members=sorted({m.name for m in members}),
            )
        ]
    return []
