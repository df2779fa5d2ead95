"""cman 3 groups (fence domain, DLM lockspaces): one that waits is CRITICAL, and says what
blocks with it. Pure: ClusterStatus.groups -> findings."""

from __future__ import annotations

from kvmcluster.model.cluster import ClusterGroup, ClusterStatus
from kvmcluster.model.findings import Finding, State

BLOCKED = "clustat, clvmd and rgmanager block until it completes"
_KIND_NAMES = {"fence": "fence domain", "dlm": "DLM lockspace", "gfs": "GFS mount group"}


def _node(node_id: int, status: ClusterStatus) -> str:
    for node in status.nodes:
        if node.node_id == node_id and node.name:
            return f"{node.name} (node {node_id})"
    return f"node {node_id}"


def _why(group: ClusterGroup, status: ClusterStatus) -> str:
    if group.kind == "fence" and (group.victims or group.victim_now or group.victim_ids):
        victims = list(group.victim_ids) or ([group.victim_now] if group.victim_now else [])
        who = ", ".join(_node(v, status) for v in victims) if victims else ""
        count = f"{group.victims} victim{'s' if group.victims != 1 else ''}"
        if group.wait == "quorum":
            return f"fencing of {who or count} postponed until quorum returns"
        return f"waiting for the fencing of {who or count}"
    if group.wait in ("fencing", "quorum", "fs", "messages", "pending"):
        what = {"fs": "the file system", "messages": "messages from the other members"}
        reason = what.get(group.wait, group.wait)
        failed = (
            f", {group.failed} node{'s' if group.failed != 1 else ''} failed"
            if group.failed
            else ""
        )
        return f"waiting for {reason}{failed}"
    if group.wait:  # groupd's event states: FAIL_START_WAIT, JOIN_STOP_WAIT ...
        return f"in recovery ({group.wait})"
    if "kern_stop" in group.flags:
        return "stopped for recovery (kern_stop)"
    return "changing membership"


def group_findings(status: ClusterStatus) -> list[Finding]:
    """One CRITICAL finding naming every waiting group; nothing when none waits or the
    groups were not read."""
    if not status.groups:
        return []
    waiting = [g for g in status.groups if g.waiting]
    if not waiting:
        return []
    parts = []
    for group in waiting:
        name = _KIND_NAMES.get(group.kind, group.kind)
        label = name if group.kind == "fence" else f"{name} {group.name}"
        parts.append(f"{label} {_why(group, status)}")
    text = "; ".join(parts) + f": {BLOCKED}"
    return [Finding("", State.CRITICAL, (text,), kinds=("cluster-group-blocked",))]
