"""Pacemaker's `crm_mon --output-as=xml -1` (2.x, <pacemaker-result>) and the legacy
`crm_mon --as-xml` (1.1, <crm_mon>): quorum, DC, nodes, resources, fail-counts, failures."""

from __future__ import annotations

from kvmcluster.errors import ParseError
from kvmcluster.model.cluster import (
    ClusterNode,
    ClusterStatus,
    FailedAction,
    FenceEvent,
    LocationConstraint,
    Service,
    ServicesStatus,
    Ticket,
)
from kvmcluster.parsers.values import integer, is_count, parser
from kvmcluster.parsers.xmltext import check_depth, flag, number, parse_xml

NOT_CONNECTED = 102
INSUFFICIENT_PRIVILEGES = 4  # CRM_EX_INSUFFICIENT_PRIV: the cluster runs, the user may not read it


class AccessDenied(ParseError):
    """crm_mon's answer to a user who may not read the cluster: not a parse failure, so the
    message does not say "cannot parse"."""

    def __init__(self, source: str, reason: str):
        super().__init__(source, reason)
        self.args = (f"{source}: {reason}",)


DENIED = (
    "permission denied: the cluster runs but this user may not read it ({detail}): use --sudo "
    "with icinga/sudoers, run as root, or add the user to group haclient (usermod -aG "
    "haclient USER; crm_mon only, corosync's tools answer root only)"
)
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
        code = number(status_element, "code", source)
        if code == NOT_CONNECTED:
            return (
                ClusterStatus("pacemaker", source, running=False, error=detail),
                ServicesStatus(source, "pacemaker", running=False, error=detail),
            )
        if code == INSUFFICIENT_PRIVILEGES:
            raise AccessDenied(source, DENIED.format(detail=f"crm_mon: {detail}"))
        raise ParseError(source, f"crm_mon reported status {status_element.get('code')}: {detail}")
    summary = root.find("summary")
    if summary is None and root.find("nodes") is None and root.find("resources") is None:
        raise ParseError(source, "no <summary>, <nodes> or <resources>: not crm_mon XML")
    # Without <summary> or its <current_dc> (crm_mon --exclude=summary), resources can still
    # be judged; quorum and the DC cannot.
    dc = summary.find("current_dc") if summary is not None else None
    dc_present = dc is not None and flag(dc, "present")
    options_element = summary.find("cluster_options") if summary is not None else None
    options = dict(options_element.attrib) if options_element is not None else {}
    if dc is not None and flag(dc, "mixed_version"):
        options["mixed_version"] = "true"
    nodes = [_node(n, source) for n in root.iterfind("nodes/node")]
    fence_history = root.find("fence_history")
    cluster = ClusterStatus(
        "pacemaker",
        source,
        quorate=flag(dc, "with_quorum") if dc_present else None,
        dc=(dc.get("name") or dc.get("id") or "unnamed") if dc_present else None,
        dc_known=dc is not None,
        nodes=nodes,
        nodes_are_configured=True,
        options=options,
        quorum_known=dc is not None,
        fence_history=[_fence_event(e) for e in fence_history.iterfind("fence_event")]
        if fence_history is not None
        else None,
    )
    services = ServicesStatus(source, "pacemaker", options=options)
    if root.find("nodes") is not None:
        services.node_count = sum(1 for n in nodes if not n.container)
    for node in nodes:
        if node.unclean:
            services.unclean_nodes.append(node.name)
        elif not node.member or node.standby:
            services.unavailable_nodes.append(node.name)
        elif not node.container:  # a bundle's guest node runs that bundle's resource alone
            services.online_nodes.append(node.name)
    services.tickets = [
        Ticket(t.get("id", "?"), t.get("status", ""), flag(t, "standby"), t.get("last-granted", ""))
        for t in root.iterfind("tickets/ticket")
    ]
    fail_counts = _fail_counts(root, source)
    thresholds = _migration_thresholds(root, source)
    resources = root.find("resources")
    for element in resources if resources is not None else []:
        services.services.extend(_services(element, fail_counts, source))
    # crm_mon --group-by-node (and 1.1 output of that layout): the active resources are
    # only nested under <nodes>, one element per node; <resources> keeps the inactive ones.
    nested = [
        s
        for node in root.iterfind("nodes/node")
        for element in node
        if element.tag in ("resource", "group", "clone", "bundle")
        for s in _services(element, fail_counts, source)
    ]
    services.services = _merge_nested(services.services, nested)
    for service in services.services:
        service.migration_threshold = dict(thresholds.get(service.name, {}))
        for member in service.members:
            for node, value in thresholds.get(member, {}).items():
                service.migration_threshold.setdefault(node, value)
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
        shutdown=flag(element, "shutdown"),
        node_type=element.get("type", ""),
        container=element.get("id_as_resource", ""),
        feature_set=element.get("feature_set", ""),
    )


