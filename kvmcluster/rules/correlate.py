"""What only a view across nodes sees: split brain, two sides that disagree, a VM running
twice, a split cluster, configuration drift. Pure: NodeFacts in, Correlations out.

Every rule compares what two (or more) nodes said; a node that could not be read
(reachable False) is left out of every rule, so nothing is claimed from one side alone (that
side's own state is already in its own column). Names in the inputs (hosts, resources, VMs,
VGs, versions) are untrusted: they reach a summary or an item through printable() and the
advice through kvmcluster.advice (shell-quoted, printable)."""

from __future__ import annotations

import re
from dataclasses import replace
from itertools import combinations

from kvmcluster import advice
from kvmcluster.model.cluster_view import Correlation, NodeFacts
from kvmcluster.model.drbd import Connection, Resource
from kvmcluster.model.findings import State, printable
from kvmcluster.model.vms import same_node, short, vg_of

_DRBD_DEVICE = re.compile(r"^/dev/drbd([0-9]{1,9})$")
_BY_RES = re.compile(r"^/dev/drbd/by-res/([^/]+)(?:/[0-9]+)?$")
_SAFE_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+~_-]{0,40}$")
_SAFE_NUMBER = re.compile(r"^[0-9]{1,12}$")
DRIFT_FILES = ("cluster.conf", "drbd.conf", "corosync.conf")


def correlate(nodes: list[NodeFacts]) -> list[Correlation]:
    """Every cluster finding over the nodes read (unreachable ones have reachable=False)."""
    read = [n for n in nodes if n.reachable]
    if len(read) < 2:
        return []
    found: list[Correlation] = []
    found += _drbd(read)
    found += _vms_twice(read)
    found += _membership(read)
    found += _drift(read)
    return [_shortened(x, read) for x in found]


def _shortened(found: Correlation, nodes: list[NodeFacts]) -> Correlation:
    """The summary and items name the nodes by their short names where those are unambiguous
    (node05, not node05.c01.cloud.agarik.com: the first line of a plugin); `nodes` and the
    advice keep the full names (clusvcadm -m and `# on` need the cluster's own)."""
    shorts = [short(n.name) for n in nodes]
    if len(set(shorts)) != len(shorts):
        return found
    pairs = sorted(
        ((_p(n.name), _p(s)) for n, s in zip(nodes, shorts) if n.name != s),
        key=lambda pair: -len(pair[0]),
    )
    if not pairs:
        return found

    def sub(text: str) -> str:
        for full, brief in pairs:
            text = text.replace(full, brief)
        return text

    return replace(found, summary=sub(found.summary), items=tuple(sub(i) for i in found.items))


def _p(text) -> str:
    return printable(str(text))


def _names(nodes) -> str:
    return ", ".join(_p(n.name) for n in nodes)


def _size(value: int | None) -> str:
    if value is None:
        return "unknown"
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= factor:
            return f"{value / factor:.1f} {unit}".replace(".0 ", " ")
    return f"{value} B"


# --- DRBD: the two sides of each resource ---------------------------------------------------


def _resources(node: NodeFacts) -> dict[str, Resource]:
    if node.drbd is None or not node.drbd.loaded:
        return {}
    return {r.name: r for r in node.drbd.resources}


def _connection(resource: Resource, peer: NodeFacts) -> Connection | None:
    """The resource's connection to `peer`: by the peer's name (DRBD 9), or the only one (8.x
    names no peer; a two-node resource has one connection)."""
    for conn in resource.connections:
        if conn.peer_name and same_node(conn.peer_name, peer.name):
            return conn
    unnamed = [conn for conn in resource.connections if not conn.peer_name]
    if len(resource.connections) == 1 and unnamed:
        return unnamed[0]
    return None


def _state(conn: Connection | None) -> str:
    if conn is None:
        return "StandAlone"  # DRBD 9 lists no connection to a peer it is not configured for
    if conn.connected:
        replication = {pd.replication for pd in conn.peer_devices} - {"Established", "Off"}
        return "Connected" if not replication else "/".join(sorted(replication))
    return conn.state


def _out_of_sync(conn: Connection | None) -> int | None:
    if conn is None or not conn.peer_devices:
        return None
    values = [pd.out_of_sync for pd in conn.peer_devices]
    return None if any(v is None for v in values) else sum(values)


def _split_brain_lines(node: NodeFacts, resource: Resource) -> list:
    minors = set(resource.minors)
    return [
        line
        for line in node.split_brain_lines or []
        if not line.resolved
        and (line.resource == resource.name or (line.minor is not None and line.minor in minors))
    ]


