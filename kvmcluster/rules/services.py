"""Service and resource states: rgmanager groups (services, VMs) and Pacemaker resources."""

from __future__ import annotations

from kvmcluster.model.cluster import FailedAction, LocationConstraint, Service, ServicesStatus
from kvmcluster.model.findings import Finding, Perf, Report, State, Summary, Verdict
from kvmcluster.model.record import factory, record

RGMANAGER_STATES = {
    "started": State.OK,
    "starting": State.WARNING,
    "stopping": State.WARNING,
    "migrating": State.WARNING,
    "checking": State.WARNING,
    "recovering": State.WARNING,
    "stopped": State.WARNING,
    "disabled": State.WARNING,
    "failed": State.CRITICAL,
    "recoverable": State.CRITICAL,
    "uninitialized": State.CRITICAL,
}
RGMANAGER_KINDS = {
    "failed": "service-failed",
    "recoverable": "service-failed",
    "stopped": "service-stopped",
    "disabled": "service-disabled",
    "recovering": "service-recovering",
}
LEFTOVER_PREFIXES = ("cli-ban-", "cli-prefer-")


@record
class ServicesPolicy:
    include: list[str] = factory(list)
    exclude: list[str] = factory(list)
    ignore_disabled: bool = False
    failcount_warning: int = 1
    promoted: int | None = None  # None: the clone's promoted-max from the CIB, else 1


def _names(service: Service) -> set[str]:
    return {service.name, service.name.split(":", 1)[-1]}


def _selected(service: Service, policy: ServicesPolicy) -> bool:
    if policy.include and not _names(service) & set(policy.include):
        return False
    return not _names(service) & set(policy.exclude)


def _intended(service: Service, status: ServicesStatus) -> bool:
    """Disabled on purpose: autostart="0" in cluster.conf."""
    return service.state == "disabled" and service.name in (status.autostart_off or ())


def _rgmanager(service: Service, policy: ServicesPolicy, intended: bool = False) -> Finding:
    verdict = Verdict()
    state = RGMANAGER_STATES.get(service.state, State.UNKNOWN)
    if service.state == "disabled" and (policy.ignore_disabled or intended):
        state = State.OK
    if state != State.OK:
        where = f" (last on {service.last_owner})" if service.last_owner else ""
        verdict.add(
            state, f"{service.state}{where}", RGMANAGER_KINDS.get(service.state, "service-state")
        )
    for flag in service.flags:
        verdict.add(State.WARNING, flag, "service-flag")
    where = f"on {service.owner}" if service.owner else "nowhere"
    detail = f"{service.name}: {service.state} {where}"
    if intended:
        detail += " (autostart=0 in cluster.conf: disabled on purpose)"
    if service.since:
        detail += f" since {service.since}"
    if service.restarts:
        detail += f", {service.restarts} restarts"
    return verdict.finding(service.name, detail)


