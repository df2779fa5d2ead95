"""Across the nodes' hypervisors and cluster managers: a VM active on several nodes
(vm-active-twice) and membership views that disagree (split-cluster, or cluster-membership
when they agree). Pure; called by kvmcluster.rules.correlate with the nodes that were read."""

from __future__ import annotations

import shlex
from itertools import combinations

from kvmcluster import advice
from kvmcluster.model.cluster_view import Correlation, NodeFacts
from kvmcluster.model.findings import State, printable
from kvmcluster.model.vms import same_node, short
from kvmcluster.rules.correlate_text import names, p


def vms_twice(nodes: list[NodeFacts]) -> list[Correlation]:
    running: dict[str, list[NodeFacts]] = {}
    for node in nodes:
        for domain in node.domains or []:
            if domain.active and node not in running.setdefault(domain.name, []):
                running[domain.name].append(node)
    found = []
    for vm, where in sorted(running.items()):
        if len(where) < 2:
            continue
        claims = {}
        for node in nodes:
            owner = (node.owners or {}).get(vm)
            if owner:
                claims.setdefault(short(owner), []).append(node)
        owner_node = None
        items = [f"VM {p(vm)}", *(f"runs on {p(n.name)}" for n in where)]
        if len(claims) == 1:
            owner = next(iter(claims))
            owner_node = next((n for n in where if same_node(n.name, owner)), None)
            if owner_node is None:
                items.append(f"the cluster places it on {p(owner)}, where it does not run")
            else:
                items.append(f"the cluster owns the copy on {p(owner_node.name)}")
        elif len(claims) > 1:
            items.append(
                "the nodes disagree on its owner: "
                + "; ".join(
                    f"{names(seen)} say {p(owner)}" for owner, seen in sorted(claims.items())
                )
            )
        others = [n for n in where if n is not owner_node]
        stack = (owner_node or where[0]).stack or "cman"
        steps = advice.vm_active_twice(
            vm, owner_node.name if owner_node else None, [n.name for n in others], stack
        )
        if stack == "pacemaker":
            steps = _with_resource_id(steps, vm, nodes)
        if owner_node:
            summary = (
                f"{p(vm)} runs on {names(where)} at once (two writers on its disks); the "
                f"cluster owns the copy on {p(owner_node.name)}: stop it on {names(others)}"
            )
        else:
            summary = (
                f"{p(vm)} runs on {names(where)} at once (two writers on its disks) and no "
                "single owner is known: stop every copy, check its disk, start it once"
            )
        found.append(
            Correlation(
                "vm-active-twice",
                State.CRITICAL,
                summary,
                tuple(items),
                tuple(steps),
                tuple(n.name for n in where),
            )
        )
    return found


def _with_resource_id(steps: list[str], vm: str, nodes: list[NodeFacts]) -> list[str]:
    """The pcs lines with the VM's own resource id where a CIB named it (the advice assumes
    pcs-setup.sh's `vm-NAME`)."""
    ids = {n.vm_resources[vm] for n in nodes if vm in n.vm_resources}
    if len(ids) != 1:
        return steps
    assumed, real = shlex.quote(advice.pcmk_ids(vm=vm)), shlex.quote(ids.pop())
    return [
        printable(line[: -len(assumed)] + real)
        if line.startswith("pcs resource ") and line.endswith(" " + assumed)
        else line
        for line in steps
    ]


def _members(node: NodeFacts) -> frozenset[str] | None:
    cluster = node.cluster
    if cluster is None or not cluster.running:
        return None
    members = frozenset(short(n.name) for n in cluster.cluster_nodes if n.member)
    return members or None


def membership(nodes: list[NodeFacts]) -> list[Correlation]:
    views = [(n, _members(n)) for n in nodes]
    views = [(n, m) for n, m in views if m is not None]
    if len(views) < 2:
        return []
    if len({m for _, m in views}) == 1:
        members = ", ".join(sorted(p(m) for m in views[0][1]))
        return [
            Correlation(
                "cluster-membership",
                State.OK,
                f"every node sees the same members ({members})",
                nodes=tuple(n.name for n, _ in views),
            )
        ]
    items = []
    for node, members in views:
        quorate = {True: "quorate", False: "not quorate", None: "quorum unknown"}[
            node.cluster.quorate
        ]
        items.append(f"{p(node.name)} sees {', '.join(sorted(p(m) for m in members))} ({quorate})")
    # two nodes that each hold quorum without the other: two partitions both running
    split = [
        (a, b)
        for (a, ma), (b, mb) in combinations(views, 2)
        if a.cluster.quorate and b.cluster.quorate
        and (short(b.name) not in ma or short(a.name) not in mb)
    ]  # fmt: skip
    two_node = any({"2node", "two_node"} & {f.lower() for f in n.cluster.flags} for n, _ in views)
    fencing_off = [
        n for n, _ in views if (n.cluster.options or {}).get("stonith-enabled") == "false"
    ]
    if two_node:
        items.append("two_node: each side keeps quorum alone (only fencing ends the split)")
    if fencing_off:
        items.append(
            f"stonith-enabled=false on {names(fencing_off)}: nothing fences the other side"
        )
    partitions = []
    for node, members in views:
        if node.cluster.quorate and members not in [m for _, m in partitions]:
            partitions.append((node, members))
    stack = views[0][0].stack or "cman"
    if split:
        involved = sorted({n.name for pair in split for n in pair})
        return [
            Correlation(
                "split-cluster",
                State.CRITICAL,
                f"the cluster is split: {len(partitions)} partitions hold quorum at once ("
                + "; ".join(
                    f"{p(n.name)} with {', '.join(sorted(p(x) for x in m))}" for n, m in partitions
                )
                + "): each may run the VMs and promote DRBD",
                tuple(items),
                tuple(
                    advice.split_cluster([n.name for n, _ in partitions], stack, bool(fencing_off))
                ),
                tuple(involved),
            )
        ]
    return [
        Correlation(
            "split-cluster",
            State.WARNING,
            "the nodes disagree on membership (one partition without quorum, or the views are "
            "of different moments)",
            tuple(items),
            nodes=tuple(n.name for n, _ in views),
        )
    ]
