"""Quorum and membership: ClusterStatus -> findings for the quorum and for every node."""

from __future__ import annotations

from kvmcluster.model.cluster import ClusterLink, ClusterNode, ClusterStatus, FenceEvent
from kvmcluster.model.findings import Finding, Perf, Report, State, Summary, Verdict
from kvmcluster.model.record import record
from kvmcluster.rules.cman_groups import group_findings

START_HINTS = {
    "cman": "service cman start (after a reboot the stack is started by hand)",
    "corosync": "start corosync (systemctl start corosync)",
    "pacemaker": "start corosync and pacemaker (systemctl start corosync pacemaker)",
}
# The commands in START_HINTS, as a finding's fix.
START_FIX = {
    "cman": "service cman start",
    "corosync": "systemctl start corosync",
    "pacemaker": "systemctl start corosync pacemaker",
}


@record
class ClusterPolicy:
    offline_warning: bool = False  # an offline node is a WARNING instead of CRITICAL
    expected_nodes: int | None = None


def _votes(status: ClusterStatus) -> str:
    """`2 votes, 2 expected, 1 needed`: what an admin compares when quorum is at stake."""
    parts = []
    if status.total_votes is not None:
        parts.append(f"{status.total_votes} vote{'s' if status.total_votes != 1 else ''}")
    if status.expected_votes is not None:
        parts.append(f"{status.expected_votes} expected")
    if status.quorum_votes is not None:
        parts.append(f"{status.quorum_votes} needed")
    return ", ".join(parts)


def _quorum_finding(status: ClusterStatus) -> Finding | None:
    votes = _votes(status)
    if status.quorate is False:
        why = ["activity blocked"] if status.activity_blocked else []
        if votes:
            why.append(votes)
        text = "not quorate" + (f" ({', '.join(why)})" if why else "")
        return Finding("", State.CRITICAL, (text,), f"quorum: {text}", ("cluster-not-quorate",))
    if status.quorate is True:
        return Finding("", State.OK, (), "quorum: quorate" + (f" ({votes})" if votes else ""))
    return None


def _node_finding(node: ClusterNode, policy: ClusterPolicy) -> Finding:
    verdict = Verdict()
    if node.qdisk and node.qdevice_votes is not None:
        label = "qdevice"
        if not node.member:
            verdict.add(
                State.WARNING,
                f"qdevice {node.name} not voting (0 of {node.qdevice_votes} "
                f"vote{'s' if node.qdevice_votes != 1 else ''}: corosync-qdevice-tool -sv)",
                "cluster-qdevice-not-voting",
                "corosync-qdevice-tool -sv",
            )
    elif node.qdisk:
        if not node.member:
            verdict.add(State.WARNING, f"quorum disk {node.name} offline", "cluster-qdisk-offline")
        label = "quorum disk"
    elif node.container:
        # A guest node (a VM or bundle replica run as a resource): its state is the state of
        # that resource, judged by check_cluster_services; not a missing cluster member.
        label = f"guest node (resource {node.container})"
        if node.unclean:
            verdict.add(State.CRITICAL, "UNCLEAN (needs fencing)", "node-unclean")
    else:
        label = "node"
        if node.unclean:
            verdict.add(State.CRITICAL, "UNCLEAN (needs fencing)", "node-unclean")
        elif not node.member and not node.disallowed:
            state = State.WARNING if policy.offline_warning else State.CRITICAL
            verdict.add(state, "offline", "node-offline")
        if node.disallowed:
            verdict.add(
                State.CRITICAL, "disallowed (restart the cluster stack on it)", "node-disallowed"
            )
        if node.estranged:
            verdict.add(State.WARNING, "member but not in cluster.conf", "node-estranged")
        if node.pending:
            verdict.add(State.WARNING, "pending (joining)", "node-pending")
        if node.shutdown and node.member:
            verdict.add(State.WARNING, "shutting down", "node-shutdown")
        if node.standby:
            verdict.add(State.WARNING, "standby", "node-standby")
        if node.maintenance:
            verdict.add(State.WARNING, "maintenance", "node-maintenance")
    facts = ["online" if node.member else "offline"]
    if node.local:
        facts.append("local")
    if node.is_dc:
        facts.append("DC")
    if node.node_id is not None:
        facts.append(f"id {node.node_id}")
    if node.votes is not None:
        facts.append(f"{node.votes} vote{'s' if node.votes != 1 else ''}")
    if node.qdevice_flags and "NV" in node.qdevice_flags:
        facts.append(f"qdevice {','.join(node.qdevice_flags)}")
    item = "" if node.qdisk else node.name  # the quorum disk is not counted as a node
    return verdict.finding(item, f"{label} {node.name}: {', '.join(facts)}")


