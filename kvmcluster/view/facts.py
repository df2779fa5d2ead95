"""A node's capture read into NodeFacts for the correlation rules (kvmcluster.rules.correlate)."""

from __future__ import annotations

from kvmcluster.model.cluster_view import NodeFacts


def facts_from_capture(cap, name: str) -> NodeFacts:
    """The facts of one node from its capture (kvmcluster.capture.Capture): data only."""
    return NodeFacts(name=name)
