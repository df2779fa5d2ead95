"""Quorum and membership: ClusterStatus -> findings for the quorum and for every node."""

from __future__ import annotations

from kvmcluster.model.cluster import ClusterNode, ClusterStatus
from kvmcluster.model.findings import Finding, Perf, Report, State, Verdict
from kvmcluster.model.record import record

START_HINTS = {
    "cman": "service cman start (after a reboot the stack is started by hand)",
    "corosync": "start corosync (systemctl start corosync)",
    "pacemaker": "start corosync and pacemaker (systemctl start corosync pacemaker)",
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
        return Finding("", State.CRITICAL, (text,), f"quorum: {text}")
    if status.quorate is True:
        return Finding("", State.OK, (), "quorum: quorate" + (f" ({votes})" if votes else ""))
    return None


def _node_finding(node: ClusterNode, policy: ClusterPolicy) -> Finding:
    verdict = Verdict()
    if node.qdisk:
        if not node.member:
            verdict.add(State.WARNING, f"quorum disk {node.name} offline")
        label = "quorum disk"
    else:
        label = "node"
        if node.unclean:
            verdict.add(State.CRITICAL, "UNCLEAN (needs fencing)")
        elif not node.member and not node.disallowed:
            verdict.add(State.WARNING if policy.offline_warning else State.CRITICAL, "offline")
        if node.disallowed:
            verdict.add(State.CRITICAL, "disallowed (restart the cluster stack on it)")
        if node.estranged:
            verdict.add(State.WARNING, "member but not in cluster.conf")
        if node.pending:
            verdict.add(State.WARNING, "pending (joining)")
        if node.standby:
            verdict.add(State.WARNING, "standby")
        if node.maintenance:
            verdict.add(State.WARNING, "maintenance")
    facts = ["online" if node.member else "offline"]
    if node.local:
        facts.append("local")
    if node.is_dc:
        facts.append("DC")
    if node.node_id is not None:
        facts.append(f"id {node.node_id}")
    if node.votes is not None:
        facts.append(f"{node.votes} vote{'s' if node.votes != 1 else ''}")
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
            )
        )
        return report
    quorum = _quorum_finding(status)
    if quorum:
        report.findings.append(quorum)
    if status.dc_known and status.dc is None:
        report.findings.append(
            Finding("", State.WARNING, ("no DC elected (cluster still forming?)",))
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
            )
        )
    if not report.findings:
        report.findings.append(
            Finding("", State.UNKNOWN, (f"no quorum or node data in {status.source}",))
        )
    report.headline_covers = set()
    configured = len(nodes) if status.nodes_are_configured else None
    total = configured if configured is not None else (expected or online_count)
    summary = f"quorate, {online_count} of {total} nodes online"
    if len(online) == online_count:
        summary += f" ({', '.join(n.name for n in online)})"
    if status.dc:
        summary += f", DC {status.dc}"
    votes = _votes(status)
    report.ok_summary = summary + (f", {votes}" if votes else "")
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
    return report
