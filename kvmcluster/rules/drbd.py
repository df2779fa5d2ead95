"""DRBD health: DrbdStatus (+ drbd.conf resources) -> one Finding per resource."""

from __future__ import annotations

import re
from functools import partial

from kvmcluster.model.drbd import ConfiguredResource, DrbdStatus, PeerDevice, Resource
from kvmcluster.model.findings import (
    Finding,
    Perf,
    PerfColumns,
    PerfRow,
    Report,
    State,
    Summary,
    Verdict,
    human_bytes,
)
from kvmcluster.model.record import factory, record, replace

ROLES = ("any", "primary", "secondary", "dual-primary")

# Disk states that are fine / passing through / broken, for the local and the peer disk.
_TRANSITIONAL_DISK = {"Attaching", "Detaching", "Negotiating", "Consistent"}
_BROKEN_DISK = {"Failed", "Outdated", "DUnknown", "Diskless"}


class NoBytes:
    """The default --oos-warning, the Nagios range "0": any out-of-sync byte warns. The
    front end hands in nagiosplugin.Range objects for the options; a rule only calls
    `match()` and `str()` on them, so it needs no nagiosplugin."""

    def match(self, value: float) -> bool:
        return value == 0

    def __str__(self) -> str:
        return "0"


@record
class DrbdPolicy:
    role: str = "any"
    oos_warning: object | None = factory(NoBytes)  # a range: .match(value), str()
    oos_critical: object | None = None
    include: list[str] = factory(list)
    exclude: list[str] = factory(list)
    # a running resync: without these, WARNING; with them, OK inside every warning range,
    # WARNING outside one, CRITICAL outside a critical one (ranges on percent done, seconds left)
    sync_warning: object | None = None
    sync_critical: object | None = None
    eta_warning: object | None = None
    eta_critical: object | None = None
    stalled_state: State = State.WARNING  # a resync without progress (--stalled-critical)

    @property
    def judges_resync(self) -> bool:
        return any(
            r is not None
            for r in (self.sync_warning, self.sync_critical, self.eta_warning, self.eta_critical)
        )


def name_minors(status: DrbdStatus, configured: list[ConfiguredResource] | None) -> DrbdStatus:
    """Give /proc/drbd minors their resource names from drbd.conf (volume suffix if several)."""
    if not configured:
        return status
    by_minor: dict[int, str] = {}
    for res in configured:
        for volume, minor in enumerate(res.minors):
            by_minor[minor] = res.name if len(res.minors) == 1 else f"{res.name}/{volume}"
    renamed = []
    for resource in status.resources:
        minors = resource.minors
        if resource.name.startswith("drbd") and len(minors) == 1 and minors[0] in by_minor:
            resource = replace(resource, name=by_minor[minors[0]])
        renamed.append(resource)
    return replace(status, resources=renamed)


def _matches(resource_name: str, minors: list[int], selectors: list[str]) -> bool:
    keys = {resource_name, resource_name.split("/")[0]}
    for minor in minors:
        keys |= {str(minor), f"drbd{minor}", f"/dev/drbd{minor}"}
    return bool(keys & set(selectors))


def _selected(name: str, minors: list[int], policy: DrbdPolicy) -> bool:
    if not policy.include and not policy.exclude:
        return True
    if policy.include and not _matches(name, minors, policy.include):
        return False
    return not _matches(name, minors, policy.exclude)


def human_duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


_NOT_IN_LABEL = re.compile(r"[^A-Za-z0-9_.-]")


def perf_label(name: str) -> str:
    """A perfdata label that needs no quoting: resource names may hold '/', '.' or others."""
    if name.isascii() and name.isalnum():  # drbd0, r0: the usual names, no regex needed
        return name
    return _NOT_IN_LABEL.sub("_", name)


def _check_disk(verdict: Verdict, disk: str, client: bool, resyncing: bool, who: str) -> None:
    if disk == "UpToDate" or (disk == "Diskless" and client):
        return
    if disk == "Inconsistent":
        if not resyncing:
            verdict.add(State.CRITICAL, f"{who} Inconsistent, no resync running", "drbd-disk")
    elif disk in _BROKEN_DISK:
        verdict.add(State.CRITICAL, f"{who} {disk}", "drbd-disk")
    elif disk in _TRANSITIONAL_DISK:
        verdict.add(State.WARNING, f"{who} {disk}", "drbd-disk")
    else:
        verdict.add(State.WARNING, f"{who} in unexpected state {disk}", "drbd-disk")