def _vgs_on(node: NodeFacts, resource: Resource) -> list[str]:
    vgs = []
    minors = set(resource.minors)
    for pv in node.pvs or []:
        m = _DRBD_DEVICE.match(pv.name)
        by_res = _BY_RES.match(pv.name)
        on = (m and int(m.group(1)) in minors) or (by_res and by_res.group(1) == resource.name)
        if on and pv.vg and pv.vg not in vgs:
            vgs.append(pv.vg)
    return vgs


def _vms_on(node: NodeFacts, vgs: list[str]) -> list[str]:
    """The active domains of the node with a disk on one of the VGs."""
    found = []
    for domain in node.domains or []:
        if not domain.active:
            continue
        for disk in domain.disks:
            device = disk.source if disk.type == "block" else disk.path
            if device and vg_of(device) in vgs and domain.name not in found:
                found.append(domain.name)
    return sorted(found)


def _drbd(nodes: list[NodeFacts]) -> list[Correlation]:
    found = []
    for a, b in combinations(nodes, 2):
        ra, rb = _resources(a), _resources(b)
        if a.drbd is None or b.drbd is None:
            continue  # one side's DRBD not captured: nothing to compare
        only_a, only_b = [], []
        for name in sorted(set(ra) | set(rb)):
            if name in ra and name in rb:
                found += _pair(a, ra[name], b, rb[name])
            elif name in ra:
                only_a += _one_side(a, ra[name], b)
            else:
                only_b += _one_side(b, rb[name], a)
        found += _up_on_one_side(a, only_a, b) + _up_on_one_side(b, only_b, a)
    return found


def _one_side(up: NodeFacts, resource: Resource, other: NodeFacts) -> list[Resource]:
    """[resource] when it is up on `up` only, the other's drbd.conf has it too (or says
    nothing) and the resource's connection is to that node; else []."""
    if other.drbd_configured is not None and resource.name not in {
        r.name for r in other.drbd_configured
    }:
        return []
    if _connection(resource, other) is None and resource.connections:
        return []
    return [resource]


def _up_on_one_side(up: NodeFacts, resources: list[Resource], other: NodeFacts):
    """The resources up on one node only: one finding for them all (a module not loaded on
    the other node takes every resource with it)."""
    if not resources:
        return []
    why = "DRBD is not loaded" if not other.drbd.loaded else "not up"
    names = ", ".join(_p(r.name) for r in resources)
    states = [f"{_p(r.name)} {_p(r.role)} {_p(_state(_connection(r, other)))}" for r in resources]
    return [
        Correlation(
            "drbd-disagreement",
            State.WARNING,
            f"{names} up on {_p(up.name)} only ({'; '.join(states)}); on {_p(other.name)}: {why}",
            (
                *(_p(r.name) for r in resources),
                f"{_p(up.name)}: {', '.join(states)}",
                f"{_p(other.name)}: {why}",
            ),  # fmt: skip
            tuple(advice.drbd_one_side([r.name for r in resources], other.name, other.drbd.loaded)),
            (up.name, other.name),
        )
    ]


def _pair(a: NodeFacts, ra: Resource, b: NodeFacts, rb: Resource) -> list[Correlation]:
    """The two sides of one resource; [] when one side has no connection to the other (DRBD 9
    names its peers: a resource of the same name among other nodes is not this pair's)."""
    ca, cb = _connection(ra, b), _connection(rb, a)
    if ca is None or cb is None:
        return []
    return [_sides(a, ra, ca, b, rb, cb)]


