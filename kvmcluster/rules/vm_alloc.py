"""VM allocation: every VM runs once, on the preferred node of its failover domain, on the
volume group meant for that node. Compares the cluster's config, the cluster's placement and
what the hypervisors run."""

from __future__ import annotations

from kvmcluster.model.cluster import ClusterStatus, Service, ServicesStatus
from kvmcluster.model.findings import Finding, Perf, Report, State, Summary, Verdict
from kvmcluster.model.record import factory, record
from kvmcluster.model.vms import (
    ClusterConfig,
    HypervisorDomain,
    HypervisorView,
    ManagedVM,
    same_node,
    short,
    vg_of,
)

# rgmanager states in which the cluster believes the VM is on its owner
_RG_RUNNING = ("started", "starting", "stopping", "migrating", "checking", "recovering")


@record
class AllocPolicy:
    vgs: dict[str, str] = factory(dict)  # node -> the VG its VMs must live on
    include: list[str] = factory(list)


def _names(nodes) -> str:
    return " and ".join(short(n) for n in nodes) if nodes else "nowhere"


def _cluster_placement(
    vm: ManagedVM, services: ServicesStatus | None, by_name: dict[str, Service]
) -> tuple[Service | None, list[str]]:
    """The cluster's resource for the VM, and the nodes it says the VM runs on."""
    if services is None or not services.running:
        return None, []
    service = by_name.get(vm.resource)
    if service is None:
        return None, []
    if services.manager == "rgmanager":
        running = service.owner and service.state in _RG_RUNNING
        return service, [service.owner] if running else []
    return service, list(service.nodes)


def _disabled(vm: ManagedVM, service: Service | None) -> bool:
    if not vm.autostart:
        return True
    if service is None:
        return False
    return service.state == "disabled" or (service.target_role or "").lower() == "stopped"


def _home(vm: ManagedVM, online: list[str] | None) -> str | None:
    """The highest-priority node of the VM's domain that is online (None: no preference)."""
    if not vm.ordered or not vm.preferred:
        return None
    for node in vm.preferred:
        if online is None or any(same_node(node, o) for o in online):
            return node
    return None


def _vg_owner(vg: str, vgs: dict[str, str]) -> str | None:
    return next((node for node, name in vgs.items() if name == vg), None)


def _check_disks(verdict: Verdict, domain: HypervisorDomain, expected_node: str | None, vgs):
    expected_vg = next((vg for n, vg in vgs.items() if same_node(n, expected_node)), None)
    for disk in domain.disks:
        if disk.type == "file":
            verdict.add(
                State.WARNING,
                f"disk {disk.target} is a local file {disk.source} (cannot fail over)",
                "vm-disk-local",
            )
            continue
        device = disk.source if disk.type == "block" else disk.path
        if disk.type not in ("block", "volume") or not device:
            continue  # network disks, and volumes libvirt did not resolve
        vg = vg_of(device)
        owner = _vg_owner(vg, vgs) if vg else None
        if owner is None or expected_vg is None or same_node(owner, expected_node):
            continue
        verdict.add(
            State.WARNING,
            f"disk {disk.target} on {vg}, the VG of {short(owner)} (expected {expected_vg})",
            "vm-disk-misplaced",
        )


class _Index:
    """Services and hypervisor domains by name: 1,000 VMs must not mean 1,000,000 lookups."""

    def __init__(self, services: ServicesStatus | None, views: list[HypervisorView]):
        self.services = {s.name: s for s in services.services} if services else {}
        self.domains: dict[str, list[HypervisorDomain]] = {}
        for view in views:
            if not view.error:
                for domain in view.domains:
                    self.domains.setdefault(domain.name, []).append(domain)