def evaluate(status: ClusterStatus, policy: ClusterPolicy) -> Report:
    report = Report()
    if not status.running:
        hint = START_HINTS.get(status.stack, "start the cluster stack")
        report.findings.append(
            Finding(
                "",
                State.CRITICAL,
                (f"cluster stack not running on this node ({status.error}): {hint}",),
                kinds=("cluster-stack-down",),
                fix=START_FIX.get(status.stack, ""),
            )
        )
        return report
    quorum = _quorum_finding(status)
    if quorum:
        report.findings.append(quorum)
    elif not status.quorum_known:
        report.findings.append(
            Finding(
                "",
                State.UNKNOWN,
                (
                    f"quorum and DC not shown in {status.source} (crm_mon without <summary>): "
                    "add --quorumtool-file or capture crm_mon without --exclude",
                ),
                kinds=("cluster-quorum-unknown",),
            )
        )
    report.findings += group_findings(status)  # early: clustat, clvmd, rgmanager hang on it
    if status.dc_known and status.dc is None:
        report.findings.append(
            Finding(
                "", State.WARNING, ("no DC elected (cluster still forming?)",), kinds=("no-dc",)
            )
        )
    for node in status.nodes:
        report.findings.append(_node_finding(node, policy))
    nodes = status.cluster_nodes
    online = [n for n in nodes if n.member]
    online_count = len(online)
    if not status.nodes_are_configured and status.member_count is not None:
        online_count = max(online_count, status.member_count)
    expected = policy.expected_nodes
    if expected is not None and online_count < expected:
        report.findings.append(
            Finding(
                "",
                State.CRITICAL,
                (f"{online_count} of {expected} expected nodes are members",),
                kinds=("cluster-nodes-missing",),
            )
        )
    else:
        report.findings += _missing_votes(status, policy)
    report.findings += _link_findings(status)
    report.findings += _fencing_findings(status.fence_history or [])
    report.findings += _option_findings(status)
    if not report.findings and status.links:
        report.findings.append(Finding("", State.OK, (), "links: all connected"))
    if not report.findings:
        report.findings.append(
            Finding(
                "",
                State.UNKNOWN,
                (f"no quorum or node data in {status.source}",),
                kinds=("cluster-no-data",),
            )
        )
    report.headline_covers = set()
    configured = len(nodes) if status.nodes_are_configured else None
    total = configured if configured is not None else (expected or online_count)
    report.ok = Summary(
        "cluster-quorate",
        {
            "online": online_count,
            "total": total,
            "names": [n.name for n in online] if len(online) == online_count else None,
            "dc": status.dc,
            "votes_total": status.total_votes,
            "votes_expected": status.expected_votes,
            "votes_needed": status.quorum_votes,
        },
    )
    if status.links and not nodes and status.quorate is None and status.member_count is None:
        report.ok = Summary(
            "corosync-links",
            {
                "link_ids": [link.link_id for link in status.links],
                # knet peers, or a link status that is not corosync 2's ring text (3.x UDP(U)
                # and a lone knet link print `status = OK` under "LINK ID")
                "knet": any(
                    link.peers or "ring" not in (link.status or "ring").lower()
                    for link in status.links
                ),
                "transport": any(link.transport for link in status.links),
            },
        )
    if nodes or status.member_count is not None or not status.links:
        report.perfdata += [Perf("nodes_online", online_count, "", "", "", 0, total or None)]
    if configured is not None:
        report.perfdata.append(Perf("nodes_configured", configured, "", "", "", 0))
    for label, value in (
        ("votes_total", status.total_votes),
        ("votes_expected", status.expected_votes),
        ("quorum_votes", status.quorum_votes),
    ):
        if value is not None:
            report.perfdata.append(Perf(label, value, "", "", "", 0))
    if status.quorate is not None:
        report.perfdata.append(Perf("quorate", int(status.quorate), "", "", "1:", 0, 1))
    if status.links:
        up = sum(1 for link in status.links if _link_up(link))
        report.perfdata.append(Perf("links_up", up, "", "", "1:", 0, len(status.links)))
    return report