def _sides(a, ra: Resource, ca: Connection, b, rb: Resource, cb: Connection) -> Correlation:
    a_up = ca is not None and ca.connected
    b_up = cb is not None and cb.connected
    res = _p(ra.name)
    if not a_up and not b_up:
        lines_a, lines_b = _split_brain_lines(a, ra), _split_brain_lines(b, rb)
        if (ra.role == rb.role == "Primary") or lines_a or lines_b:
            return _split_brain(a, ra, ca, lines_a, b, rb, cb, lines_b)
        sa, sb = _state(ca), _state(cb)
        if "StandAlone" in (sa, sb) and sa != sb:
            alone, waiting = (a, b) if sa == "StandAlone" else (b, a)
            return Correlation(
                "drbd-disagreement",
                State.WARNING,
                f"{res}: {_p(alone.name)} is StandAlone (it will not reconnect by itself) while "
                f"{_p(waiting.name)} waits for it ({_p(sb if alone is a else sa)})",
                (
                    res,
                    f"{_p(a.name)}: {_p(ra.role)} {_p(sa)}",
                    f"{_p(b.name)}: {_p(rb.role)} {_p(sb)}",
                ),
                tuple(advice.drbd_reconnect(ra.name, alone.name)),
                (a.name, b.name),
            )
        return Correlation(
            "drbd-pair",
            State.OK,
            f"{res}: disconnected on both sides ({_p(sa)}, {_p(sb)}), no split brain in the inputs",
            (res,),
            nodes=(a.name, b.name),
        )
    if a_up != b_up:
        up, down = (a, b) if a_up else (b, a)
        down_state = _state(cb if a_up else ca)
        return Correlation(
            "drbd-disagreement",
            State.WARNING,
            f"{res}: {_p(up.name)} says Connected, {_p(down.name)} says {_p(down_state)} (the "
            "captures are of different moments, or the link works one way only)",
            (res, f"{_p(up.name)}: Connected", f"{_p(down.name)}: {_p(down_state)}"),
            nodes=(a.name, b.name),
        )
    contradictions = _contradictions(a, ra, ca, b, rb) + _contradictions(b, rb, cb, a, ra)
    if contradictions:
        return Correlation(
            "drbd-disagreement",
            State.WARNING,
            f"{res}: the two sides contradict each other: {contradictions[0]}",
            (res, *contradictions),
            nodes=(a.name, b.name),
        )
    return Correlation(
        "drbd-pair",
        State.OK,
        f"{res}: both sides agree ({_p(ra.role)}/{_p(rb.role)}, {_p(_state(ca))})",
        (res,),
        nodes=(a.name, b.name),
    )


def _contradictions(a: NodeFacts, ra: Resource, ca: Connection, b: NodeFacts, rb: Resource):
    """What `a` says of `b` that `b` does not say of itself."""
    out = []
    if ca.peer_role not in ("", "Unknown") and ca.peer_role != rb.role:
        out.append(
            f"{_p(a.name)} says {_p(b.name)} is {_p(ca.peer_role)}, {_p(b.name)} says it is "
            f"{_p(rb.role)}"
        )
    disks = {d.volume: d.disk for d in rb.devices}
    for pd in ca.peer_devices:
        theirs = disks.get(pd.volume)
        if theirs and pd.peer_disk not in ("", "DUnknown") and pd.peer_disk != theirs:
            out.append(
                f"{_p(a.name)} says the disk of {_p(b.name)} is {_p(pd.peer_disk)}, "
                f"{_p(b.name)} says {_p(theirs)}"
            )
    return out


def _split_brain(a, ra, ca, lines_a, b, rb, cb, lines_b) -> Correlation:
    res = _p(ra.name)
    vgs = []
    for node, resource in ((a, ra), (b, rb)):
        vgs += [vg for vg in _vgs_on(node, resource) if vg not in vgs]
    vms = {a.name: _vms_on(a, vgs), b.name: _vms_on(b, vgs)}
    oos = {a.name: _out_of_sync(ca), b.name: _out_of_sync(cb)}
    items = [res, *(f"VG {_p(vg)} on {res}" for vg in vgs)]
    for node in (a, b):
        items += [f"VM {_p(vm)} runs on {_p(node.name)}" for vm in vms[node.name]]
    for node, resource, conn, lines in ((a, ra, ca, lines_a), (b, rb, cb, lines_b)):
        written = oos[node.name]
        if written is None:
            what = "writes since the split unknown"
        elif written:
            what = f"{_size(written)} out of sync: written since the split"
        else:
            what = "0 out of sync: no writes since the split as far as the inputs show"
        items.append(f"{_p(node.name)}: {_p(resource.role)} {_p(_state(conn))}, {what}")
        if lines:
            numbers = ", ".join(str(line.line) for line in lines[:3])
            said = (
                f"{_p(node.name)}: the kernel logged Split-Brain for {res} (dmesg.txt line "
                f"{numbers})"
            )
            shake = next((x for x in reversed(lines) if x.self_bits is not None), None)
            if shake is not None:
                said += f"; at its handshake {_size(shake.self_bits * 4096)} changed here"
                if shake.peer_bits is not None:
                    said += f", {_size(shake.peer_bits * 4096)} on the peer"
            items.append(said)
    # what each side wrote: its out-of-sync bytes, else the handshake's changed blocks (its own
    # log's `self`, or the peer's log's `peer`)
    written = {
        a.name: oos[a.name] if oos[a.name] is not None else _handshake_bits(lines_a, lines_b),
        b.name: oos[b.name] if oos[b.name] is not None else _handshake_bits(lines_b, lines_a),
    }
    measure = "out of sync" if written == oos else "changed"
    victim, survivor, why = _victim(a, b, written, vms, measure)
    version = _drbd_version(victim) or _drbd_version(survivor) or "8.4"
    dual = any(
        d.resource == ra.name and d.dual_primary for node in (a, b) for d in node.drbd_backing or []
    ) or (ra.role == rb.role == "Primary")
    steps = advice.split_brain_steps(
        ra.name,
        vgs,
        vms[victim.name],
        version,
        victim.name,
        survivor.name,
        victim.stack or survivor.stack or "cman",
        dual,
    )
    if why:
        summary = f"split brain on {res} between {_names((a, b))}: {why}"
    else:
        summary = (
            f"split brain on {res} between {_names((a, b))}: both sides wrote since the split "
            f"(or the inputs do not say); choose the victim (its writes are lost): the "
            f"sequence below is for {_p(victim.name)}"
        )
        steps = [
            f"# both sides may hold writes of their own: choose the victim; the steps are for "
            f"{_p(victim.name)} (swap the two names to keep its data instead)",
            *steps,
        ]
    return Correlation(
        "drbd-split-brain",
        State.CRITICAL,
        summary,
        tuple(items),
        tuple(printable(line) for line in steps),
        (a.name, b.name),
    )