def _evaluate_vm(
    vm: ManagedVM,
    services: ServicesStatus | None,
    online: list[str] | None,
    views: list[HypervisorView],
    policy: AllocPolicy,
    index: _Index,
    all_read: bool = True,
) -> tuple[Finding, dict[str, bool]]:
    verdict = Verdict()
    service, cluster_nodes = _cluster_placement(vm, services, index.services)
    disabled = _disabled(vm, service)
    seen = [v for v in views if not v.error]
    unreachable = [v.node for v in views if v.error]
    instances = index.domains.get(vm.name, [])
    active = [d for d in instances if d.active]
    running_on = [d.node for d in active]
    crashed_on = [d.node for d in instances if d.state == "crashed"]
    for domain in instances:
        if domain.state == "crashed":
            verdict.add(State.CRITICAL, f"crashed on {short(domain.node)}", "vm-crashed")
    # A node whose libvirt was not read (no --libvirt for it, or unreachable) proves nothing:
    # what the cluster places there is not verified.
    read_nodes = [v.node for v in seen]
    unverified = [c for c in cluster_nodes if not any(same_node(c, r) for r in read_nodes)]
    if len(active) > 1:
        keep = [n for n in running_on if any(same_node(n, c) for c in cluster_nodes)]
        extra = [n for n in running_on if n not in keep] if keep else running_on[1:]
        advice = "; ".join(f"virsh destroy {vm.name} on {short(n)}" for n in extra)
        verdict.add(
            State.CRITICAL,
            f"running on {_names(running_on)} at once (disk corruption risk: {advice})",
            "vm-active-twice",
            advice,
        )
    if services is not None and services.running and (seen or not views):
        cluster_seen = [c for c in cluster_nodes if c not in unverified]
        present = running_on + crashed_on  # a crashed domain is there: "crashed on", above
        missing = [c for c in cluster_seen if not any(same_node(c, r) for r in present)]
        strays = [r for r in running_on if not any(same_node(r, c) for c in cluster_nodes)]
        if (missing or strays) and views:
            verdict.add(
                State.CRITICAL,
                f"the cluster says {_names(cluster_nodes)}, libvirt says {_names(running_on)}",
                "vm-placement-mismatch",
            )
    unclean = services.unclean_nodes if services is not None else []
    if cluster_nodes and all(c in unclean for c in cluster_nodes):
        elsewhere = [r for r in running_on if r not in unclean]
        if not elsewhere:
            verdict.add(
                State.CRITICAL,
                f"reported only on UNCLEAN {_names(cluster_nodes)}: its state is unknown "
                "until fencing succeeds",
                "vm-unclean",
            )
    cluster_known = services is not None and services.running
    nowhere = not active and not cluster_nodes and not crashed_on and not disabled
    not_running = nowhere and not unreachable and (cluster_known or all_read)
    if not_running:
        verdict.add(
            State.CRITICAL, "not running anywhere although it should (autostart)", "vm-not-running"
        )
    if vm.restricted and vm.preferred:
        outside = [r for r in running_on if not any(same_node(r, p) for p in vm.preferred)]
        if outside:
            verdict.add(
                State.CRITICAL,
                f"runs on {_names(outside)}, outside its restricted domain {vm.domain}",
                "vm-outside-domain",
            )
    home = _home(vm, online)
    misplaced = False
    where = running_on or cluster_nodes
    if home and len(where) == 1 and not same_node(where[0], home):
        why = "nofailback is set" if vm.nofailback else "failback pending"
        verdict.add(
            State.WARNING,
            f"runs on {short(where[0])}, belongs on {short(home)} (failed over; {why})",
            "vm-misplaced",
        )
        misplaced = True
    for domain in active:
        if domain.state == "paused" and domain.reason == "ioerror":
            verdict.add(
                State.CRITICAL,
                f"paused on {short(domain.node)} by an I/O error on {_failed_disks(domain)}",
                "vm-io-error",
            )
        elif domain.state == "paused":
            verdict.add(State.WARNING, f"paused on {short(domain.node)}", "vm-paused")
    if len(active) == 1:
        # The VG belongs to the VM's first node whether that node is up or not: failing
        # over moves the VM, never its disks.
        owner = vm.preferred[0] if vm.ordered and vm.preferred else active[0].node
        before = len(verdict.problems)
        _check_disks(verdict, active[0], owner, policy.vgs)
        misplaced = misplaced or len(verdict.problems) > before
    state_text = "disabled" if disabled else (service.state if service else "")
    libvirt_says = _names(running_on)
    if crashed_on:
        libvirt_says = f"crashed on {_names(crashed_on)}" if not running_on else libvirt_says
    detail = f"{vm.resource or vm.name}: libvirt {libvirt_says}"
    if services is not None and services.running:
        detail += f", cluster {_names(cluster_nodes)}"
        if state_text:
            detail += f" ({state_text})"
    if home:
        detail += f", home {short(home)}"
    if unverified:
        detail += f", not verified on {_names(unverified)} (its libvirt was not read)"
    elif unreachable:
        detail += f", not seen on {_names(unreachable)}"
    facts = {
        # running VMs only: an instance running (not paused, crashed or off), or the cluster's
        # word for a node whose libvirt was not read
        "running": any(d.state in ("running", "blocked") for d in active)
        or bool(unverified and not active),
        "misplaced": misplaced,
        "not_running": not_running,
        "unverified": bool(unverified),
        "unverified_on": [short(n) for n in unverified],
        "local_file": any(d.type == "file" for i in active for d in i.disks),
    }
    return verdict.finding(vm.name, detail), facts


