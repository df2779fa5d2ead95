"""Configuration drift between the nodes (config-drift; config-same when what was compared
is the same): cluster.conf, drbd.conf with drbd.d, corosync.conf by their digests, lvm.conf's
settings, the DRBD utils and kernel module versions. Never the text of a file. Pure; called
by kvmcluster.rules.correlate with the nodes that were read."""

from __future__ import annotations

import re

from kvmcluster import advice
from kvmcluster.model.cluster_view import Correlation, NodeFacts
from kvmcluster.model.findings import State
from kvmcluster.model.vms import same_node
from kvmcluster.rules.correlate_text import names, p

_SAFE_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+~_-]{0,40}$")
_SAFE_NUMBER = re.compile(r"^[0-9]{1,12}$")
DRIFT_FILES = ("cluster.conf", "drbd.conf", "corosync.conf")


def _first_difference(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    for number, (x, y) in enumerate(zip(a, b), 1):
        if x != y:
            return number
    return min(len(a), len(b)) + 1


def drift(nodes: list[NodeFacts]) -> list[Correlation]:
    found = _cluster_names(nodes)
    same = []
    for file in DRIFT_FILES:
        groups = _drbd_peer_groups(nodes) if file == "drbd.conf" else [nodes]
        for group in groups:
            having = [n for n in group if file in n.configs]
            if len(having) < 2:
                continue
            differs = _file_drift(file, having)
            if differs is not None:
                found.append(differs)
            elif file not in same:
                same.append(file)
    having = [n for n in nodes if n.lvm_settings is not None]
    if len(having) >= 2:
        differing = [
            key
            for key in having[0].lvm_settings
            if len({n.lvm_settings.get(key) for n in having}) > 1
        ]
        if differing:
            items = ["lvm.conf", *differing]
            for key in differing:
                if key.endswith(("locking_type", "use_lvmlockd")):
                    items.append(
                        f"{key}: "
                        + ", ".join(
                            f"{_value(n.lvm_settings.get(key))} on {p(n.name)}" for n in having
                        )
                    )
            found.append(
                Correlation(
                    "config-drift",
                    State.WARNING,
                    f"lvm.conf {', '.join(differing)} differs between {names(having)}",
                    tuple(items),
                    tuple(advice.config_drift("lvm.conf", None, having[0].stack or "cman")),
                    tuple(n.name for n in having),
                )
            )
        else:
            same.append("lvm.conf settings")
    for what, value_of in (
        ("DRBD utils", lambda n: n.drbd_utils_version),
        ("DRBD kernel module", _kernel_version_of(nodes)),
    ):
        having = [n for n in nodes if value_of(n)]
        if len(having) < 2:
            continue
        if len({value_of(n) for n in having}) == 1:
            same.append(f"{what} {_version(value_of(having[0]))}")
            continue
        found.append(
            Correlation(
                "config-drift",
                State.WARNING,
                f"{what} versions differ: "
                + ", ".join(f"{_version(value_of(n))} on {p(n.name)}" for n in having),
                (what, *(f"{p(n.name)}: {_version(value_of(n))}" for n in having)),
                tuple(advice.config_drift(what, None, having[0].stack or "cman")),
                tuple(n.name for n in having),
            )
        )
    if same and not found:
        found.append(
            Correlation(
                "config-same",
                State.OK,
                f"the same on {names(nodes)}: {', '.join(same)}",
                tuple(same),
                nodes=tuple(n.name for n in nodes),
            )
        )
    return found


def _file_drift(file: str, having: list[NodeFacts]) -> Correlation | None:
    """The file compared over the nodes that have it (None: the same everywhere)."""
    digests = {n.configs[file].digest for n in having}
    if len(digests) == 1:
        return None
    first = having[0]
    items = [file]
    versions = {n.name: n.configs[file].version for n in having}
    shown = {
        name: (v if v is not None and _SAFE_NUMBER.match(v) else "?")
        for name, v in versions.items()
    }
    if file == "cluster.conf" and len(set(versions.values())) > 1:
        summary = "cluster.conf differs: config_version " + ", ".join(
            f"{shown[n.name]} on {p(n.name)}" for n in having
        )
    else:
        line = min(
            _first_difference(first.configs[file].lines, n.configs[file].lines)
            for n in having[1:]
            if n.configs[file].digest != first.configs[file].digest
        )
        summary = f"{file} differs between {names(having)} from line {line}"
        if file == "cluster.conf":
            summary += f" with the same config_version {shown[first.name]}"
    items += [
        f"{p(n.name)}: config_version {shown[n.name]}" if file == "cluster.conf"
        else f"{p(n.name)}: digest {n.configs[file].digest[:12]}"
        for n in having
    ]  # fmt: skip
    newest = None
    if file == "cluster.conf":
        numbers = {n.name: int(shown[n.name]) for n in having if shown[n.name] != "?"}
        if numbers and list(numbers.values()).count(max(numbers.values())) == 1:
            newest = max(numbers, key=numbers.get)
    return Correlation(
        "config-drift",
        State.WARNING,
        summary,
        tuple(items),
        tuple(advice.config_drift(file, newest, first.stack or "cman")),
        tuple(n.name for n in having),
    )


def _drbd_peer_groups(nodes: list[NodeFacts]) -> list[list[NodeFacts]]:
    """The nodes that share DRBD resources, group by group (drbd.conf names each resource's
    hosts: a cluster of DRBD pairs has one drbd.conf per pair); one group when unknown."""

    def peers(a: NodeFacts, b: NodeFacts) -> bool:
        if a.drbd_configured is None or b.drbd_configured is None:
            return True
        for node, other in ((a, b), (b, a)):
            for configured in node.drbd_configured:
                hosts = configured.hosts
                if not hosts or any(same_node(host, other.name) for host in hosts):
                    return True
        return False

    groups: list[list[NodeFacts]] = []
    for node in nodes:
        joined = [g for g in groups if any(peers(node, other) for other in g)]
        merged = [node] + [n for g in joined for n in g]
        groups = [g for g in groups if g not in joined] + [merged]
    return [sorted(g, key=nodes.index) for g in groups]


def _cluster_names(nodes: list[NodeFacts]) -> list[Correlation]:
    """Nodes whose cluster managers name different clusters are not one cluster (a wrong
    --node, a node moved to another cluster)."""
    having = [n for n in nodes if n.cluster_name]
    if len({n.cluster_name for n in having}) < 2:
        return []
    return [
        Correlation(
            "config-drift",
            State.WARNING,
            "the nodes belong to different clusters: "
            + ", ".join(f"{p(n.cluster_name)} on {p(n.name)}" for n in having),
            ("cluster name", *(f"{p(n.name)}: {p(n.cluster_name)}" for n in having)),
            tuple(advice.config_drift("cluster name")),
            tuple(n.name for n in having),
        )
    ]


def _kernel_version_of(nodes: list[NodeFacts]):
    """`drbdadm --version`'s kernel version where every node has it, else /proc/drbd's (the
    two spell it differently: 8.4.11 and 8.4.11-1)."""
    if all(n.drbd_kernel_version for n in nodes):
        return lambda n: n.drbd_kernel_version
    return lambda n: n.drbd.version if n.drbd is not None and n.drbd.loaded else None


def _version(value: str | None) -> str:
    return value if value and _SAFE_VERSION.match(value) else "?"


def _value(text: str | None) -> str:
    return text if text and _SAFE_NUMBER.match(text) else "?"
