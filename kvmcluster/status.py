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
from kvmcluster.model.vms import same_node, vg_of
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
            return _drbd_with_vms(node, cap, proc_file=proc, drbd_conf=conf)
        except KvmclusterError:
            if not (cap.file(c.DRBD_JSON) or cap.file(c.DRBD_EVENTS)):
                raise
    if cap.file(c.DRBD_JSON):
        return _drbd_with_vms(node, cap, json_file=cap.file(c.DRBD_JSON), drbd_conf=conf)
    if cap.file(c.DRBD_EVENTS):
        return _drbd_with_vms(node, cap, events_file=cap.file(c.DRBD_EVENTS), drbd_conf=conf)
    return None


def _drbd_with_vms(node, cap, **files):
    """check_drbd --libvirt on a capture: a resource in trouble names the VMs running on its
    VGs on the captured node (its libvirt view, the captured pvs); without them, or when they
    cannot be read (the LVM and VM areas say why), the DRBD report alone."""
    from kvmcluster.checks.drbd import build_report

    views = [v for v in cap.libvirt_views() if same_node(v.node, node.name)]
    if views and cap.file(c.PVS):
        try:
            return build_report(node, pvs_file=cap.file(c.PVS), views=views, **files)
        except KvmclusterError:
            pass
    return build_report(node, **files)


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
        # check_cluster_services --cluster-conf: autostart="0" is disabled on purpose. A capture's
        # cluster.conf that does not parse is not used (as live; the lint says why).
        if cap.file(c.CLUSTER_CONF):
            try:
                return build_report(
                    node, clustat_file=cap.file(c.CLUSTAT), cluster_conf=cap.file(c.CLUSTER_CONF)
                )
            except KvmclusterError:
                pass
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
            }
        )
    inputs = AdviceInputs(node, cap, areas)  # the advice may use what every area read
    for area in areas:
        if area["captured"]:
            area["advice"] = advice(area["name"], area["report"], inputs)
    return areas


# --- what to do next ------------------------------------------------------------------------


def advice(area: str, report: Report, inputs: AdviceInputs | None = None) -> list[str]:
    """What to type next for the well-known failures, chosen by the findings' kinds: the shell
    lines of kvmcluster.advice (commands and `# ` comments), right for the DRBD version and the
    stack; `inputs` gives what the findings do not say (the VGs and VMs on a resource, who owns
    a VM, its home node), read only when a finding asks for it."""
    from kvmcluster import advice as steps

    inputs = inputs or AdviceInputs(None, None, [])
    tips: list[str] = []
    for finding in report.findings:
        kinds = finding.kinds
        if area == "drbd" and "drbd-standalone" in kinds:
            tips += steps.split_brain_steps(**inputs.split_brain(finding.item))
        elif area == "vm_alloc" and "vm-active-twice" in kinds:
            owner, others = inputs.copies(finding.item)
            tips += steps.vm_active_twice(finding.item, owner, others, inputs.stack)
        elif area == "vm_alloc" and "vm-misplaced" in kinds:
            tips += inputs.recovery(finding.item, "started")
        elif area == "services" and not {"service-failed", "service-blocked"}.isdisjoint(kinds):
            tips += inputs.recovery(finding.item, "failed")
        elif area == "services" and not {"service-stopped", "service-disabled"}.isdisjoint(kinds):
            state = "stopped" if "service-stopped" in kinds else "disabled"
            tips += inputs.recovery(finding.item, state)
        if area == "cluster" and "cluster-not-quorate" in kinds:
            tips.append(
                "# no quorum: services stop. Bring the missing nodes back; never force "
                "quorum (cman_tool expected -e 1) while another partition may still run VMs."
            )
    if area == "daemons" and report.fix:
        tips += steps.start_order(**inputs.start_order())
    return tips


