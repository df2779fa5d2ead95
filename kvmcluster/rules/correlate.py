"""What only a view across nodes sees: split brain, two sides that disagree, a VM running
twice, a split cluster, configuration drift. Pure: NodeFacts in, Correlations out."""

from __future__ import annotations

from kvmcluster.model.cluster_view import Correlation, NodeFacts


def correlate(nodes: list[NodeFacts]) -> list[Correlation]:
    """Every cluster finding over the nodes read (unreachable ones have reachable=False)."""
    return []