def _fence_event(element) -> FenceEvent:
    # 2.x: status="failed"; the legacy schema of 1.1 (crm_mon.c print_stonith_action): state=
    return FenceEvent(
        element.get("target", "?"),
        element.get("action", ""),
        element.get("status") or element.get("state", ""),
        delegate=element.get("delegate", ""),
        origin=element.get("origin", ""),
        client=element.get("client", ""),
        completed=element.get("completed", ""),
        exit_reason=element.get("exit-reason", "") or element.get("exit_reason", ""),
    )


def _migration_thresholds(root, source: str) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for node in root.iterfind("node_history/node"):
        for history in node.iterfind("resource_history"):
            value = history.get("migration-threshold")
            if value is None or not is_count(value):
                continue  # INFINITY or absent: no threshold
            rsc = history.get("id", "").split(":", 1)[0]
            found.setdefault(rsc, {})[node.get("name", "?")] = int(value)
    return found


def _merge_nested(top: list[Service], nested: list[Service]) -> list[Service]:
    """One service per id: the same resource listed under several nodes is one clone-like
    service active on all of them (the nested layout drops the clone wrapper)."""
    if not nested:
        return top
    by_name: dict[str, Service] = {}
    order: list[Service] = []
    for service in nested:
        known = by_name.get(service.name)
        if known is None:
            by_name[service.name] = service
            order.append(service)
            continue
        if known.kind == "primitive" and len(service.nodes) > 1:
            continue  # one multiply-active primitive, listed under each of its nodes
        if known.kind == "primitive":
            known.kind = "clone"
            known.flags = [known.state]
            known.members = [known.name]
        known.nodes = sorted({*known.nodes, *service.nodes})
        known.promoted_nodes = sorted({*known.promoted_nodes, *service.promoted_nodes})
        known.flags = sorted({*known.flags, service.state})
        if any(f in PROMOTED_ROLES or f in ("Unpromoted", "Slave") for f in known.flags):
            known.kind = "promotable"
        known.state = "Started" if known.nodes else known.state
        known.failed = known.failed or service.failed
        known.blocked = known.blocked or service.blocked
        known.managed = known.managed and service.managed
    for service in top:
        if service.name not in by_name:
            order.append(service)
    return order


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
        orphaned=flag(element, "orphaned"),
        failure_ignored=flag(element, "failure_ignored"),
    )


def _services(element, fail_counts, source: str, depth: int = 0) -> list[Service]:
    check_depth(depth, source, "resources (groups, clones, bundles)")
    if element.tag == "resource":
        return [_primitive(element, fail_counts)]
    if element.tag == "group":
        return [s for child in element for s in _services(child, fail_counts, source, depth + 1)]
    if element.tag == "bundle":
        return [_bundle(element, fail_counts, source, depth)]
    if element.tag == "clone":
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
                orphaned=any(m.orphaned for m in members),
                failure_ignored=flag(element, "failure_ignored")
                or any(m.failure_ignored for m in members),
            )
        ]
    return []


def _bundle(element, fail_counts, source: str, depth: int) -> Service:
    """A bundle: replicas, each a container (and its IP, remote connection, and the bundled
    resource). A replica runs where its container runs, and only if the bundled resource runs
    in it (Pacemaker 2.0's crm_mon-partial: the container Started, httpd Stopped)."""
    replicas: list[tuple[str, str]] = []
    members: list[Service] = []
    prefix = element.get("id", "?") + "-"  # NAME-ip-ADDR, NAME-docker-N, NAME-N: the plumbing
    for replica in element.iterfind("replica"):
        parts = [
            s
            for child in replica
            if child.tag in ("resource", "group")
            for s in _services(child, fail_counts, source, depth + 1)
        ]
        members += parts
        container = next(
            (p for p in parts if p.agent.split(":")[-1] in ("docker", "podman", "rkt")), None
        )
        where = container.nodes[0] if container and container.nodes else ""
        bundled = [p for p in parts if not p.name.startswith(prefix)]
        if any(not p.nodes and p.target_role != "Stopped" for p in bundled):
            where = ""
        replicas.append((replica.get("id", "?"), where))
    running = sorted({where for _, where in replicas if where})
    counts: dict[str, int] = {}
    for member in members:
        for node, count in member.fail_counts.items():
            counts[node] = max(counts.get(node, 0), count)
    return Service(
        element.get("id", "?"),
        "bundle",
        "Started" if running else "Stopped",
        agent=f"bundle:{element.get('type', '')}",
        target_role=next((m.target_role for m in members if m.target_role), None),
        managed=(flag(element, "managed") if element.get("managed") else True)
        and all(m.managed for m in members),
        failed=flag(element, "failed") or any(m.failed for m in members),
        blocked=any(m.blocked for m in members),
        nodes=running,
        fail_counts=counts,
        flags=sorted({m.state for m in members}),
        members=sorted({m.name for m in members}),
        replicas=replicas,
    )