def _missing_votes(status: ClusterStatus, policy: ClusterPolicy) -> list[Finding]:
    """Quorate although a voter is missing: with two_node the survivor keeps quorum alone,
    so `Quorate: Yes` hides a lost peer. The qdevice's own missing vote is its finding."""
    if not status.quorate or status.expected_votes is None or status.total_votes is None:
        return []
    qdevice_missing = sum(
        (n.qdevice_votes or 0) - (n.votes or 0)
        for n in status.nodes
        if n.qdisk and n.qdevice_votes is not None
    )
    missing = status.expected_votes - status.total_votes - max(qdevice_missing, 0)
    if missing <= 0:
        return []
    if status.nodes_are_configured and any(
        not n.member and not n.qdisk for n in status.cluster_nodes
    ):
        return []  # the offline node says it already
    if any(n.qdisk and n.qdevice_votes is None for n in status.nodes):
        return []  # cman's quorum disk: its own finding
    votes = f"{status.total_votes} of {status.expected_votes} votes"
    if status.nodes_are_configured:
        # every configured node is a member: the missing vote is no node's. A quorum device
        # whose daemon does not run leaves no other trace in corosync-quorumtool.
        text = (
            f"{missing} vote{'s' if missing != 1 else ''} missing ({votes}) with every node "
            "online: a configured qdevice does not vote (is corosync-qdevice running?)"
        )
        return [Finding("", State.WARNING, (text,), kinds=("cluster-qdevice-not-voting",))]
    state = State.WARNING if policy.offline_warning else State.CRITICAL
    kind = "cluster-votes-missing"
    if "2Node" in status.flags:
        kind = "cluster-peer-lost"
        text = f"quorate only through two_node ({votes}): the peer is lost"
    else:
        text = (
            f"{missing} vote{'s' if missing != 1 else ''} missing ({votes}): a node is lost "
            "(or a configured qdevice does not vote)"
        )
    return [Finding("", state, (text,), kinds=(kind,))]


def _link_up(link: ClusterLink) -> bool:
    if link.faulty:
        return False
    peers = [p for p in link.peers if p.status != "localhost"]
    if peers and all(p.node_id < 0 for p in peers):
        # positional layouts list this node too, connected to itself: one more needed
        return sum(1 for p in peers if p.up) >= min(2, len(peers))
    return not peers or any(p.up for p in peers)


def _peer_name(node_id: int, status: ClusterStatus) -> str:
    if node_id < 0:  # the -b layout: position in the node list
        return f"node #{-node_id}"
    for node in status.nodes:
        if node.node_id == node_id and not node.qdisk:
            return node.name
    return f"node {node_id}"


def _link_findings(status: ClusterStatus) -> list[Finding]:
    """corosync-cfgtool -s: one link (ring) of several down is lost redundancy (WARNING);
    a peer that no link reaches, or every ring faulty, is CRITICAL."""
    links = status.links
    if not links:
        return []
    findings: list[Finding] = []
    rings = [link for link in links if not link.peers]
    faulty = [link for link in rings if link.faulty]
    if faulty:
        state = State.CRITICAL if len(faulty) == len(rings) else State.WARNING
        names = ", ".join(f"ring {r.link_id} ({r.address})" for r in faulty)
        findings.append(
            Finding(
                "",
                state,
                (f"{names} FAULTY: corosync-cfgtool -r once the network is fixed",),
                kinds=("link-faulty",),
                fix="corosync-cfgtool -r",
            )
        )
    for link in links:
        peers = (
            ", ".join(f"{_peer_name(p.node_id, status)} {p.status}" for p in link.peers)
            or link.status
        )
        kind = "ring" if not link.peers and link.status and "ring" in link.status else "link"
        transport = f" {link.transport}" if link.transport else ""
        findings.append(
            Finding("", State.OK, (), f"{kind} {link.link_id}{transport} {link.address}: {peers}")
        )
    knet = [link for link in links if link.peers]
    peer_ids = sorted({p.node_id for link in knet for p in link.peers if p.status != "localhost"})
    for peer in peer_ids:
        seen = [(link, p) for link in knet for p in link.peers if p.node_id == peer]
        down = [(link, p) for link, p in seen if not p.up]
        if not down:
            continue
        name = _peer_name(peer, status)
        which = ", ".join(f"link {link.link_id} ({link.address})" for link, _ in down)
        if len(down) == len(seen):
            text = f"{name} unreachable: every link down ({which})"
            findings.append(Finding("", State.CRITICAL, (text,), kinds=("link-all-down",)))
        else:
            statuses = {p.status for _, p in down}
            how = "down" if statuses == {"disconnected"} else "/".join(sorted(statuses))
            findings.append(
                Finding(
                    "",
                    State.WARNING,
                    (f"{which} {how} to {name} (redundancy lost)",),
                    kinds=("link-down",),
                )
            )
    return findings