def _resume_command(resource: Resource) -> str:
    if resource.name.startswith("drbd") and resource.name[4:].isdigit():  # an unnamed minor
        return f"drbdadm resume-sync <resource of /dev/{resource.name}>"
    return f"drbdadm resume-sync {resource.name}"


def _paused_text(peer: PeerDevice, resource: Resource) -> str:
    """Why a resync is paused and what resumes it (DRBD 9 resync-suspended, 8.x I/O flags)."""
    words = []
    for reason in peer.resync_suspended.split(","):
        if reason == "user":
            words.append(f"paused by the user here: {_resume_command(resource)}")
        elif reason == "peer":
            words.append(f"paused by the peer: {_resume_command(resource)} on the peer")
        elif reason == "dependency":
            words.append("waits for the resync of its resync-after resource")
        elif reason == "max-parallel":
            words.append("waits: c-max-parallel resyncs already run")
        elif reason:
            words.append(f"paused: {reason}")
    return ", ".join(words)


def _resync_text(peer: PeerDevice, connection_label: str, resource: Resource | None = None) -> str:
    text = f"{peer.replication}{connection_label}"
    percent = peer.resync_done_percent
    if percent is None and peer.in_sync_percent is not None:
        percent = peer.in_sync_percent
    if percent is not None:
        text += f" {percent:.1f}% done"
    if peer.eta_seconds is not None:
        text += f", ETA {human_duration(peer.eta_seconds)}"
    paused = peer.resync_suspended not in ("no", "")
    if peer.stalled and not paused:  # a paused resync makes no progress: no news
        text += " (stalled)"
    if paused and resource is not None:
        text += f" ({_paused_text(peer, resource)})"
    elif paused:
        text += f" (paused: {peer.resync_suspended})"
    return text


def _oos_total(resource: Resource) -> int | None:
    """Bytes not yet on every peer: per volume the largest gap among peers, summed."""
    per_volume: dict[int, int] = {}
    seen = False
    for connection in resource.connections:
        for peer in connection.peer_devices:
            if peer.out_of_sync is None:
                continue
            seen = True
            per_volume[peer.volume] = max(per_volume.get(peer.volume, 0), peer.out_of_sync)
    return sum(per_volume.values()) if seen else None


def _sync_percent(resource: Resource) -> float | None:
    values = []
    for connection in resource.connections:
        for peer in connection.peer_devices:
            if peer.resyncing and peer.resync_done_percent is not None:
                values.append(peer.resync_done_percent)
            elif peer.in_sync_percent is not None:
                values.append(peer.in_sync_percent)
            elif connection.connected and peer.replication == "Established":
                values.append(100.0 if not peer.out_of_sync else None)
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _describe(resource: Resource) -> str:
    disks = "/".join(
        "Diskless (client)" if d.client and d.disk == "Diskless" else d.disk
        for d in resource.devices
    )
    minors = ",".join(str(m) for m in resource.minors)
    parts = [f"{resource.name}{f' (minor {minors})' if minors else ''}: {resource.role} {disks}"]
    for connection in resource.connections:
        peer_disks = "/".join(p.peer_disk for p in connection.peer_devices) or "-"
        who = f"peer {connection.peer_name}" if connection.peer_name else "peer"
        repl = {p.replication for p in connection.peer_devices} - {"Established", "Off"}
        extra = f" {'/'.join(sorted(repl))}" if repl else ""
        parts.append(
            f"{who} {connection.state}{extra} {connection.peer_role} {peer_disks}".rstrip()
        )
    if not resource.connections:
        parts.append("no peer connection")
    oos = _oos_total(resource)
    if oos:
        parts.append(f"{human_bytes(oos)} out of sync")
    return "; ".join(parts)


_EXPECTED_LOCAL_ROLE = {"primary": "Primary", "secondary": "Secondary", "dual-primary": "Primary"}