def _pacemaker(
    service: Service,
    policy: ServicesPolicy,
    failures: list[FailedAction],
    leftovers: list[LocationConstraint],
    status: ServicesStatus | None = None,
) -> Finding:
    verdict = Verdict()
    status = status or ServicesStatus("", "pacemaker")
    disabled = (service.target_role or "").lower() == "stopped"
    if service.failed:
        verdict.add(State.CRITICAL, "failed", "service-failed")
    if service.blocked:
        verdict.add(
            State.CRITICAL,
            "blocked (crm_resource --cleanup after fixing the cause)",
            "service-blocked",
            "crm_resource --cleanup",
        )
    if service.kind == "primitive" and len(service.nodes) > 1:
        verdict.add(
            State.CRITICAL,
            f"active on {len(service.nodes)} nodes at once ({', '.join(service.nodes)})",
            "service-active-twice",
        )
    unclean = [n for n in service.nodes if n in status.unclean_nodes]
    if unclean:
        verdict.add(
            State.CRITICAL,
            f"state unknown on UNCLEAN {', '.join(unclean)} (until fencing succeeds)",
            "service-unclean",
        )
    if not service.nodes:
        if disabled:
            if not policy.ignore_disabled:
                verdict.add(State.WARNING, "disabled (target-role Stopped)", "service-disabled")
        elif status.options.get("stop-all-resources", "").lower() == "true":
            verdict.add(
                State.WARNING,
                "stopped by the cluster option stop-all-resources=true",
                "service-stopped",
            )
        elif _fencing_node_away(service, status):
            away = ", ".join(status.unavailable_nodes)
            verb = "is" if len(status.unavailable_nodes) == 1 else "are"
            verdict.add(
                State.WARNING,
                f"stopped while {away} {verb} offline or in standby (fencing redundancy degraded)",
                "service-fencing-degraded",
            )
        else:
            verdict.add(State.CRITICAL, "stopped although it should run", "service-stopped")
    if service.kind == "bundle" and service.nodes:
        stopped = [r for r, where in service.replicas if not where]
        if stopped:
            verdict.add(
                State.WARNING,
                f"replica {', '.join(stopped)} stopped "
                f"({len(service.replicas) - len(stopped)} of {len(service.replicas)} running)",
                "service-replica-stopped",
            )
    if service.kind in ("clone", "promotable") and service.nodes and not disabled:
        missing = _clone_missing(service, status)
        if missing:
            running = len(service.nodes)
            verdict.add(
                State.WARNING,
                f"not running on {', '.join(missing)} (online; {running} of "
                f"{running + len(missing)} instances running)",
                "service-clone-partial",
            )
    if service.kind == "promotable" and service.nodes and not disabled:
        promoted = len(service.promoted_nodes)
        expected = policy.promoted
        if expected is None:
            # the CIB's promoted-max, but never more than the cluster has nodes
            expected = status.promoted_max.get(service.name, 1)
            if status.node_count:
                expected = max(1, min(expected, status.node_count))
        if promoted < expected:
            where = f" ({', '.join(service.promoted_nodes)})" if promoted else ""
            verdict.add(
                State.CRITICAL,
                f"promoted on {promoted} node{'s' if promoted != 1 else ''}"
                f"{where}, expected {expected}",
                "service-not-promoted",
            )
    if service.orphaned and service.nodes:
        verdict.add(
            State.WARNING, "orphaned (no longer configured) but still active", "service-orphaned"
        )
    if service.failure_ignored:
        verdict.add(
            State.WARNING, "a failure was ignored (on-fail=ignore)", "service-failure-ignored"
        )
    if not service.managed:
        verdict.add(State.WARNING, "unmanaged", "service-unmanaged")
    for node, count in sorted(service.fail_counts.items()):
        threshold = service.migration_threshold.get(node, 0)
        shown = "INFINITY" if count >= 1000000 else str(count)
        if 0 < threshold < 1000000 and count >= threshold:
            verdict.add(
                State.WARNING,
                f"fail-count {shown} on {node} reached migration-threshold {threshold} "
                f"(banned there until crm_resource --cleanup -r {service.name} -N {node})",
                "service-banned",
                f"crm_resource --cleanup -r {service.name} -N {node}",
            )
        elif 0 < threshold < 1000000 and count == threshold - 1:
            verdict.add(
                State.WARNING,
                f"fail-count {shown} on {node}, one below migration-threshold {threshold} "
                "(the next failure moves it)",
                "service-failcount",
            )
        elif count >= policy.failcount_warning:
            verdict.add(State.WARNING, f"fail-count {shown} on {node}", "service-failcount")
    for failure in failures:
        why = failure.exit_reason or failure.exit_status
        reason = f" ({why})" if why else ""
        verdict.add(
            State.WARNING,
            f"failed {failure.task} on {failure.node}{reason}",
            "service-failed-action",
        )
    for constraint in leftovers:
        verdict.add(
            State.WARNING,
            f"leftover {constraint.id} (crm_resource --clear -r {constraint.resource})",
            "service-leftover-constraint",
            f"crm_resource --clear -r {constraint.resource}",
        )
    role = service.state
    if service.kind == "promotable" and service.promoted_nodes:
        role = f"promoted on {', '.join(service.promoted_nodes)}"
    where = f" on {', '.join(service.nodes)}" if service.nodes and "promoted" not in role else ""
    agent = f" [{service.agent}]" if service.agent else ""
    detail = f"{service.name}{agent}: {role}{where}"
    last = max((f.last_change for f in failures if f.last_change), default="")
    if last:
        detail += f", last failure {last}"
    return verdict.finding(service.name, detail)


def evaluate(status: ServicesStatus, policy: ServicesPolicy) -> Report:
    report = Report()
    if not status.running:
        report.findings.append(
            Finding(
                "",
                State.CRITICAL,
                (f"{status.manager} not running on this node ({status.error})",),
                kinds=("service-manager-down",),
            )
        )
        return report
    services = [s for s in status.services if _selected(s, policy)]
    known = {s.name for s in status.services}
    for service in services:
        if status.manager == "rgmanager":
            report.findings.append(_rgmanager(service, policy, _intended(service, status)))
            continue
        failures = [
            f
            for f in status.failures
            if f.resource == service.name or f.resource.split(":", 1)[0] in _member_names(service)
        ]
        leftovers = [
            c
            for c in status.constraints or []
            if c.resource == service.name and c.id.startswith(LEFTOVER_PREFIXES)
        ]
        report.findings.append(_pacemaker(service, policy, failures, leftovers, status))
    if status.manager == "pacemaker":
        report.findings += _cluster_wide(status, services)
    for failure in status.failures:  # failures of resources no longer configured
        if (
            failure.resource not in known
            and not any(
                failure.resource.split(":", 1)[0] in _member_names(s) for s in status.services
            )
            and not policy.include
        ):
            report.findings.append(
                Finding(
                    failure.resource,
                    State.WARNING,
                    (f"failed {failure.task} on {failure.node} (resource not configured)",),
                    kinds=("service-failed-action",),
                )
            )
    for selector in policy.include:
        if not any(selector in _names(s) for s in status.services):
            report.findings.append(
                Finding(
                    selector, State.CRITICAL, ("not configured",), kinds=("service-not-configured",)
                )
            )
    if not report.findings:
        what = "no service matches -s/-x" if status.services else "no services configured"
        report.findings.append(
            Finding("", State.UNKNOWN, (f"{what} in {status.source}",), kinds=("service-none",))
        )
    started = sum(1 for s in services if s.nodes or s.state == "started")
    failed = sum(1 for s in services if s.failed or s.state in ("failed", "recoverable"))
    report.perfdata += [
        Perf("services_started", started, "", "", "", 0, len(services)),
        Perf("services_stopped", len(services) - started, "", "", "", 0, len(services)),
        Perf("services_failed", failed, "", "", "0", 0, len(services)),
        Perf(
            "fail_count",
            sum(min(c, 1000000) for s in services for c in s.fail_counts.values()),
            "",
            str(policy.failcount_warning - 1) if policy.failcount_warning > 0 else "",
            "",
            0,
        ),
    ]
    noun = "services" if status.manager == "rgmanager" else "resources"
    report.noun = noun
    on_purpose = [s.name for s in services if _intended(s, status)]
    report.ok = Summary(
        "services-ok",
        {"count": len(services), "noun": noun, "started": started, "on_purpose": on_purpose},
    )
    return report


