"""Service and resource states: rgmanager groups (services, VMs) and Pacemaker resources."""

from __future__ import annotations

from kvmcluster.model.cluster import FailedAction, LocationConstraint, Service, ServicesStatus
from kvmcluster.model.findings import Finding, Perf, Report, State, Verdict
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
LEFTOVER_PREFIXES = ("cli-ban-", "cli-prefer-")


@record
class ServicesPolicy:
    include: list[str] = factory(list)
    exclude: list[str] = factory(list)
    ignore_disabled: bool = False
    failcount_warning: int = 1
    promoted: int = 1


def _names(service: Service) -> set[str]:
    return {service.name, service.name.split(":", 1)[-1]}


def _selected(service: Service, policy: ServicesPolicy) -> bool:
    if policy.include and not _names(service) & set(policy.include):
        return False
    return not _names(service) & set(policy.exclude)


def _rgmanager(service: Service, policy: ServicesPolicy) -> Finding:
    verdict = Verdict()
    state = RGMANAGER_STATES.get(service.state, State.UNKNOWN)
    if service.state == "disabled" and policy.ignore_disabled:
        state = State.OK
    if state != State.OK:
        where = f" (last on {service.last_owner})" if service.last_owner else ""
        verdict.add(state, f"{service.state}{where}")
    for flag in service.flags:
        verdict.add(State.WARNING, flag)
    where = f"on {service.owner}" if service.owner else "nowhere"
    detail = f"{service.name}: {service.state} {where}"
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
) -> Finding:
    verdict = Verdict()
    disabled = (service.target_role or "").lower() == "stopped"
    if service.failed:
        verdict.add(State.CRITICAL, "failed")
    if service.blocked:
        verdict.add(State.CRITICAL, "blocked (crm_resource --cleanup after fixing the cause)")
    if not service.nodes:
        if disabled:
            if not policy.ignore_disabled:
                verdict.add(State.WARNING, "disabled (target-role Stopped)")
        else:
            verdict.add(State.CRITICAL, "stopped although it should run")
    if service.kind == "promotable" and service.nodes and not disabled:
        promoted = len(service.promoted_nodes)
        if promoted < policy.promoted:
            where = f" ({', '.join(service.promoted_nodes)})" if promoted else ""
            verdict.add(
                State.CRITICAL,
                f"promoted on {promoted} node{'s' if promoted != 1 else ''}"
                f"{where}, expected {policy.promoted}",
            )
    if not service.managed:
        verdict.add(State.WARNING, "unmanaged")
    for node, count in sorted(service.fail_counts.items()):
        if count >= policy.failcount_warning:
            shown = "INFINITY" if count >= 1000000 else str(count)
            verdict.add(State.WARNING, f"fail-count {shown} on {node}")
    for failure in failures:
        why = failure.exit_reason or failure.exit_status
        reason = f" ({why})" if why else ""
        verdict.add(State.WARNING, f"failed {failure.task} on {failure.node}{reason}")
    for constraint in leftovers:
        verdict.add(
            State.WARNING,
            f"leftover {constraint.id} (crm_resource --clear -r {constraint.resource})",
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
            )
        )
        return report
    services = [s for s in status.services if _selected(s, policy)]
    known = {s.name for s in status.services}
    for service in services:
        if status.manager == "rgmanager":
            report.findings.append(_rgmanager(service, policy))
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
        report.findings.append(_pacemaker(service, policy, failures, leftovers))
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
                )
            )
    for selector in policy.include:
        if not any(selector in _names(s) for s in status.services):
            report.findings.append(Finding(selector, State.CRITICAL, ("not configured",)))
    if not report.findings:
        what = "no service matches -s/-x" if status.services else "no services configured"
        report.findings.append(Finding("", State.UNKNOWN, (f"{what} in {status.source}",)))
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
    report.ok_summary = f"{len(services)} {noun} OK ({started} started)"
    return report


def _member_names(service: Service) -> set[str]:
    """Failures name a clone's member resource (`drbd-r0`, or `drbd-r0:1`), not the clone."""
    return {service.name, *service.members}