def _plainly_healthy(resource: Resource, policy: DrbdPolicy) -> bool:
    """The common case, decided quickly: one volume, one peer, Connected, UpToDate on both
    sides, nothing out of sync, roles as expected."""
    devices, connections = resource.devices, resource.connections
    if resource.suspended or len(devices) != 1 or len(connections) != 1:
        return False
    device, connection = devices[0], connections[0]
    if len(connection.peer_devices) != 1:
        return False
    peer = connection.peer_devices[0]
    return (
        device.disk == "UpToDate"
        and device.quorum is not False
        and connection.state == "Connected"
        and peer.replication == "Established"
        and peer.peer_disk == "UpToDate"
        and not peer.out_of_sync
        and resource.role == _EXPECTED_LOCAL_ROLE.get(policy.role, resource.role)
        and (policy.role != "dual-primary" or connection.peer_role == "Primary")
    )


def evaluate_resource(resource: Resource, policy: DrbdPolicy) -> Finding:
    """Problems in the order an admin acts on them: I/O, quorum, link, disks, roles, data."""
    verdict = Verdict()
    if resource.suspended:
        reasons = [r for r in resource.suspended if r != "io"]
        verdict.add(
            State.CRITICAL,
            "I/O suspended" + (f" ({', '.join(reasons)})" if reasons else ""),
            "drbd-suspended",
        )
    if any(device.quorum is False for device in resource.devices):
        verdict.add(State.CRITICAL, "quorum lost", "drbd-quorum-lost")
    several_peers = len(resource.connections) > 1
    if not resource.connections:
        verdict.add(State.CRITICAL, "no peer connection", "drbd-disconnected")
    for connection in resource.connections:
        label = f" to {connection.peer_name}" if several_peers and connection.peer_name else ""
        if connection.state == "StandAlone":
            verdict.add(
                State.CRITICAL, f"StandAlone{label} (possible split brain)", "drbd-standalone"
            )
        elif not connection.connected:
            verdict.add(
                State.CRITICAL,
                f"{connection.state}{label} (peer not connected)",
                "drbd-disconnected",
            )
    resyncing_volumes = {
        p.volume for c in resource.connections for p in c.peer_devices if p.resyncing
    }
    for device in resource.devices:
        who = "disk" if len(resource.devices) == 1 else f"disk of volume {device.volume}"
        _check_disk(verdict, device.disk, device.client, device.volume in resyncing_volumes, who)
    for connection in resource.connections:
        if not connection.connected:
            continue
        label = f" to {connection.peer_name}" if several_peers and connection.peer_name else ""
        for peer in connection.peer_devices:
            if peer.resyncing:
                paused = peer.resync_suspended.split(",")
                fix = _resume_command(resource) if {"user", "peer"} & set(paused) else ""
                state, kind = _resync_state(peer, policy)
                verdict.add(state, _resync_text(peer, label, resource), kind, fix)
            elif peer.replication != "Established":
                verdict.add(
                    State.WARNING, f"replication {peer.replication}{label}", "drbd-replication"
                )
            _check_disk(
                verdict, peer.peer_disk, peer.peer_client, peer.resyncing, f"peer disk{label}"
            )
    want = _EXPECTED_LOCAL_ROLE.get(policy.role)
    if want and resource.role != want:
        verdict.add(State.CRITICAL, f"role {resource.role}, expected {want}", "drbd-role")
    if policy.role == "dual-primary":
        for connection in resource.connections:
            if connection.connected and connection.peer_role != "Primary":
                label = f" of {connection.peer_name}" if connection.peer_name else ""
                verdict.add(
                    State.CRITICAL,
                    f"peer role{label} {connection.peer_role}, expected Primary (dual-primary)",
                    "drbd-role",
                )
    if not verdict.problems:
        _check_out_of_sync(verdict, resource, policy)
    return verdict.finding(resource.name, partial(_describe, resource))


def _resync_percent(peer: PeerDevice) -> float | None:
    if peer.resync_done_percent is not None:
        return peer.resync_done_percent
    return peer.in_sync_percent