class AdviceInputs:
    """The facts the advice needs beyond the findings, from the same node or capture the areas
    were read from, each read once and only when a finding asks for it (a healthy node pays
    nothing). An input that cannot be read leaves the advice without it (the area that reads
    it says why)."""

    def __init__(self, node, cap, areas: list[dict]):
        self.node, self.cap = node, cap
        self.reports = {a["name"]: a["report"] for a in areas if a.get("captured")}
        self._cache: dict[str, object] = {}

    def _once(self, key: str, load):
        if key not in self._cache:
            try:
                self._cache[key] = load() if self.node is not None else None
            except (KvmclusterError, OSError):
                self._cache[key] = None
        return self._cache[key]

    @property
    def stack(self) -> str:
        def load():
            from kvmcluster.sources.cluster import detect_stack

            return "pacemaker" if detect_stack(self.node) in ("pacemaker", "corosync") else "cman"

        return self._once("stack", load) or "cman"

    def drbd(self):
        """The DRBD state, its minors named from drbd.conf (None: not readable)."""

        def load():
            from kvmcluster.rules.drbd import name_minors
            from kvmcluster.sources.drbd import load_drbd_status

            cap = self.cap
            if cap is None:
                status = load_drbd_status(self.node, None, None, None, False, None)
                return name_minors(status, self.configured())
            for position, name in enumerate((c.PROC_DRBD, c.DRBD_JSON, c.DRBD_EVENTS)):
                if not cap.file(name):
                    continue
                paths: list = [None, None, None]
                paths[position] = cap.file(name)
                try:
                    status = load_drbd_status(self.node, *paths, False, None)
                except KvmclusterError:
                    continue
                if not status.is_drbd9_without_resources:
                    return name_minors(status, self.configured())
            return None

        return self._once("drbd", load)

    def configured(self) -> list:
        """The resources of drbd.conf (the node's, or the capture's)."""

        def load():
            from kvmcluster.sources.drbd import load_configured_resources

            if self.cap is None:
                return load_configured_resources(self.node, None, True)
            conf = self.cap.file(c.DRBD_CONF)
            return load_configured_resources(self.node, conf, False) if conf else None

        return self._once("configured", load) or []

    def pvs(self) -> list:
        def load():
            from kvmcluster.sources.lvm import load_pvs

            if self.cap is not None:
                path = self.cap.file(c.PVS)
                return load_pvs(self.node, path, False) if path else []
            return load_pvs(self.node, None, False)

        return self._once("pvs", load) or []

    def placement(self):
        """The cluster's config, its placement and the hypervisors (sources.vm_alloc)."""

        def load():
            from kvmcluster.sources.vm_alloc import load_vm_alloc

            cap = self.cap
            if cap is None:
                from kvmcluster.checks.vm_alloc import CLUSTER_CONF, default_libvirt, live_stack

                node = self.node
                target, options = getattr(node, "target", None), getattr(node, "options", None)
                libvirt = default_libvirt(target, options)
                found = load_vm_alloc(
                    node, live_stack(node), cluster_conf=CLUSTER_CONF, cib_file=None,
                    clustat_file=None, crm_mon_file=None, libvirt=libvirt, sudo=False,
                    live_cluster_conf=True,
                )  # fmt: skip
            elif cap.file(c.CLUSTER_CONF) or cap.file(c.CIB):
                cman = bool(cap.file(c.CLUSTER_CONF))
                found = load_vm_alloc(
                    self.node, "cman" if cman else "pacemaker",
                    cluster_conf=cap.file(c.CLUSTER_CONF) or "", cib_file=cap.file(c.CIB),
                    clustat_file=cap.file(c.CLUSTAT) if cman else None,
                    crm_mon_file=None if cman else cap.file(c.CRM_MON),
                    libvirt=[], sudo=False, views=cap.libvirt_views(),
                )  # fmt: skip
            else:
                return None
            return None if found.config_error else found

        return self._once("placement", load)

    # --- what each piece of advice is given ---------------------------------------------------

    def _peer(self, resource: str) -> str:
        here = self.node.name if self.node is not None else ""
        for configured in self.configured():
            if configured.name == resource:
                for host in configured.hosts:
                    if not same_node(host, here):
                        return host
        found = self.drbd()
        if found is not None:
            for res in found.resources:
                for conn in res.connections if res.name == resource else ():
                    if conn.peer_name:
                        return conn.peer_name
        for node in self._cluster_nodes():
            if not same_node(node, here):
                return node
        return "the peer"

    def _cluster_nodes(self) -> list[str]:
        found = self.placement()
        return list(found.config.nodes) if found is not None and found.config else []

    def _vgs_of(self, resource: str) -> list[str]:
        found = self.drbd()
        if found is None:
            return []
        minors = {m for r in found.resources if r.name == resource for m in r.minors}
        devices = {f"/dev/drbd{m}" for m in minors} | {f"/dev/drbd/by-res/{resource}"}
        vgs = []
        for pv in self.pvs():
            on = pv.name in devices or pv.name.startswith(f"/dev/drbd/by-res/{resource}/")
            if pv.vg and on and pv.vg not in vgs:
                vgs.append(pv.vg)
        return vgs

    def _vms_on(self, vgs: list[str], node: str) -> list[str]:
        found = self.placement()
        views = found.views if found is not None else []
        if found is None and self.cap is not None:
            views = self.cap.libvirt_views()
        vms = set()
        for view in views or ():
            if view.error or not same_node(view.node, node):
                continue
            for domain in view.domains:
                for disk in domain.disks if domain.active else ():
                    device = disk.source if disk.type == "block" else disk.path
                    if device and vg_of(device) in vgs:
                        vms.add(domain.name)
        return sorted(vms)

    def split_brain(self, resource: str) -> dict:
        """split_brain_steps' arguments: this node is the victim (the header says to swap)."""
        found = self.drbd()
        victim = self.node.name if self.node is not None else "this node"
        vgs = self._vgs_of(resource)
        dual = True
        if found is not None:
            dual = any(
                r.role == "Primary" and any(x.peer_role == "Primary" for x in r.connections)
                for r in found.resources
            ) or not any(r.connections for r in found.resources if r.name != resource)
        return {
            "resource": resource,
            "vgs": vgs,
            "vms": self._vms_on(vgs, victim) if vgs else [],
            "drbd_version": (found.version if found is not None else None) or "8.4",
            "victim": victim,
            "survivor": self._peer(resource),
            "stack": self.stack,
            "dual_primary": dual,
        }

    def copies(self, vm: str) -> tuple[str | None, list[str]]:
        """Where a VM runs twice: the copy the cluster owns, and the others."""
        found = self.placement()
        if found is None:
            return None, []
        running = [
            d.node
            for v in found.views or ()
            if not v.error
            for d in v.domains
            if d.name == vm and d.active
        ]
        service = self._service(vm)
        owners = ([service.owner] if service.owner else list(service.nodes)) if service else []
        owner = next((n for n in running if any(same_node(n, o) for o in owners)), None)
        return owner, [n for n in running if n != owner]

    def _service(self, vm: str):
        found = self.placement()
        if found is None or found.services is None:
            return None
        from kvmcluster.advice import service_name

        names = {vm, service_name(vm), f"vm-{vm}"}
        for managed in found.config.vms if found.config else ():
            if managed.name == vm and managed.resource:
                names.add(managed.resource)
        return next((s for s in found.services.services if s.name in names), None)

    def _home(self, vm: str) -> str | None:
        found = self.placement()
        for managed in found.config.vms if found is not None and found.config else ():
            if vm in (managed.name, managed.resource) and managed.ordered and managed.preferred:
                return managed.preferred[0]
        return None

    def recovery(self, item: str, state: str) -> list[str]:
        """clusvcadm (rgmanager) or pcs (Pacemaker) lines for a VM or service in `state`."""
        from kvmcluster import advice as steps

        name = item.split(":", 1)[1] if item.startswith(("vm:", "service:")) else item
        service = self._service(name)
        owner = service.owner if service is not None else None
        if self.stack == "pacemaker":
            vm = item[3:] if item.startswith("vm-") else item
            if service is None or service.name != f"vm-{vm}":
                return []  # not a VM resource of pcs-setup.sh
            nodes = service.nodes
            return steps.pacemaker_recovery(vm, state, nodes[0] if nodes else None, self._home(vm))
        return steps.rgmanager_recovery(item, state, owner, self._home(name))

    def start_order(self) -> dict:
        """start_order's arguments: the DRBD resources configured but not up (all of drbd.conf
        when the module is not loaded), the VGs on DRBD devices the inputs know."""
        drbd = self.reports.get("drbd")
        kinds = {k for f in drbd.findings for k in f.kinds} if drbd is not None else set()
        found = self.drbd()
        configured = [r.name for r in self.configured()]
        if (drbd is None or "drbd-not-loaded" in kinds) and configured:
            resources = configured
        else:
            resources = [f.item for f in drbd.findings if "drbd-not-up" in f.kinds] if drbd else []
        vgs = []
        for pv in self.pvs():
            if pv.vg and pv.name.startswith("/dev/drbd") and pv.vg not in vgs:
                vgs.append(pv.vg)
        lvm = self.reports.get("lvm")
        for f in lvm.findings if lvm is not None else ():
            if "vg-missing" in f.kinds and f.item and f.item not in vgs:
                vgs.append(f.item)
        version = (found.version if found is not None else None) or "8.4"
        return {"stack": self.stack, "resources": resources, "vgs": vgs, "drbd_version": version}


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

    captures = getattr(args, "from_", None)
    if isinstance(captures, list):  # --from is repeatable: two or more are the cluster view
        args.from_ = captures = captures[0] if len(captures) == 1 else captures
    if getattr(args, "cluster", False) or isinstance(captures, list):
        from kvmcluster.view.run import run as run_cluster

        return run_cluster(args, live)
    cap = c.Capture(args.from_) if getattr(args, "from_", None) else None
    if cap is not None:
        from kvmcluster.view.read import cluster_manifest

        if cluster_manifest(cap.dir) is not None:  # a collect --cluster capture
            cap.close()
            from kvmcluster.view.run import run as run_cluster

            return run_cluster(args, live)
    timeout = getattr(args, "timeout", None)
    checked = _capture_node(cap, Deadline(timeout)) if cap else live
    source = f"capture {args.from_}" if cap else ("live over ssh" if checked.remote else "live")
    node = checked.name
    fmt = getattr(args, "format", None) or ("json" if args.json else "text")
    textfile = getattr(args, "textfile", None)  # node_exporter's textfile collector
    from kvmcluster.output.status import capture_time, colour_wanted

    colour = colour_wanted(sys.stdout, args.no_color) and fmt == "text" and not textfile
    when = capture_time(cap.started) if cap else None  # a capture's own time, not now
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
                screen = None
                if args.watch and sys.stdout.isatty():  # fit the terminal, as it is now
                    import shutil

                    screen = tuple(shutil.get_terminal_size())
                text = render_text(areas, source, node, colour, args.verbose, when, screen)
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
