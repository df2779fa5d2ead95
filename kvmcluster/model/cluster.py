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
    shutdown: bool = False  # Pacemaker: shutting down
    node_type: str = ""  # Pacemaker: "member", "remote", "guest" (a VM or bundle replica)
    container: str = ""  # a guest node: the resource it runs in
    feature_set: str = ""  # Pacemaker: the CRM feature set of the node's version
    qdevice_flags: list[str] = factory(list)  # corosync-quorumtool: A/NA, V/NV, MW/NMW
    qdevice_votes: int | None = None  # the Qdevice row: votes it would cast ("(votes 1)")


@record
class KnetPeer:
    node_id: int  # negative: position in the node list (layouts that print no node id)
    status: str  # "connected", "disconnected", "localhost", "knet error" ...

    @property
    def up(self) -> bool:
        return self.status == "localhost" or self.status.startswith("connected")


@record
class ClusterLink:
    """One corosync link (knet, corosync 3) or ring (corosync 2) as this node sees it."""

    link_id: int
    address: str = ""
    transport: str = ""
    peers: list[KnetPeer] = factory(list)  # knet: per node; empty for rings and udp(u)
    status: str = ""  # corosync 2 rings, udp(u) and the -b layout: the status line itself
    faulty: bool = False

    @property
    def down_peers(self) -> list[KnetPeer]:
        return [p for p in self.peers if not p.up]


@record
class FenceEvent:
    """One entry of Pacemaker's fencing history (newest first, as crm_mon lists it)."""

    target: str
    action: str
    status: str  # "success", "failed", "pending"
    delegate: str = ""
    origin: str = ""
    client: str = ""
    completed: str = ""
    exit_reason: str = ""


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
    links: list[ClusterLink] | None = None  # corosync-cfgtool -s; None: not read
    local_node_id: int | None = None
    fence_history: list[FenceEvent] | None = None  # crm_mon <fence_history>; None: not shown
    options: dict[str, str] = factory(dict)  # Pacemaker <cluster_options>
    quorum_known: bool = True  # False: crm_mon output without <summary>
    groups: list[ClusterGroup] | None = None  # cman 3 fence_tool/dlm_tool/group_tool ls

    @property
    def cluster_nodes(self) -> list[ClusterNode]:
        """Members and remote nodes; not the quorum disk/device, not guest nodes (VMs and
        bundle replicas that Pacemaker runs as resources)."""
        return [n for n in self.nodes if not n.qdisk and not n.container]


def merge_status(parts: list[ClusterStatus]) -> ClusterStatus:
    """Combine what several tools said (cman_tool status + nodes, crm_mon + quorumtool).

    Earlier parts win for scalar values; nodes are merged by name.
    """
    first = parts[0]
    merged = ClusterStatus(first.stack, " + ".join(p.source for p in parts))
    merged.quorum_known = any(p.quorum_known for p in parts)
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
        for field in ("links", "local_node_id", "fence_history"):
            if getattr(merged, field) is None and getattr(part, field) is not None:
                setattr(merged, field, getattr(part, field))
        merged.options = merged.options or part.options
        if part.groups is not None:  # fence_tool ls and dlm_tool ls: both count
            merged.groups = (merged.groups or []) + part.groups
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
                "shutdown",
            ):
                setattr(known, field, getattr(known, field) or getattr(node, field))
            for field in ("node_type", "container", "feature_set", "qdevice_flags"):
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
    orphaned: bool = False  # Pacemaker: no longer configured, still in the status
    failure_ignored: bool = False  # Pacemaker: on-fail=ignore hid a failure
    migration_threshold: dict[str, int] = factory(dict)  # node -> migration-threshold
    replicas: list[tuple[str, str]] = factory(list)  # a bundle: (replica, its node or "")


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
    unclean_nodes: list[str] = factory(list)  # Pacemaker: nodes whose state is unknown
    unavailable_nodes: list[str] = factory(list)  # offline or in standby (can run nothing)
    online_nodes: list[str] = factory(list)  # online, not in standby
    options: dict[str, str] = factory(dict)  # Pacemaker <cluster_options>
    tickets: list[Ticket] = factory(list)
    promoted_max: dict[str, int] = factory(dict)  # CIB: promotable clone -> promoted-max
    node_count: int | None = None  # Pacemaker: configured nodes (not guest nodes)
    # cluster.conf: the rgmanager services and VMs with autostart="0" (vm:NAME, service:NAME),
    # disabled on purpose; None: cluster.conf not read
    autostart_off: list[str] | None = None


@record
class Ticket:
    id: str
    status: str  # "granted", "revoked"
    standby: bool = False
    last_granted: str = ""


# The condition a cman 3 group waits for: fence_tool's `wait state`, dlm_tool's `new status`
# wait_condition, or group_tool -g1's event state.
WAIT_NONE = ""


@record
class ClusterGroup:
    """A cman 3 group of `fence_tool ls`, `dlm_tool ls` or `group_tool ls`: the fence domain,
    a DLM lockspace (clvmd, rgmanager, a GFS2 file system) or a GFS mount group. While one
    waits, whatever takes its locks (clustat, clvmd, rgmanager, LVM) blocks with it."""

    kind: str  # "fence", "dlm", "gfs"
    name: str  # the fence domain is "default"
    members: list[int] = factory(list)  # node ids
    wait: str = WAIT_NONE  # "fencing", "quorum", "messages", "fs", "pending", a groupd state
    victims: int = 0  # fence domain: nodes still to be fenced
    victim_now: int = 0  # fence domain: the node being fenced now (0: none)
    victim_ids: list[int] = factory(list)  # fence_tool ls -n: the nodes marked victim
    master_nodeid: int | None = None  # fence domain: the node that fences
    flags: list[str] = factory(list)  # dlm_tool: kern_stop, join, leave, fs_reg ...
    changing: bool = False  # a membership change (`new change`) not yet completed
    failed: int = 0  # nodes failed in that change
    new_members: list[int] | None = None  # the members once the change completes

    @property
    def waiting(self) -> bool:
        return bool(
            self.wait or self.victims or self.victim_now or self.changing
            or "kern_stop" in self.flags
        )  # fmt: skip


@record
class GroupsStatus:
    """What fence_tool ls, dlm_tool ls or group_tool ls said (cman 3 / RHEL 6)."""

    source: str
    groups: list[ClusterGroup] = factory(list)
    running: bool = True  # False: the daemon behind the tool does not answer
    error: str = ""

    @property
    def waiting(self) -> list[ClusterGroup]:
        return [g for g in self.groups if g.waiting]