def _handshake_bits(own: list, peer: list) -> int | None:
    for line in reversed(own):
        if line.self_bits is not None:
            return line.self_bits * 4096
    for line in reversed(peer):
        if line.peer_bits is not None:
            return line.peer_bits * 4096
    return None


def _victim(a, b, oos, vms, measure: str = "out of sync") -> tuple[NodeFacts, NodeFacts, str]:
    """(victim, survivor, why): the side with no (or fewer) writes since the split is the
    suggested victim; when the inputs cannot tell, why is "" and the example victim is the
    side with fewer VMs on the resource (the smaller disruption)."""
    wa, wb = oos[a.name], oos[b.name]
    if wa is not None and wb is not None and wa != wb:
        victim, survivor = (a, b) if wa < wb else (b, a)
        written = min(wa, wb)
        if written == 0:
            why = (
                f"{_p(victim.name)} has not written since the split (0 {measure}), "
                f"{_p(survivor.name)} has: {_p(victim.name)} is the victim"
            )
        else:
            why = (
                f"both sides wrote since the split ({_p(a.name)} {_size(wa)}, {_p(b.name)} "
                f"{_size(wb)} {measure}): the suggested victim is {_p(victim.name)}, it wrote "
                f"less; its writes are lost, check them first"
            )
        return victim, survivor, why
    if len(vms[a.name]) < len(vms[b.name]):
        return a, b, ""
    return b, a, ""


def _drbd_version(node: NodeFacts) -> str | None:
    if node.drbd is not None and node.drbd.version:
        return node.drbd.version
    return node.drbd_kernel_version


# --- a VM active on several nodes -----------------------------------------------------------


