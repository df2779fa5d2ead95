"""The cluster view's model: what each node's capture says (NodeFacts) and what only a view
across nodes sees (Correlation). Filled by kvmcluster.view.facts, judged by
kvmcluster.rules.correlate."""

from __future__ import annotations

from dataclasses import dataclass, field

from kvmcluster.model.findings import State


@dataclass
class NodeFacts:
    """One node's inputs as the correlation rules need them (parsed, never raw text)."""

    name: str
    reachable: bool = True
    error: str = ""  # why the node could not be read (reachable False)


@dataclass(frozen=True)
class Correlation:
    """A finding across nodes: a stable kind, its state, the items it names, what to do."""

    kind: str
    state: State
    summary: str
    items: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()
    nodes: tuple[str, ...] = field(default=())