def _failed_disks(domain: HypervisorDomain) -> str:
    """The disks libvirt names as failed (virDomainGetDiskErrors), else every disk."""
    sources = {d.target: d.source for d in domain.disks}
    if domain.disk_errors:
        return ", ".join(
            f"disk {t} ({sources[t]}: {e})" if t in sources else f"disk {t} ({e})"
            for t, e in sorted(domain.disk_errors.items())
        )
    if not domain.disks:
        return "its disk"
    return ", ".join(f"disk {d.target} ({d.source})" for d in domain.disks)


def broken_config(reason: str) -> Report:
    """The cluster's own config does not parse: CRITICAL (the cluster's problem, not ours)."""
    finding = Finding(
        "", State.CRITICAL, (f"cluster config: {reason}",), kinds=("cluster-config-broken",)
    )
    return Report(findings=[finding])


def evaluate(
    config: ClusterConfig,
    views: list[HypervisorView],
    policy: AllocPolicy,
    services: ServicesStatus | None = None,
    cluster: ClusterStatus | None = None,
) -> Report:
    report = Report()
    for error in config.errors:
        report.findings.append(
            Finding(
                "", State.CRITICAL, (f"cluster config: {error}",), kinds=("cluster-config-broken",)
            )
        )
    for view in views:
        if view.error:
            report.findings.append(
                Finding(
                    "",
                    State.UNKNOWN,
                    (f"libvirt of {view.node} ({view.uri}): {view.error}",),
                    kinds=("vm-libvirt-unreadable",),
                )
            )
    online = None
    if cluster is not None and cluster.running and cluster.nodes:
        online = [n.name for n in cluster.nodes if n.member]
    vms = [v for v in config.vms if not policy.include or v.name in policy.include]
    counts = {"running": 0, "misplaced": 0, "not_running": 0, "unverified": 0, "local_file": 0}
    index = _Index(services, views)
    read = [v.node for v in views if not v.error]
    unverified_on: set[str] = set()
    all_read = bool(config.nodes) and all(any(same_node(n, r) for r in read) for n in config.nodes)
    for vm in vms:
        finding, facts = _evaluate_vm(vm, services, online, views, policy, index, all_read)
        unverified_on.update(facts.pop("unverified_on"))
        report.findings.append(finding)
        for key in counts:
            counts[key] += int(facts[key])
    managed = {v.name for v in config.vms}
    unmanaged = 0
    for view in views:
        for domain in view.domains:
            if domain.name in managed or not domain.active:
                continue
            if policy.include and domain.name not in policy.include:
                continue
            unmanaged += 1
            report.findings.append(
                Finding(
                    domain.name,
                    State.WARNING,
                    (
                        f"runs on {short(view.node)} but no cluster resource manages it "
                        "(it will not fail over)",
                    ),
                    f"{domain.name}: libvirt {short(view.node)} ({domain.state}), "
                    "not in the cluster",
                    ("vm-unmanaged",),
                )
            )
    for name in policy.include:
        if name not in managed and not any(f.item == name for f in report.findings):
            report.findings.append(
                Finding(
                    name,
                    State.CRITICAL,
                    ("not configured in the cluster",),
                    kinds=("vm-not-configured",),
                )
            )
    if not report.findings:
        report.findings.append(
            Finding(
                "", State.UNKNOWN, (f"no VMs configured in {config.source}",), kinds=("vm-none",)
            )
        )
    report.perfdata += [
        Perf("vms_configured", len(vms), "", "", "", 0),
        Perf("vms_running", counts["running"], "", "", "", 0, len(vms)),
        Perf("vms_misplaced", counts["misplaced"], "", "0", "", 0, len(vms)),
        Perf("vms_not_running", counts["not_running"], "", "", "0", 0, len(vms)),
        Perf("vms_unmanaged", unmanaged, "", "0", "", 0),
        Perf("vms_local_file_disks", counts["local_file"], "", "0", "", 0, len(vms)),
    ]
    report.noun = "VMs"
    report.ok = Summary(
        "vm-alloc-ok",
        {
            "vms": len(vms),
            "running": counts["running"],
            "unverified": counts["unverified"],
            "unread": sorted(unverified_on),
        },
    )
    return report
