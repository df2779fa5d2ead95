"""The LVM layer on DRBD: VGs on the DRBD devices (never on their backing disks), clustered
or shared when DRBD is dual-primary, with the locking to match, PVs present, space left."""

from __future__ import annotations

import math
import re

from kvmcluster.model.drbd import BackingDevice
from kvmcluster.model.findings import (
    Finding,
    Perf,
    Report,
    State,
    Summary,
    Verdict,
    human_bytes,
)
from kvmcluster.model.lvm import LvmConfig, LvmReport
from kvmcluster.model.record import factory, record

# /dev/drbdN with N of at most 20 digits (2**64): a longer "minor" from the input is no DRBD device
DRBD_DEVICE = re.compile(r"^/dev/drbd([0-9]{1,20})$|^/dev/drbd/by-res/")


@record
class FreeLimit:
    """A minimum of free space: `10%` or `20G` (checks.lvm.parse_free_limit reads it)."""

    text: str
    percent: float | None = None
    size: int | None = None

    def breached(self, free: int, size: int) -> bool:
        if self.percent is not None:
            return size > 0 and free * 100.0 / size < self.percent
        return free < (self.size or 0)

    def minimum(self, size: int) -> int:
        """The least free bytes that do not breach it, on a VG of `size` bytes."""
        if self.percent is not None:
            return math.ceil(size * self.percent / 100.0)
        return self.size or 0


def _free_ranges(policy, size: int) -> tuple[str, str]:
    """The -w/-c minimums as perfdata ranges on free bytes (`N:`: alert under N bytes)."""
    return tuple(
        "" if limit is None else f"{limit.minimum(size)}:"
        for limit in (policy.free_warning, policy.free_critical)
    )


@record
class LvmPolicy:
    vgs: list[str] = factory(list)  # expected VGs; empty: every VG on DRBD
    free_warning: FreeLimit | None = None
    free_critical: FreeLimit | None = None
    vm_lvs: list[str] = factory(list)  # LV paths of VMs running on this node
    libvirt_error: str = ""  # --libvirt was asked for and could not be read: why


def filter_accepts(patterns: list[str], device: str) -> bool:
    """LVM's rule: the first pattern that matches decides; no match accepts."""
    for pattern in patterns:
        if len(pattern) < 3 or pattern[0] not in "ar":
            continue
        delimiter = pattern[1]
        regex = pattern[2:].rsplit(delimiter, 1)[0]
        try:
            if re.search(regex, device):
                return pattern[0] == "a"
        except re.error:
            continue
    return True


def _filters(config: LvmConfig) -> list[tuple[str, list[str]]]:
    found = []
    for key in ("devices/global_filter", "devices/filter"):
        value = config.get(key)
        if isinstance(value, list):
            found.append((key, [str(v) for v in value]))
        elif isinstance(value, str):
            found.append((key, [value]))
    return found


def suggested_filter(backing: list[str]) -> str:
    """The filter line to add. '@' delimits the patterns: a '|' would cut a monitoring
    plugin's output (it starts the perfdata)."""
    rejects = ", ".join(f'"r@^{re.escape(dev)}$@"' for dev in sorted(set(backing)))
    return f'global_filter = [ "a@^/dev/drbd[0-9]+$@", {rejects} ]'


def filter_problem(config: LvmConfig, backing: list[str]) -> tuple[int | None, str] | None:
    """A reason when LVM may scan a DRBD backing disk, with the line to add."""
    if not backing:
        return None
    filters = _filters(config)
    scanned = [
        dev
        for dev in backing
        if not filters or any(filter_accepts(patterns, dev) for _, patterns in filters)
    ]
    if not scanned:
        return None
    line = next((config.line(key) for key, _ in filters), None)
    return line, (
        f"LVM may scan the DRBD backing device(s) {', '.join(sorted(set(scanned)))} and write "
        f"around replication: add to the devices section: {suggested_filter(backing)}"
    )


def locking_problems(
    config: LvmConfig, clustered: bool, shared: bool
) -> list[tuple[int | None, str]]:
    problems = []
    locking_type = config.get("global/locking_type")
    use_lvmlockd = config.get("global/use_lvmlockd")
    if clustered and locking_type != 3:
        problems.append(
            (
                config.line("global/locking_type"),
                f"clustered VGs need locking_type = 3 (clvmd), not {locking_type}",
            )
        )
    if shared and use_lvmlockd != 1:
        problems.append(
            (
                config.line("global/use_lvmlockd"),
                f"shared VGs need use_lvmlockd = 1, not {use_lvmlockd}",
            )
        )
    return problems


def config_problems(
    config: LvmConfig, devices: list[BackingDevice]
) -> list[tuple[str, int | None, str]]:
    """What `kvmcluster lint --lvm-conf` reports: (severity, line, message)."""
    problems: list[tuple[str, int | None, str]] = []
    found = filter_problem(config, [d.disk for d in devices])
    if found:
        problems.append(("warning", *found))
    dual = any(d.dual_primary for d in devices)
    locking_type = config.get("global/locking_type")
    use_lvmlockd = config.get("global/use_lvmlockd")
    if dual and locking_type != 3 and use_lvmlockd != 1:
        problems.append(
            (
                "error",
                config.line("global/locking_type") or config.line("global/use_lvmlockd"),
                "DRBD is dual-primary but LVM locking is local: set locking_type = 3 (clvmd) or "
                "use_lvmlockd = 1, and make the VGs clustered or shared",
            )
        )
    return problems