def _clone_missing(service: Service, status: ServicesStatus) -> list[str]:
    """The online nodes a clone does not run on although crm_mon lists a Stopped instance of
    it (an instance it should run and does not: Pacemaker 2.0's crm_mon-partial, ping on
    one of two nodes), less the nodes a location constraint bans it from."""
    if "Stopped" not in service.flags:
        return []
    names = {service.name, *service.members}
    banned = {
        c.node
        for c in status.constraints or []
        if c.resource in names and c.score.strip().startswith("-")
    }
    return [n for n in status.online_nodes if n not in service.nodes and n not in banned]


def _fencing_node_away(service: Service, status: ServicesStatus) -> bool:
    """A stopped fencing device whose allowed nodes are all offline or in standby: lost
    redundancy, not a device that fails to start. With the location constraints known
    (cibadmin -Q, crm_mon <bans>), the online nodes must all be banned for it."""
    if not service.agent.startswith("stonith:") or not status.unavailable_nodes:
        return False
    if status.constraints is None:
        return True
    banned = {
        c.node
        for c in status.constraints
        if c.resource == service.name and c.score.strip().startswith("-")
    }
    return all(node in banned for node in status.online_nodes)


def _cluster_wide(status: ServicesStatus, services: list[Service]) -> list[Finding]:
    findings: list[Finding] = []
    if status.options.get("stonith-enabled", "").lower() == "false":
        vms = [s for s in services if s.agent.endswith(":VirtualDomain") and s.nodes]
        dual = [s for s in services if s.kind == "promotable" and len(s.promoted_nodes) > 1]
        what = []
        if dual:
            what.append(f"dual-primary {', '.join(s.name for s in dual)}")
        if vms:
            what.append(f"{len(vms)} VM{'s' if len(vms) != 1 else ''}")
        if what:
            findings.append(
                Finding(
                    "",
                    State.WARNING,
                    (
                        f"stonith-enabled=false with {' and '.join(what)}: a split brain can "
                        "run them on both nodes (configure fencing)",
                    ),
                    kinds=("service-no-fencing",),
                )
            )
    # every device counts (one started elsewhere fences), if a device is among those checked
    devices = [s for s in status.services if s.agent.startswith("stonith:")]
    if (
        any(s.agent.startswith("stonith:") for s in services)
        and not any(d.nodes for d in devices)
        and status.options.get("stonith-enabled", "").lower() != "false"
        and status.options.get("stop-all-resources", "").lower() != "true"
        and status.options.get("maintenance-mode", "").lower() != "true"
    ):
        # Pacemaker 1.1.20 (crm-mon_11-rhel7-unclean-stop-timeout-fencing-failed): both
        # devices disabled, the UNCLEAN node's fencing failed
        count = len(devices)
        findings.append(
            Finding(
                "",
                State.CRITICAL,
                (
                    f"no fencing device running ({count} configured, none started) while "
                    "stonith is enabled: a failed node cannot be fenced and its resources stay "
                    "blocked",
                ),
                kinds=("service-no-fencing-device",),
            )
        )
    for ticket in status.tickets:
        if ticket.status != "granted":
            findings.append(
                Finding(
                    "",
                    State.WARNING,
                    (
                        f"ticket {ticket.id} {ticket.status} (resources that need it stay "
                        "stopped here)",
                    ),
                    kinds=("service-ticket-revoked",),
                )
            )
        elif ticket.standby:
            findings.append(
                Finding(
                    "",
                    State.WARNING,
                    (f"ticket {ticket.id} in standby (resources that need it are stopped)",),
                    kinds=("service-ticket-standby",),
                )
            )
    return findings


def _member_names(service: Service) -> set[str]:
    """Failures name a clone's member resource (`drbd-r0`, or `drbd-r0:1`), not the clone."""
    return {service.name, *service.members}