def _fencing_findings(history: list[FenceEvent]) -> list[Finding]:
    """crm_mon lists fencing history newest first. A failure or a pending action that no
    later success on the same target superseded is CRITICAL: the target's state is unknown
    and the cluster blocks its resources. Superseded failures stay in the history until
    `stonith_admin --cleanup --history TARGET`: a WARNING saying so."""
    findings: list[Finding] = []
    targets: dict[str, list[FenceEvent]] = {}
    for event in history:
        targets.setdefault(event.target, []).append(event)
    for target, events in targets.items():
        succeeded = False
        open_events: list[FenceEvent] = []
        superseded = 0
        for event in events:  # newest first
            if event.status == "success":
                succeeded = True
            elif event.status in ("failed", "pending") or event.status not in ("", "success"):
                if succeeded and event.status != "pending":
                    superseded += 1
                elif not succeeded:
                    open_events.append(event)
        pending = [e for e in open_events if e.status == "pending"]
        failed = [e for e in open_events if e.status != "pending"]
        if pending:
            event = pending[0]
            by = f" by {event.delegate or event.origin}" if event.delegate or event.origin else ""
            after = ""
            if failed:
                after = f" after {len(failed)} failed attempt{'s' if len(failed) != 1 else ''}"
                reason = next((e.exit_reason for e in failed if e.exit_reason), "")
                after += f" ({reason})" if reason else ""
            findings.append(
                Finding(
                    "",
                    State.CRITICAL,
                    (
                        f"fencing of {target} pending ({event.action}{by}){after}: its "
                        "resources are blocked until it completes",
                    ),
                    kinds=("fencing-pending",),
                )
            )
        elif failed:
            event = failed[0]
            reason = next((e.exit_reason for e in failed if e.exit_reason), "")
            by = f" by {event.delegate}" if event.delegate else ""
            when = f" at {event.completed}" if event.completed else ""
            count = f" ({len(failed)} attempts)" if len(failed) > 1 else ""
            text = f"fencing of {target} failed{count}: {event.action}{by}{when}"
            if reason:
                text += f" ({reason})"
            findings.append(Finding("", State.CRITICAL, (text,), kinds=("fencing-failed",)))
        if superseded and not open_events:
            findings.append(
                Finding(
                    "",
                    State.WARNING,
                    (
                        f"{superseded} failed fencing action{'s' if superseded != 1 else ''} on "
                        f"{target} superseded by a later success "
                        f"(stonith_admin --cleanup --history {target})",
                    ),
                    kinds=("fencing-history",),
                    fix=f"stonith_admin --cleanup --history {target}",
                )
            )
    return findings


def _option_findings(status: ClusterStatus) -> list[Finding]:
    """Cluster-wide Pacemaker options that stop it from protecting anything."""
    options = status.options
    findings: list[Finding] = []
    if options.get("maintenance-mode", "").lower() == "true":
        findings.append(
            Finding(
                "",
                State.WARNING,
                ("maintenance-mode=true: no resource is managed",),
                kinds=("cluster-maintenance-mode",),
            )
        )
    if options.get("stop-all-resources", "").lower() == "true":
        findings.append(
            Finding(
                "",
                State.WARNING,
                ("stop-all-resources=true: every resource is stopped",),
                kinds=("cluster-stop-all-resources",),
            )
        )
    members = [n for n in status.cluster_nodes if n.member and n.node_type in ("", "member")]
    sets = {n.feature_set for n in members if n.feature_set}
    if options.get("mixed_version") == "true" or len(sets) > 1:
        versions = ", ".join(f"{n.name} {n.feature_set}" for n in members if n.feature_set)
        findings.append(
            Finding(
                "",
                State.WARNING,
                (
                    f"mixed Pacemaker versions ({versions or 'feature sets differ'}): "
                    "finish the rolling upgrade",
                ),
                kinds=("cluster-mixed-versions",),
            )
        )
    return findings
