"""The two sides of each DRBD resource, side by side: a split brain (drbd-split-brain), two
sides that tell different stories (drbd-disagreement), or a pair that agrees (drbd-pair).
Pure; called by kvmcluster.rules.correlate with the nodes that were read."""

from __future__ import annotations

import re
from itertools import combinations

from kvmcluster import advice
from kvmcluster.model.cluster_view import Correlation, NodeFacts
from kvmcluster.model.drbd import Connection, Resource
from kvmcluster.model.findings import State, printable
from kvmcluster.model.vms import same_node, vg_of
from kvmcluster.rules.correlate_text import names, p, size

_DRBD_DEVICE = re.compile(r"^/dev/drbd([0-9]{1,9})$")
_BY_RES = re.compile(r"^/dev/drbd/by-res/([^/]+)(?:/[0-9]+)?$")


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


def drbd_pairs(nodes: list[NodeFacts]) -> list[Correlation]:
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
    if _configured_apart(resource.name, up, other):
        return []
    return [resource]


def _up_on_one_side(up: NodeFacts, resources: list[Resource], other: NodeFacts):
    """The resources up on one node only: one finding for them all (a module not loaded on
    the other node takes every resource with it)."""
    if not resources:
        return []
    why = "DRBD is not loaded" if not other.drbd.loaded else "not up"
    names = ", ".join(p(r.name) for r in resources)
    states = [f"{p(r.name)} {p(r.role)} {p(_state(_connection(r, other)))}" for r in resources]
    return [
        Correlation(
            "drbd-disagreement",
            State.WARNING,
            f"{names} up on {p(up.name)} only ({'; '.join(states)}); on {p(other.name)}: {why}",
            (
                *(p(r.name) for r in resources),
                f"{p(up.name)}: {', '.join(states)}",
                f"{p(other.name)}: {why}",
            ),  # fmt: skip
            tuple(advice.drbd_one_side([r.name for r in resources], other.name, other.drbd.loaded)),
            (up.name, other.name),
        )
    ]


def _configured_apart(name: str, a: NodeFacts, b: NodeFacts) -> bool:
    """A drbd.conf that names the resource's hosts without the other node: the two hold
    resources of the same name with other peers (a bigger cluster of DRBD pairs)."""
    for node, other in ((a, b), (b, a)):
        for configured in node.drbd_configured or []:
            hosts = configured.hosts if configured.name == name else []
            if hosts and not any(same_node(host, other.name) for host in hosts):
                return True
    return False


def _pair(a: NodeFacts, ra: Resource, b: NodeFacts, rb: Resource) -> list[Correlation]:
    """The two sides of one resource; [] when one side has no connection to the other (DRBD 9
    names its peers: a resource of the same name among other nodes is not this pair's) or
    drbd.conf puts the resource on other hosts."""
    ca, cb = _connection(ra, b), _connection(rb, a)
    if ca is None or cb is None or _configured_apart(ra.name, a, b):
        return []
    return [_sides(a, ra, ca, b, rb, cb)]


def _sides(a, ra: Resource, ca: Connection, b, rb: Resource, cb: Connection) -> Correlation:
    a_up = ca is not None and ca.connected
    b_up = cb is not None and cb.connected
    res = p(ra.name)
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
                f"{res}: {p(alone.name)} is StandAlone (it will not reconnect by itself) while "
                f"{p(waiting.name)} waits for it ({p(sb if alone is a else sa)})",
                (
                    res,
                    f"{p(a.name)}: {p(ra.role)} {p(sa)}",
                    f"{p(b.name)}: {p(rb.role)} {p(sb)}",
                ),
                tuple(advice.drbd_reconnect(ra.name, alone.name)),
                (a.name, b.name),
            )
        return Correlation(
            "drbd-pair",
            State.OK,
            f"{res}: disconnected on both sides ({p(sa)}, {p(sb)}), no split brain in the inputs",
            (res,),
            nodes=(a.name, b.name),
        )
    if a_up != b_up:
        up, down = (a, b) if a_up else (b, a)
        down_state = _state(cb if a_up else ca)
        return Correlation(
            "drbd-disagreement",
            State.WARNING,
            f"{res}: {p(up.name)} says Connected, {p(down.name)} says {p(down_state)} (the "
            "captures are of different moments, or the link works one way only)",
            (res, f"{p(up.name)}: Connected", f"{p(down.name)}: {p(down_state)}"),
            tuple(advice.drbd_recheck(ra.name, [a.name, b.name])),
            (a.name, b.name),
        )
    contradictions = _contradictions(a, ra, ca, b, rb) + _contradictions(b, rb, cb, a, ra)
    if contradictions:
        return Correlation(
            "drbd-disagreement",
            State.WARNING,
            f"{res}: the two sides contradict each other: {contradictions[0]}",
            (res, *contradictions),
            tuple(advice.drbd_recheck(ra.name, [a.name, b.name])),
            (a.name, b.name),
        )
    return Correlation(
        "drbd-pair",
        State.OK,
        f"{res}: both sides agree ({p(ra.role)}/{p(rb.role)}, {p(_state(ca))})",
        (res,),
        nodes=(a.name, b.name),
    )