def _resync_state(peer: PeerDevice, policy: DrbdPolicy) -> tuple[State, str]:
    """A running resync or verify: paused and stalled ones are WARNING (stalled: the policy's
    state); others WARNING, or judged by the --sync-*/--eta-* ranges that can judge them."""
    if peer.resync_suspended not in ("no", ""):
        return State.WARNING, "drbd-resync-paused"
    if peer.stalled:
        return policy.stalled_state, "drbd-resync-stalled"
    if not policy.judges_resync:
        return State.WARNING, "drbd-resync"
    percent, eta = _resync_percent(peer), peer.eta_seconds
    judged, state = False, State.OK
    for value, warning, critical in (
        (percent, policy.sync_warning, policy.sync_critical),
        (eta, policy.eta_warning, policy.eta_critical),
    ):
        if value is None:
            continue
        if critical is not None:
            judged = True
            if not critical.match(value):
                state = State.CRITICAL
        if warning is not None:
            judged = True
            if not warning.match(value) and state == State.OK:
                state = State.WARNING
    return (state if judged else State.WARNING), "drbd-resync"


def _check_out_of_sync(verdict: Verdict, resource: Resource, policy: DrbdPolicy) -> None:
    settled = all(
        c.connected and all(not p.resyncing for p in c.peer_devices) for c in resource.connections
    )
    oos = _oos_total(resource)
    if not settled or not oos or not resource.connections:
        return
    text = f"{human_bytes(oos)} out of sync"
    if policy.oos_critical is not None and not policy.oos_critical.match(oos):
        verdict.add(State.CRITICAL, text, "drbd-out-of-sync")
    elif policy.oos_warning is not None and not policy.oos_warning.match(oos):
        verdict.add(State.WARNING, text, "drbd-out-of-sync")


def _healthy_perfdata(
    resource: Resource, warn: str, crit: str, columns: PerfColumns
) -> list[Perf | PerfRow]:
    """Perfdata of a plainly healthy resource: one PerfRow when every counter is known (the
    common case, 1,000 times on big clusters)."""
    peer, device = resource.connections[0].peer_devices[0], resource.devices[0]
    values = (
        peer.out_of_sync,
        100,  # synced: nothing out of sync on the only peer
        peer.sent,
        peer.received,
        device.read,
        device.written,
        peer.pending,
        peer.unacked,
    )
    if None in values:
        return _perfdata(resource, _oos_total(resource), warn, crit)
    return [PerfRow(perf_label(resource.name), values, columns)]


def _eta(resource: Resource) -> int | None:
    """Seconds left of the slowest running resync (None: none runs, or no ETA given)."""
    etas = [
        p.eta_seconds
        for c in resource.connections
        for p in c.peer_devices
        if p.resyncing and p.eta_seconds is not None
    ]
    return max(etas) if etas else None


def _perfdata(
    resource: Resource, oos: int | None, warn: str, crit: str, policy: DrbdPolicy | None = None
) -> list[Perf]:
    """Per resource: out-of-sync bytes, sync percent, ETA of a resync, traffic counters and
    queue lengths; each carries the thresholds applied to it."""
    label = perf_label(resource.name)
    sync_warn, sync_crit, eta_warn, eta_crit = (
        "" if r is None else str(r)
        for r in (
            (policy.sync_warning, policy.sync_critical, policy.eta_warning, policy.eta_critical)
            if policy is not None
            else (None,) * 4
        )
    )
    perf = []
    if oos is not None:
        perf.append(Perf("oos", oos, "B", warn, crit, 0, None, label))
    sync = _sync_percent(resource)
    if sync is not None:
        perf.append(Perf("sync", round(sync, 2), "%", sync_warn, sync_crit, 0, 100, label))
    eta = _eta(resource)
    if eta is not None:
        perf.append(Perf("eta", eta, "s", eta_warn, eta_crit, 0, None, label))
    speeds = [
        p.resync_speed
        for c in resource.connections
        for p in c.peer_devices
        if p.resyncing and p.resync_speed is not None
    ]
    if speeds:
        perf.append(Perf("speed", sum(speeds), "B", "", "", 0, None, label))
    totals = _totals(resource)
    for key, uom in _COUNTERS:
        value = totals.get(key)
        if value is not None:
            perf.append(Perf(key, value, uom, "", "", 0, None, label))
    return perf


def _perf_columns(warn: str, crit: str) -> PerfColumns:
    """The columns of a resource's PerfRow: the same metrics, units and order as its Perfs."""
    return PerfColumns(
        ("oos", "B", warn, crit, 0, None),
        ("sync", "%", "", "", 0, 100),
        *((key, uom, "", "", 0, None) for key, uom in _COUNTERS),
    )


