"""One cluster model for cman_tool, clustat -x, corosync-quorumtool and crm_mon: quorum,
membership, and the state of the services/resources the cluster manages."""

from __future__ import annotations

from kvmcluster.model.record import factory, record


@record
class ClusterNode:
    name: str
    node_id: int | None = None
    member: bool = False  # online: part of the current membership
    local: bool = False
    standby: bool = False
    maintenance: bool = False
    unclean: bool = False  # Pacemaker: needs fencing
    pending: bool = False
    disallowed: bool = False  # cman: 'd' (joined with a wrong state; must be restarted)
    estranged: bool = False  # clustat: a member that is not in cluster.conf
    qdisk: bool = False  # the quorum disk pseudo-node of cman
    votes: int | None = None
    is_dc: bool = False


@record
class ClusterStatus:
    """Quorum and membership as one node sees them."""

    stack: str  # "cman", "corosync", "pacemaker"
    source: str
    running: bool = True  # False: the stack does not answer on this node
    error: str = ""  # what the stack's tool said when it did not answer
    cluster_name: str = ""
    quorate: bool | None = None
    activity_blocked: bool = False
    expected_votes: int | None = None
    total_votes: int | None = None
    quorum_votes: int | None = None
    flags: list[str] = factory(list)
    member_count: int | None = None  # "Nodes:" of cman_tool status / corosync-quorumtool
    nodes: list[ClusterNode] = factory(list)
    nodes_are_configured: bool = False  # the list holds offline configured nodes too
    dc: str | None = None
    dc_known: bool = False  # the source reports the DC (Pacemaker)

    @property
    def cluster_nodes(self) -> list[ClusterNode]:
        return [n for n in self.nodes if not n.qdisk]


def merge_status(parts: list[ClusterStatus]) -> ClusterStatus:
    """Combine what several tools said (cman_tool status + nodes, crm_mon + quorumtool).

    Earlier parts win for scalar values; nodes are merged by name.
    """
    first = parts[0]
    merged = ClusterStatus(first.stack, " + ".join(p.source for p in parts))
    for part in parts:
        if not part.running and merged.running:
            merged.running, merged.error = False, part.error
        for field in (
            "cluster_name",
            "expected_votes",
            "total_votes",
            "quorum_votes",
            "dc",
            "member_count",
        ):
            if getattr(merged, field) in (None, "") and getattr(part, field) not in (None, ""):
                setattr(merged, field, getattr(part, field))
        if merged.quorate is None:
            merged.quorate = part.quorate
        merged.activity_blocked = merged.activity_blocked or part.activity_blocked
        merged.flags = merged.flags or part.flags
        merged.dc_known = merged.dc_known or part.dc_known
        merged.nodes_are_configured = merged.nodes_are_configured or part.nodes_are_configured
        by_name = {n.name: n for n in merged.nodes}
        for node in part.nodes:
            known = by_name.get(node.name)
            if known is None:
                merged.nodes.append(node)
                by_name[node.name] = node
                continue
            for field in (
                "member",
                "local",
                "standby",
                "maintenance",
                "unclean",
                "pending",
                "disallowed",
                "estranged",
                "qdisk",
                "is_dc",
            ):
                setattr(known, field, getattr(known, field) or getattr(node, field))
            known.node_id = known.node_id if known.node_id is not None else node.node_id
            known.votes = known.votes if known.votes is not None else node.votes
    return merged


@record
class Service:
    """An rgmanager service/VM or a Pacemaker resource (a clone counts as one)."""

    name: str
    kind: str  # "vm", "service" (rgmanager); "primitive", "clone", "promotable", "group"
    state: str  # rgmanager state_str, or the Pacemaker role of the resource
    owner: str | None = None  # where it runs (rgmanager owner)
    last_owner: str | None = None
    flags: list[str] = factory(list)  # rgmanager: frozen, partial
    restarts: int = 0
    agent: str = ""
    target_role: str | None = None
    managed: bool = True
    failed: bool = False
    blocked: bool = False
    nodes: list[str] = factory(list)  # where it is active
    promoted_nodes: list[str] = factory(list)
    fail_counts: dict[str, int] = factory(dict)  # node -> fail-count
    members: list[str] = factory(list)  # a clone's member resource ids
    since: str = ""  # when it last changed state, when the source says so


@record
class FailedAction:
    resource: str
    node: str
    task: str
    exit_reason: str = ""  # the agent's own words, often empty
    exit_status: str = ""  # "not running", "error" ...
    exit_code: int | None = None
    last_change: str = ""


@record
class LocationConstraint:
    id: str
    resource: str
    node: str
    score: str


@record
class ServicesStatus:
    source: str
    manager: str  # "rgmanager" or "pacemaker"
    running: bool = True  # False: the resource manager does not answer here
    error: str = ""
    services: list[Service] = factory(list)
    failures: list[FailedAction] = factory(list)
    constraints: list[LocationConstraint] | None = None  # None: not known from this source
