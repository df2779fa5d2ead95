"""What only a view across nodes sees: split brain, two sides that disagree, a VM running
twice, a split cluster, configuration drift. Pure: NodeFacts in, Correlations out (the rules
of each are in correlate_drbd, correlate_nodes and correlate_drift).

Every rule compares what two (or more) nodes said; a node that could not be read
(reachable False) is left out of every rule, so nothing is claimed from one side alone (that
side's own state is already in its own column). Names in the inputs (hosts, resources, VMs,
VGs, versions) are untrusted: they reach a summary or an item through printable() and the
advice through kvmcluster.advice (shell-quoted, printable)."""

from __future__ import annotations

from dataclasses import replace

from kvmcluster.model.cluster_view import Correlation, NodeFacts
from kvmcluster.model.vms import short
from kvmcluster.rules.correlate_drbd import drbd_pairs
from kvmcluster.rules.correlate_drift import drift
from kvmcluster.rules.correlate_nodes import membership, vms_twice
from kvmcluster.rules.correlate_text import p


def correlate(nodes: list[NodeFacts]) -> list[Correlation]:
    """Every cluster finding over the nodes read (unreachable ones have reachable=False)."""
    read = [n for n in nodes if n.reachable]
    if len(read) < 2:
        return []
    found: list[Correlation] = []
    found += drbd_pairs(read)
    found += vms_twice(read)
    found += membership(read)
    found += drift(read)
    return [_shortened(x, read) for x in found]


def _shortened(found: Correlation, nodes: list[NodeFacts]) -> Correlation:
    """The summary and items name the nodes by their short names where those are unambiguous
    (node05, not node05.c01.cloud.agarik.com: the first line of a plugin); `nodes` and the
    advice keep the full names (clusvcadm -m and `# on` need the cluster's own)."""
    shorts = [short(n.name) for n in nodes]
    if len(set(shorts)) != len(shorts):
        return found
    pairs = sorted(
        ((p(n.name), p(s)) for n, s in zip(nodes, shorts) if n.name != s),
        key=lambda pair: -len(pair[0]),
    )
    if not pairs:
        return found

    def sub(text: str) -> str:
        for full, brief in pairs:
            text = text.replace(full, brief)
        return text

    return replace(found, reason=sub(found.reason), items=tuple(sub(i) for i in found.items))