def evaluate(
    report: LvmReport,
    config: LvmConfig | None,
    backing: list[BackingDevice],
    policy: LvmPolicy,
) -> Report:
    result = Report(noun="volume groups")
    by_disk = {b.disk: b for b in backing}
    by_minor = {b.minor: b for b in backing if b.minor is not None}
    pvs_of: dict[str, list] = {}
    for pv in report.pvs:
        pvs_of.setdefault(pv.vg, []).append(pv)

    def on_drbd(vg_name: str) -> bool:
        return any(
            DRBD_DEVICE.match(pv.name) or pv.name in by_disk for pv in pvs_of.get(vg_name, [])
        )

    names = policy.vgs or [vg.name for vg in report.vgs if on_drbd(vg.name)]
    vgs = {vg.name: vg for vg in report.vgs}
    lvs_active = {f"/dev/{lv.vg}/{lv.name}": lv for lv in report.lvs}
    for name in names:
        vg = vgs.get(name)
        if vg is None:
            result.findings.append(
                Finding(name, State.CRITICAL, ("volume group not found",), kinds=("vg-missing",))
            )
            continue
        verdict = Verdict()
        if vg.partial:
            verdict.add(State.CRITICAL, "partial: a PV is missing", "pv-missing")
        for pv in pvs_of.get(name, []):
            if pv.missing:
                verdict.add(State.CRITICAL, f"PV {pv.name} missing", "pv-missing")
            backing_of = by_disk.get(pv.name)
            if backing_of is not None:
                device = (
                    f"/dev/drbd{backing_of.minor}"
                    if backing_of.minor is not None
                    else "its DRBD device"
                )
                verdict.add(
                    State.CRITICAL,
                    f"PV {pv.name} is the backing device of DRBD {backing_of.resource}, not "
                    f"{device}: LVM writes around replication",
                    "pv-backing-device",
                )
            m = DRBD_DEVICE.match(pv.name)
            drbd = by_minor.get(int(m.group(1))) if m and m.group(1) else None
            if drbd is not None and drbd.dual_primary and not (vg.clustered or vg.shared):
                verdict.add(
                    State.CRITICAL,
                    f"on dual-primary DRBD {drbd.resource} but neither clustered (vgchange -cy) "
                    "nor shared (lvmlockd): both nodes change its metadata",
                    "lvm-locking",
                )
        percent = vg.free * 100.0 / vg.size if vg.size else 0.0
        free_text = f"free {percent:.1f}% ({human_bytes(vg.free)})"
        if policy.free_critical and policy.free_critical.breached(vg.free, vg.size):
            verdict.add(
                State.CRITICAL, f"{free_text} below {policy.free_critical.text}", "vg-low-free"
            )
        elif policy.free_warning and policy.free_warning.breached(vg.free, vg.size):
            verdict.add(
                State.WARNING, f"{free_text} below {policy.free_warning.text}", "vg-low-free"
            )
        for path in policy.vm_lvs:
            lv = lvs_active.get(path)
            if lv is not None and lv.vg == name and not lv.active:
                verdict.add(
                    State.WARNING, f"LV {lv.name} of a VM running here is not active", "lv-inactive"
                )
        kind = "clustered" if vg.clustered else "shared" if vg.shared else "local"
        pvs = ",".join(pv.name for pv in pvs_of.get(name, []))
        result.findings.append(
            verdict.finding(
                name, f"{name}: {kind}, PVs {pvs or '-'}, {vg.lv_count} LVs, {free_text}"
            )
        )
        result.perfdata += [
            Perf("size", vg.size, "B", "", "", 0, None, name),
            Perf("free", vg.free, "B", *_free_ranges(policy, vg.size), 0, vg.size, name),
            Perf("lvs", vg.lv_count, "", "", "", 0, None, name),
        ]
    if config is not None:
        selected = [vgs[n] for n in names if n in vgs]
        clustered = [vg.name for vg in selected if vg.clustered]
        shared = [vg.name for vg in selected if vg.shared]
        for line, text in locking_problems(config, bool(clustered), bool(shared)):
            where = f"{config.source}:{line}: " if line else f"{config.source}: "
            which = ", ".join(clustered if "clustered" in text else shared)
            result.findings.append(
                Finding("", State.CRITICAL, (f"{where}{text} ({which})",), kinds=("lvm-locking",))
            )
        found = filter_problem(config, [b.disk for b in backing])
        if found:
            line, text = found
            where = f"{config.source}:{line}: " if line else f"{config.source}: "
            result.findings.append(
                Finding("", State.WARNING, (where + text,), kinds=("lvm-filter",))
            )
    if policy.libvirt_error:
        result.findings.append(
            Finding(
                "",
                State.UNKNOWN,
                (f"{policy.libvirt_error}: the LVs of running VMs were not checked",),
                kinds=("lv-libvirt-unreadable",),
            )
        )
    if not result.findings:
        result.findings.append(
            Finding(
                "",
                State.UNKNOWN,
                (f"no volume group on a DRBD device in {report.source}",),
                kinds=("lvm-no-vg",),
            )
        )
    count = len([n for n in names if n in vgs])
    result.ok = Summary("lvm-ok", {"count": count})
    return result