def _totals(resource: Resource) -> dict[str, int]:
    """Counters summed over every volume and peer."""
    totals: dict[str, int] = {}
    for connection in resource.connections:
        for peer in connection.peer_devices:
            for key, value in (
                ("net_sent", peer.sent),
                ("net_received", peer.received),
                ("pending", peer.pending),
                ("unacked", peer.unacked),
            ):
                if value is not None:
                    totals[key] = totals.get(key, 0) + value
    for device in resource.devices:
        for key, value in (("disk_read", device.read), ("disk_written", device.written)):
            if value is not None:
                totals[key] = totals.get(key, 0) + value
    return totals


_COUNTERS = (
    ("net_sent", "c"),
    ("net_received", "c"),
    ("disk_read", "c"),
    ("disk_written", "c"),
    ("pending", ""),
    ("unacked", ""),
)


def evaluate(
    status: DrbdStatus,
    policy: DrbdPolicy,
    configured: list[ConfiguredResource] | None = None,
) -> Report:
    report = Report()
    if not status.loaded:
        report.findings.append(
            Finding(
                "",
                State.CRITICAL,
                ("DRBD kernel module not loaded (no /proc/drbd)",),
                kinds=("drbd-not-loaded",),
                fix="modprobe drbd, then drbdadm up all (or start the drbd service)",
            )
        )
        return report
    status = name_minors(status, configured)
    resources = status.resources
    if policy.include or policy.exclude:
        resources = [r for r in resources if _selected(r.name, r.minors, policy)]
    warn = "" if policy.oos_warning is None else str(policy.oos_warning)
    crit = "" if policy.oos_critical is None else str(policy.oos_critical)
    columns = _perf_columns(warn, crit)
    findings, perfdata = report.findings, report.perfdata
    for resource in resources:
        if _plainly_healthy(resource, policy):
            findings.append(Finding(resource.name, State.OK, (), partial(_describe, resource)))
            perfdata += _healthy_perfdata(resource, warn, crit, columns)
        else:
            findings.append(evaluate_resource(resource, policy))
            perfdata += _perfdata(resource, _oos_total(resource), warn, crit, policy)
    report.findings += _not_up(status, configured, policy)
    report.ok = _ok_summary(resources)
    resyncing = [
        f"{f.item} {', '.join(f.problems)}" for f in findings if f.problems and not f.state
    ]
    if resyncing:  # resyncs inside the --sync-*/--eta-* ranges: said, not alerted
        report.ok.facts["resyncing"] = resyncing
    if not report.findings:
        what = "no DRBD resource matches -r/-x" if status.resources else "no DRBD resources"
        report.findings.append(
            Finding(
                "", State.UNKNOWN, (f"{what} in {status.source}",), kinds=("drbd-no-resources",)
            )
        )
    return report


def _not_up(
    status: DrbdStatus, configured: list[ConfiguredResource] | None, policy: DrbdPolicy
) -> list[Finding]:
    """Resources drbd.conf has but the kernel does not, and -r names that match nothing."""
    if not configured and not policy.include:
        return []
    missing = []
    up_names = {r.name.split("/")[0] for r in status.resources}
    up_minors = {m for r in status.resources for m in r.minors}
    for res in configured or []:
        if not _selected(res.name, res.minors, policy):
            continue
        up = res.name in up_names or (res.minors and set(res.minors) <= up_minors)
        if not up:
            missing.append(
                Finding(
                    res.name,
                    State.CRITICAL,
                    ("configured but not up",),
                    f"{res.name}: configured but not up",
                    ("drbd-not-up",),
                    f"drbdadm up {res.name}",
                )
            )
    known = up_names | {r.name for r in configured or []}
    for selector in policy.include:
        if not _matches_any(selector, status, configured, known):
            missing.append(
                Finding(
                    selector,
                    State.CRITICAL,
                    ("not found (resource not up?)",),
                    kinds=("drbd-not-found",),
                )
            )
    return missing


def _ok_summary(resources: list[Resource]) -> Summary:
    roles = {(r.role, *(c.peer_role for c in r.connections)) for r in resources}
    return Summary("drbd-ok", {"count": len(resources), "roles": roles})


def _matches_any(selector, status, configured, known) -> bool:
    if selector in known:
        return True
    for resource in status.resources:
        if _matches(resource.name, resource.minors, [selector]):
            return True
    return any(_matches(r.name, r.minors, [selector]) for r in configured or [])
