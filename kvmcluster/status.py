"""`kvmcluster status`: every check in-process, on one screen, for a human in an incident.

Reads the same inputs as the plugins: the live node, or a capture (`--from DIR|FILE.tar.gz`).
"""

from __future__ import annotations

import json
import sys
import time

from kvmcluster import capture as c
from kvmcluster.errors import KvmclusterError
from kvmcluster.model.findings import Finding, Report, State
from kvmcluster.output.status import SCHEMA_VERSION, render_text, to_json, worst  # noqa: F401

AREAS = [
    ("drbd", "DRBD", "resources"),
    ("cluster", "Quorum and membership", "nodes"),
    ("services", "Cluster services", "services"),
    ("daemons", "Daemons", "daemons"),
    ("vm_alloc", "VM allocation", "VMs"),
    ("lvm", "LVM on DRBD", "volume groups"),
]


# --- building the reports -----------------------------------------------------------------


def _drbd(node, cap):
    from kvmcluster.checks.drbd import build_report

    if cap is None:
        return build_report(node)
    conf = cap.file(c.DRBD_CONF)
    proc = cap.file(c.PROC_DRBD)
    if not proc and "no such file" in (cap.failed(c.PROC_DRBD) or ""):
        from kvmcluster.model.drbd import DrbdStatus
        from kvmcluster.rules.drbd import DrbdPolicy, evaluate

        return evaluate(DrbdStatus(source=c.PROC_DRBD, loaded=False), DrbdPolicy())
    if proc:
        try:
            return build_report(node, proc_file=proc, drbd_conf=conf)
        except KvmclusterError:
            if not (cap.file(c.DRBD_JSON) or cap.file(c.DRBD_EVENTS)):
                raise
    if cap.file(c.DRBD_JSON):
        return build_report(node, json_file=cap.file(c.DRBD_JSON), drbd_conf=conf)
    if cap.file(c.DRBD_EVENTS):
        return build_report(node, events_file=cap.file(c.DRBD_EVENTS), drbd_conf=conf)
    return None


def _cluster(node, cap):
    from kvmcluster.checks.cluster import build_report

    if cap is None:
        return build_report(node)
    from kvmcluster.sources.cluster import detect_stack

    files = {}
    stack = detect_stack(node)
    if stack == "cman" and (cap.file(c.CMAN_STATUS) or cap.file(c.CLUSTAT)):
        if cap.file(c.CMAN_STATUS):
            files = {
                "cman_status_file": cap.file(c.CMAN_STATUS),
                "cman_nodes_file": cap.file(c.CMAN_NODES),
                "fence_file": cap.file(c.FENCE_TOOL),
                "dlm_file": cap.file(c.DLM_TOOL),
            }
        else:
            files = {"clustat_file": cap.file(c.CLUSTAT)}
    elif stack in ("pacemaker", "corosync"):
        files = {
            "crm_mon_file": cap.file(c.CRM_MON),
            "quorumtool_file": cap.file(c.QUORUMTOOL),
            "cfgtool_file": cap.file(c.CFGTOOL),
        }
    return build_report(node, **files) if files else None


def _services(node, cap):
    from kvmcluster.checks.services import build_report

    if cap is None:
        return build_report(node)
    if cap.file(c.CLUSTAT):
        return build_report(node, clustat_file=cap.file(c.CLUSTAT))
    if cap.file(c.CRM_MON):
        return build_report(node, crm_mon_file=cap.file(c.CRM_MON), cib_file=cap.file(c.CIB))
    return None


def _daemons(node, cap):
    from kvmcluster.checks.daemons import build_report

    if cap is None:
        return build_report(node)
    if not cap.file(c.PS):
        return None
    from kvmcluster.sources.cluster import detect_stack

    stack = detect_stack(node)
    profile = {"cman": "rhcs", "pacemaker": "pacemaker", "corosync": "pacemaker"}
    profile = profile.get(stack or "", "auto")
    return build_report(node, profile, ps_file=cap.file(c.PS), uptime_file=cap.file(c.UPTIME))


def _vm_alloc(node, cap):
    from kvmcluster.checks.vm_alloc import build_report
    from kvmcluster.rules.vm_alloc import AllocPolicy

    if cap is None:
        from kvmcluster.checks.vm_alloc import CLUSTER_CONF, default_libvirt, live_stack

        return build_report(
            node,
            live_stack(node),
            AllocPolicy(),
            cluster_conf=CLUSTER_CONF,
            cib_file=None,
            clustat_file=None,
            crm_mon_file=None,
            libvirt=default_libvirt(getattr(node, "target", None), getattr(node, "options", None)),
            sudo=False,
            live_cluster_conf=True,
        )
    if not cap.libvirt_files():
        return None
    libvirt = cap.libvirt_views()  # parsed as data, not opened through libvirt
    policy = AllocPolicy(vgs=cap.vg_map())
    if cap.file(c.CLUSTER_CONF):
        return build_report(
            node,
            "cman",
            policy,
            cluster_conf=cap.file(c.CLUSTER_CONF),
            cib_file=None,
            clustat_file=cap.file(c.CLUSTAT),
            crm_mon_file=None,
            libvirt=[],
            views=libvirt,
            sudo=False,
        )
    if cap.file(c.CIB):
        return build_report(
            node,
            "pacemaker",
            policy,
            cluster_conf="",
            cib_file=cap.file(c.CIB),
            clustat_file=None,
            crm_mon_file=cap.file(c.CRM_MON),
            libvirt=[],
            views=libvirt,
            sudo=False,
        )
    return None