def _vms_twice(nodes: list[NodeFacts]) -> list[Correlation]:
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
        items = [f"VM {_p(vm)}", *(f"runs on {_p(n.name)}" for n in where)]
        if len(claims) == 1:
            owner = next(iter(claims))
            owner_node = next((n for n in where if same_node(n.name, owner)), None)
            if owner_node is None:
                items.append(f"the cluster places it on {_p(owner)}, where it does not run")
            else:
                items.append(f"the cluster owns the copy on {_p(owner_node.name)}")
        elif len(claims) > 1:
            items.append(
                "the nodes disagree on its owner: "
                + "; ".join(
                    f"{_names(seen)} say {_p(owner)}" for owner, seen in sorted(claims.items())
                )
            )
        others = [n for n in where if n is not owner_node]
        stack = (owner_node or where[0]).stack or "cman"
        steps = advice.vm_active_twice(
            vm, owner_node.name if owner_node else None, [n.name for n in others], stack
        )
        if owner_node:
            summary = (
                f"{_p(vm)} runs on {_names(where)} at once (two writers on its disks); the "
                f"cluster owns the copy on {_p(owner_node.name)}: stop it on {_names(others)}"
            )
        else:
            summary = (
                f"{_p(vm)} runs on {_names(where)} at once (two writers on its disks) and no "
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


# --- membership -----------------------------------------------------------------------------


def _members(node: NodeFacts) -> frozenset[str] | None:
    cluster = node.cluster
    if cluster is None or not cluster.running:
        return None
    members = frozenset(short(n.name) for n in cluster.cluster_nodes if n.member)
    return members or None


def _membership(nodes: list[NodeFacts]) -> list[Correlation]:
    views = [(n, _members(n)) for n in nodes]
    views = [(n, m) for n, m in views if m is not None]
    if len(views) < 2:
        return []
    if len({m for _, m in views}) == 1:
        members = ", ".join(sorted(_p(m) for m in views[0][1]))
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
        items.append(
            f"{_p(node.name)} sees {', '.join(sorted(_p(m) for m in members))} ({quorate})"
        )
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
            f"stonith-enabled=false on {_names(fencing_off)}: nothing fences the other side"
        )
    partitions = []
    for node, members in views:
        if node.cluster.quorate and members not in [m for _, m in partitions]:
            partitions.append((node, members))
    stack = views[0][0].stack or "cman"
    if split:
        names = sorted({n.name for pair in split for n in pair})
        return [
            Correlation(
                "split-cluster",
                State.CRITICAL,
                f"the cluster is split: {len(partitions)} partitions hold quorum at once ("
                + "; ".join(
                    f"{_p(n.name)} with {', '.join(sorted(_p(x) for x in m))}"
                    for n, m in partitions
                )
                + "): each may run the VMs and promote DRBD",
                tuple(items),
                tuple(
                    advice.split_cluster([n.name for n, _ in partitions], stack, bool(fencing_off))
                ),
                tuple(names),
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


# --- configuration drift --------------------------------------------------------------------


def _first_difference(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    for number, (x, y) in enumerate(zip(a, b), 1):
        if x != y:
            return number
    return min(len(a), len(b)) + 1


def _drift(nodes: list[NodeFacts]) -> list[Correlation]:
    found = []
    same = []
    for file in DRIFT_FILES:
        having = [n for n in nodes if file in n.configs]
        if len(having) < 2:
            continue
        digests = {n.configs[file].digest for n in having}
        if len(digests) == 1:
            same.append(file)
            continue
        first = having[0]
        items = [file]
        versions = {n.name: n.configs[file].version for n in having}
        shown = {
            name: (v if v is not None and _SAFE_NUMBER.match(v) else "?")
            for name, v in versions.items()
        }
        if file == "cluster.conf" and len(set(versions.values())) > 1:
            summary = "cluster.conf differs: config_version " + ", ".join(
                f"{shown[n.name]} on {_p(n.name)}" for n in having
            )
        else:
            line = min(
                _first_difference(first.configs[file].lines, n.configs[file].lines)
                for n in having[1:]
                if n.configs[file].digest != first.configs[file].digest
            )
            summary = f"{file} differs between {_names(having)} from line {line}"
            if file == "cluster.conf":
                summary += f" with the same config_version {shown[first.name]}"
        items += [
            f"{_p(n.name)}: config_version {shown[n.name]}" if file == "cluster.conf"
            else f"{_p(n.name)}: digest {n.configs[file].digest[:12]}"
            for n in having
        ]  # fmt: skip
        newest = None
        if file == "cluster.conf":
            numbers = {n.name: int(shown[n.name]) for n in having if shown[n.name] != "?"}
            if numbers and list(numbers.values()).count(max(numbers.values())) == 1:
                newest = max(numbers, key=numbers.get)
        found.append(
            Correlation(
                "config-drift",
                State.WARNING,
                summary,
                tuple(items),
                tuple(advice.config_drift(file, newest, first.stack or "cman")),
                tuple(n.name for n in having),
            )
        )
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
                            f"{_value(n.lvm_settings.get(key))} on {_p(n.name)}" for n in having
                        )
                    )
            found.append(
                Correlation(
                    "config-drift",
                    State.WARNING,
                    f"lvm.conf {', '.join(differing)} differs between {_names(having)}",
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
                + ", ".join(f"{_version(value_of(n))} on {_p(n.name)}" for n in having),
                (what, *(f"{_p(n.name)}: {_version(value_of(n))}" for n in having)),
                tuple(advice.config_drift(what, None, having[0].stack or "cman")),
                tuple(n.name for n in having),
            )
        )
    if same and not found:
        found.append(
            Correlation(
                "config-same",
                State.OK,
                f"the same on {_names(nodes)}: {', '.join(same)}",
                tuple(same),
                nodes=tuple(n.name for n in nodes),
            )
        )
    return found


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