def _contradictions(a: NodeFacts, ra: Resource, ca: Connection, b: NodeFacts, rb: Resource):
    """What `a` says of `b` that `b` does not say of itself."""
    out = []
    if ca.peer_role not in ("", "Unknown") and ca.peer_role != rb.role:
        out.append(
            f"{p(a.name)} says {p(b.name)} is {p(ca.peer_role)}, {p(b.name)} says it is "
            f"{p(rb.role)}"
        )
    disks = {d.volume: d.disk for d in rb.devices}
    for pd in ca.peer_devices:
        theirs = disks.get(pd.volume)
        if theirs and pd.peer_disk not in ("", "DUnknown") and pd.peer_disk != theirs:
            out.append(
                f"{p(a.name)} says the disk of {p(b.name)} is {p(pd.peer_disk)}, "
                f"{p(b.name)} says {p(theirs)}"
            )
    return out


def _split_brain(a, ra, ca, lines_a, b, rb, cb, lines_b) -> Correlation:
    res = p(ra.name)
    vgs = []
    for node, resource in ((a, ra), (b, rb)):
        vgs += [vg for vg in _vgs_on(node, resource) if vg not in vgs]
    vms = {a.name: _vms_on(a, vgs), b.name: _vms_on(b, vgs)}
    oos = {a.name: _out_of_sync(ca), b.name: _out_of_sync(cb)}
    items = [res, *(f"VG {p(vg)} on {res}" for vg in vgs)]
    for node in (a, b):
        items += [f"VM {p(vm)} runs on {p(node.name)}" for vm in vms[node.name]]
    for node, resource, conn, lines in ((a, ra, ca, lines_a), (b, rb, cb, lines_b)):
        written = oos[node.name]
        if written is None:
            what = "writes since the split unknown"
        elif written:
            what = f"{size(written)} out of sync: written since the split"
        else:
            what = "0 out of sync: no writes since the split as far as the inputs show"
        items.append(f"{p(node.name)}: {p(resource.role)} {p(_state(conn))}, {what}")
        if lines:
            numbers = ", ".join(str(line.line) for line in lines[:3])
            said = (
                f"{p(node.name)}: the kernel logged Split-Brain for {res} (dmesg.txt line "
                f"{numbers})"
            )
            shake = next((x for x in reversed(lines) if x.self_bits is not None), None)
            if shake is not None:
                said += f"; at its handshake {size(shake.self_bits * 4096)} changed here"
                if shake.peer_bits is not None:
                    said += f", {size(shake.peer_bits * 4096)} on the peer"
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
        summary = f"split brain on {res} between {names((a, b))}: {why}"
    else:
        summary = (
            f"split brain on {res} between {names((a, b))}: both sides wrote since the split "
            f"(or the inputs do not say); choose the victim (its writes are lost): the "
            f"sequence below is for {p(victim.name)}"
        )
        steps = [
            f"# both sides may hold writes of their own: choose the victim; the steps are for "
            f"{p(victim.name)} (swap the two names to keep its data instead)",
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
                f"{p(victim.name)} has not written since the split (0 {measure}), "
                f"{p(survivor.name)} has: {p(victim.name)} is the victim"
            )
        else:
            why = (
                f"both sides wrote since the split ({p(a.name)} {size(wa)}, {p(b.name)} "
                f"{size(wb)} {measure}): the suggested victim is {p(victim.name)}, it wrote "
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