def _lvm(node, cap):
    from kvmcluster.checks.lvm import build_report

    if cap is None:
        return build_report(node)
    if not (cap.file(c.VGS) and cap.file(c.PVS)):
        return None
    return build_report(
        node,
        vgs_file=cap.file(c.VGS),
        pvs_file=cap.file(c.PVS),
        lvs_file=cap.file(c.LVS),
        lvm_conf_file=cap.file(c.LVMCONFIG),
        drbd_conf=cap.file(c.DRBD_CONF),
    )


BUILDERS = {
    "drbd": _drbd,
    "cluster": _cluster,
    "services": _services,
    "daemons": _daemons,
    "vm_alloc": _vm_alloc,
    "lvm": _lvm,
}


def build_areas(node, cap) -> list[dict]:
    """Every area's report, read from `node` (a capture's node when `cap` is given)."""
    areas = []
    for key, title, noun in AREAS:
        try:
            report = BUILDERS[key](node, cap)
        except KvmclusterError as exc:
            report = Report(
                findings=[Finding("", State.UNKNOWN, (str(exc),), kinds=("input-unreadable",))]
            )
        if report is None:
            areas.append({"name": key, "title": title, "captured": False})
            continue
        areas.append(
            {
                "name": key,
                "title": title,
                "captured": True,
                "report": report,
                "noun": noun,
                "advice": advice(key, report),
            }
        )
    return areas


# --- what to do next ------------------------------------------------------------------------


def advice(area: str, report: Report) -> list[str]:
    tips: list[str] = []
    for finding in report.findings:
        if area == "drbd" and "drbd-standalone" in finding.kinds:
            name = finding.item
            tips.append(
                f"split brain on {name}: pick the victim node (its writes since the split are "
                f"lost). On the victim: drbdadm disconnect {name}; drbdadm secondary {name}; "
                f"drbdadm connect --discard-my-data {name} (8.4: drbdadm -- --discard-my-data "
                f"connect {name}). On the survivor: drbdadm connect {name}. Then wait for the "
                "resync (SyncSource/SyncTarget) before making the victim Primary again."
            )
        if area == "vm_alloc" and "vm-active-twice" in finding.kinds:
            tips.append(
                f"{finding.item}: {finding.fix} now, then "
                "check its filesystems (fsck) before starting it again through the cluster."
            )
        if area == "cluster" and "cluster-not-quorate" in finding.kinds:
            tips.append(
                "no quorum: services stop. Bring the missing nodes back; never force "
                "quorum (cman_tool expected -e 1) while another partition may still run VMs."
            )
    if area == "daemons" and report.fix:
        tips.append(f"start the stack in this order: {report.fix}")
    return tips


def _capture_node(cap, deadline):
    """The node of a capture: the tools whose output it holds, as detect_stack asks them."""
    from kvmcluster.sources.cluster import CLUSTER_CONF
    from kvmcluster.sources.node import CaptureNode

    holds = {
        "cman_tool": cap.file(c.CMAN_STATUS) or cap.file(c.CLUSTAT),
        "crm_mon": cap.file(c.CRM_MON),
        "corosync-quorumtool": cap.file(c.QUORUMTOOL),
    }
    tools = frozenset(tool for tool, held in holds.items() if held)
    paths = frozenset([CLUSTER_CONF] if cap.file(c.CLUSTER_CONF) else [])
    return CaptureNode(cap.hostname(), deadline, tools, paths)


def run(args, live=None) -> int:
    """`live`: the node to read (runtime.cli.start), None with --from."""
    from kvmcluster.runtime.command import Deadline

    cap = c.Capture(args.from_) if getattr(args, "from_", None) else None
    timeout = getattr(args, "timeout", None)
    checked = _capture_node(cap, Deadline(timeout)) if cap else live
    source = f"capture {args.from_}" if cap else ("live over ssh" if checked.remote else "live")
    node = checked.name
    fmt = getattr(args, "format", None) or ("json" if args.json else "text")
    textfile = getattr(args, "textfile", None)  # node_exporter's textfile collector
    colour = sys.stdout.isatty() and not args.no_color and fmt == "text" and not textfile
    try:
        while True:
            started = time.time()
            areas = build_areas(checked, cap)
            if fmt == "openmetrics" or textfile:
                from kvmcluster.textfile import emit_metrics

                emit_metrics(areas, node, started, textfile)
            elif fmt == "json":
                sys.stdout.write(json.dumps(to_json(areas, source, node), indent=2) + "\n")
            else:
                text = render_text(areas, source, node, colour, args.verbose)
                if args.watch and sys.stdout.isatty():
                    sys.stdout.write("\033[H\033[2J")
                sys.stdout.write(text)
            sys.stdout.flush()
            code = 0 if textfile else int(worst(areas))  # the file holds the state
            if not args.watch:
                return code
            time.sleep(args.watch)
            checked = checked.with_deadline(Deadline(timeout))  # the whole -t budget again
    except KeyboardInterrupt:
        return 3
    finally:
        if cap is not None:
            cap.close()
