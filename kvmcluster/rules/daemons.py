"""Required daemons: process list (+ uptime, boot-time service states) -> findings per daemon."""

from __future__ import annotations

from kvmcluster.model.daemons import SERVICE_ORDER, Daemon, ProcessInfo
from kvmcluster.model.findings import Finding, Perf, Report, State, Summary, Verdict

# systemd unit names that differ from the SysV script names.
_SYSTEMD_UNITS = {"messagebus": "dbus"}
RECENT_BOOT_SECONDS = 24 * 3600


def start_commands(services: set[str], systemd: bool) -> list[str]:
    order = {name: index for index, name in enumerate(SERVICE_ORDER)}
    ordered = sorted(services, key=lambda s: (order.get(s, len(order)), s))
    if systemd:
        return [f"systemctl start {_SYSTEMD_UNITS.get(s, s)}" for s in ordered]
    return [f"service {s} start" for s in ordered]


def _pids(processes: list[ProcessInfo]) -> str:
    return ",".join(str(p.pid) for p in processes)


def _evaluate_process(daemon: Daemon, processes: list[ProcessInfo]) -> Finding | None:
    matching = [p for p in processes if daemon.matches(p)]
    live = [p for p in matching if not p.zombie]
    zombies = [p for p in matching if p.zombie]
    verdict = Verdict()
    if not live:
        if daemon.optional and not zombies:
            return None
        verdict.add(State.CRITICAL, "not running", "daemon-missing")
    elif len(live) < daemon.min_count:
        verdict.add(
            State.WARNING,
            f"{len(live)} of {daemon.min_count} processes (pid {_pids(live)})",
            "daemon-too-few",
        )
    elif len(live) > daemon.max_count:
        verdict.add(
            State.WARNING, f"running {len(live)} times (pids {_pids(live)})", "daemon-duplicate"
        )
    for zombie in zombies:
        verdict.add(
            State.WARNING, f"zombie process {zombie.pid} (parent {zombie.ppid})", "daemon-zombie"
        )
    looked_for = ", ".join(daemon.executables)
    detail = f"{daemon.name} ({daemon.service}): " + (
        f"pid {_pids(live)}" if live else f"not running (looked for {looked_for})"
    )
    return verdict.finding(daemon.name, detail)


def _evaluate_service_state(daemon: Daemon, started: bool | None, systemd: bool) -> Finding:
    if started is None:
        return Finding(daemon.name, State.OK, (), f"{daemon.name}: not checked on captured input")
    if started:
        return Finding(daemon.name, State.OK, (), f"{daemon.name}: started")
    start = start_commands({daemon.service}, systemd)[0]
    return Finding(
        daemon.name,
        State.WARNING,
        ("not started, VMs are not shut down cleanly at reboot: " + start,),
        f"{daemon.name}: boot-time service not started",
        ("daemon-not-started",),
        start,
    )


def evaluate(
    processes: list[ProcessInfo],
    daemons: list[Daemon],
    *,
    profile: str,
    systemd: bool,
    uptime: float | None = None,
    service_states: dict[str, bool | None] | None = None,
) -> Report:
    report = Report()
    service_states = service_states or {}
    checked: list[Daemon] = []
    for daemon in daemons:
        if daemon.kind == "service-state":
            finding = _evaluate_service_state(daemon, service_states.get(daemon.name), systemd)
        else:
            finding = _evaluate_process(daemon, processes)
        if finding is not None:
            report.findings.append(finding)
            checked.append(daemon)
    by_name = {f.item: f for f in report.findings}
    missing = [d for d in checked if "daemon-missing" in by_name[d.name].kinds]
    to_start = {d.service for d in missing}
    stack = [d for d in checked if d.cluster_stack and d.kind == "process"]
    stack_down = bool(stack) and all(d in missing for d in stack)
    _summarise(report, missing, to_start, stack_down, systemd, uptime, profile, checked)
    running = len(checked) - len(missing)
    report.perfdata += [
        Perf("expected", len(checked), "", "", "", 0),
        Perf("running", running, "", "", "", 0, len(checked)),
        Perf("missing", len(missing), "", "", "0", 0, len(checked)),
    ]
    if uptime is not None:
        report.perfdata.append(Perf("uptime", int(uptime), "s", "", "", 0))
    return report


def _summarise(report, missing, to_start, stack_down, systemd, uptime, profile, checked):
    commands = "; ".join(start_commands(to_start, systemd))
    if stack_down:
        after_reboot = uptime is not None and uptime < RECENT_BOOT_SECONDS
        facts = {"uptime": uptime, "after_reboot": after_reboot, "commands": commands}
        report.headline = Summary("daemons-stack-down", facts)
        report.fix = commands
    elif missing:
        names = [d.name for d in missing]
        report.headline = Summary("daemons-missing", {"names": names, "commands": commands})
        report.fix = commands
    report.headline_covers = {d.name for d in missing}
    report.ok = Summary("daemons-ok", {"count": len(checked), "profile": profile})
