"""The VMs a DRBD resource carries on this node: a resource in trouble names them.

DRBD resource (its minors) -> the PV /dev/drbdN (pvs) -> that PV's VG -> the running domains
whose disks are LVs of the VG (libvirt). Pure: the DRBD report, the DRBD state, the PVs and
the hypervisor views in, the report with the VMs named out.

    drbd1 StandAlone (possible split brain), 14 VMs on volnode06 affected
"""

from __future__ import annotations

import re

from kvmcluster.model.drbd import DrbdStatus, Resource
from kvmcluster.model.findings import Report, State
from kvmcluster.model.record import record, replace
from kvmcluster.model.vms import HypervisorView, vg_of

_DRBD_DEVICE = re.compile(r"^/dev/drbd([0-9]{1,20})$")
_BY_RES = re.compile(r"^/dev/drbd/by-res/([^/]+)(?:/\d+)?$")
NAMED_UP_TO = 3  # more VMs than this are counted, named in -v


@record
class VmsOnResource:
    vgs: list[str]
    vms: list[str]  # running (or paused) domains with a disk on one of those VGs


def vms_by_resource(
    status: DrbdStatus, pvs: list, views: list[HypervisorView]
) -> dict[str, VmsOnResource]:
    """Resource name -> the VGs on its devices and the VMs running on them here."""
    vgs_of: dict[str, list[str]] = {}
    by_minor = {m: r.name for r in status.resources for m in r.minors}
    names = {r.name for r in status.resources}
    for pv in pvs:
        if not pv.vg:
            continue
        m = _DRBD_DEVICE.match(pv.name)
        resource = by_minor.get(int(m.group(1))) if m else None
        if resource is None and (m := _BY_RES.match(pv.name)) and m.group(1) in names:
            resource = m.group(1)
        if resource is not None and pv.vg not in vgs_of.setdefault(resource, []):
            vgs_of[resource].append(pv.vg)
    vms_on_vg: dict[str, list[str]] = {}
    for view in views:
        if view.error:
            continue
        for domain in view.domains:
            if not domain.active:
                continue
            for disk in domain.disks:
                device = disk.source if disk.type == "block" else disk.path
                vg = vg_of(device) if device else None
                if vg and domain.name not in vms_on_vg.setdefault(vg, []):
                    vms_on_vg[vg].append(domain.name)
    usage = {}
    for resource, vgs in vgs_of.items():
        vms = [vm for vg in vgs for vm in vms_on_vg.get(vg, [])]
        if vms:
            usage[resource] = VmsOnResource(vgs, sorted(set(vms)))
    return usage


def _count(vms: list[str], vgs: list[str]) -> str:
    what = f"{len(vms)} VM{'s' if len(vms) != 1 else ''} on {', '.join(vgs)}"
    if len(vms) <= NAMED_UP_TO:
        what += f" ({', '.join(vms)})"
    return what


def _own_problems(resource: Resource, on: VmsOnResource) -> list[str]:
    """What makes the resource unusable under VMs that run here (CRITICAL)."""
    problems = []
    if resource.role != "Primary":
        problems.append(
            f"{resource.role} under {_count(on.vms, on.vgs)} running here "
            f"(their disks need it Primary: drbdadm primary {resource.name})"
        )
    if any(d.disk == "Diskless" and not d.client for d in resource.devices):
        problems.append(f"Diskless under {_count(on.vms, on.vgs)}: their I/O goes to the peer")
    if resource.suspended:
        problems.append(f"I/O suspended under {_count(on.vms, on.vgs)}: they hang")
    return problems


def name_affected_vms(report: Report, status: DrbdStatus, usage: dict) -> Report:
    """Each resource finding that is not OK names the VMs it carries; a resource not Primary,
    Diskless or suspended under running VMs is CRITICAL for that alone."""
    if not usage:
        return report
    by_name = {r.name: r for r in status.resources}
    findings = []
    for finding in report.findings:
        on = usage.get(finding.item)
        resource = by_name.get(finding.item)
        if on is None or resource is None:
            findings.append(finding)
            continue
        own = _own_problems(resource, on)
        problems = list(finding.problems)
        state = finding.state
        if own:
            state = State.CRITICAL
            problems = own + [p for p in problems if not p.startswith("I/O suspended")]
        elif state != State.OK:
            problems.append(f"{_count(on.vms, on.vgs)} affected")
        else:
            findings.append(finding)
            continue
        detail = finding.detail
        findings.append(
            replace(
                finding,
                state=state,
                problems=tuple(problems),
                describe=f"{detail}; VMs on it here: {', '.join(on.vms)}",
                kinds=(*finding.kinds, "drbd-vms-affected"),
            )
        )
    return replace(report, findings=findings)
