"""The findings and perfdata of `kvmcluster status` as metrics for Prometheus (issue 22).

A renderer over the per-area reports that `status.build_areas()` returns: pure (no I/O, no
clock), so the same text comes out of a capture anywhere. Two dialects of one exposition:

- `openmetrics` (`kvmcluster status --format openmetrics`): OpenMetrics 1.0 text, a counter's
  family named without `_total`, `# UNIT` lines, one `# EOF` at the end;
- `prometheus` (`--textfile DIR`): the Prometheus text format 0.0.4 that node_exporter's textfile
  collector and `promtool check metrics` read (a counter's TYPE names the `_total` sample, no
  UNIT lines; the closing `# EOF` is a comment there).

Metric names come from the one table below (METRICS), never from the input. Names from the
input (a resource, a VM, a node) are only label values: escaped for output as everywhere in the
suite (`printable`: control characters as `\\n`, `\\xNN` ...), then per the OpenMetrics spec
(backslash, double quote, newline), so `a"}\\n# EOF` stays inside its label value.

Every sample has a `node` label: `render_nodes()` takes several nodes' areas (the cluster view
of issue 17) and writes each family once with one series per node.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from kvmcluster.model.findings import Finding, PerfRow, State, printable

CONTENT_TYPES = {
    "openmetrics": "application/openmetrics-text; version=1.0.0; charset=utf-8",
    "prometheus": "text/plain; version=0.0.4; charset=utf-8",
}
TEXTFILE_NAME = "kvmcluster.prom"
# the cluster view's file (`status --cluster --textfile`): its own families only, so that it
# may share a directory with the node's own file
CLUSTER_TEXTFILE_NAME = "kvmcluster-cluster.prom"


@dataclass(frozen=True)
class Metric:
    """One metric family. `perf`: the perfdata label (or, with `item_label`, the label's
    suffix after the item name) it comes from in `area`; `scale` turns the plugin's unit into
    the base unit (`%` -> ratio)."""

    name: str  # the family name (a counter's samples add `_total`)
    type: str  # gauge | counter | stateset-like gauges are plain gauges here
    help: str
    unit: str = ""  # OpenMetrics UNIT: the name ends with `_<unit>`
    area: str = ""
    perf: str = ""
    item_label: str = ""  # the label naming the item when the perfdata label starts with it
    scale: float = 1


STATE_HELP = "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the Monitoring Plugins exit codes)"

# Every metric kvmcluster exposes, in the order they are written. The perfdata labels are the
# plugins' (README, Perfdata of each check); the dashboard (kvmcluster/dashboard.py) and the
# README's metric list are made from this table too.
METRICS: tuple[Metric, ...] = (
    Metric("kvmcluster_state", "gauge", f"Worst state of every area on the node: {STATE_HELP}."),
    Metric("kvmcluster_area_state", "gauge", f"State of one area (a check): {STATE_HELP}."),
    Metric(
        "kvmcluster_item_state",
        "gauge",
        f"State of one item (resource, node, service, daemon, VM, VG) or cluster-wide fact "
        f"of an area, by kind: {STATE_HELP}.",
    ),
    Metric(
        "kvmcluster_last_run_timestamp_seconds",
        "gauge",
        "When kvmcluster status read the node (Unix time).",
        "seconds",
    ),
    # drbd (check_drbd), per resource
    Metric(
        "kvmcluster_drbd_out_of_sync_bytes",
        "gauge",
        "DRBD data not yet on every peer (per volume the largest gap, summed).",
        "bytes",
        "drbd",
        "_oos",
        "resource",
    ),
    Metric(
        "kvmcluster_drbd_sync_ratio",
        "gauge",
        "DRBD resync/verify progress while one runs, else the share in sync (1 when healthy).",
        "ratio",
        "drbd",
        "_sync",
        "resource",
        0.01,
    ),
    Metric(
        "kvmcluster_drbd_resync_eta_seconds",
        "gauge",
        "Time left of the slowest running DRBD resync (only while one runs and says it).",
        "seconds",
        "drbd",
        "_eta",
        "resource",
    ),
    Metric(
        "kvmcluster_drbd_resync_speed_bytes_per_second",
        "gauge",
        "Current rate of a running DRBD resync (only while one runs and says it).",
        "bytes_per_second",
        "drbd",
        "_speed",
        "resource",
    ),
    Metric(
        "kvmcluster_drbd_network_sent_bytes",
        "counter",
        "DRBD replication bytes sent to the peers.",
        "bytes",
        "drbd",
        "_net_sent",
        "resource",
    ),
    Metric(
        "kvmcluster_drbd_network_received_bytes",
        "counter",
        "DRBD replication bytes received from the peers.",
        "bytes",
        "drbd",
        "_net_received",
        "resource",
    ),
    Metric(
        "kvmcluster_drbd_disk_read_bytes",
        "counter",
        "Bytes DRBD read from the local backing disk.",
        "bytes",
        "drbd",
        "_disk_read",
        "resource",
    ),
    Metric(
        "kvmcluster_drbd_disk_written_bytes",
        "counter",
        "Bytes DRBD wrote to the local backing disk.",
        "bytes",
        "drbd",
        "_disk_written",
        "resource",
    ),
    Metric(
        "kvmcluster_drbd_pending_requests",
        "gauge",
        "DRBD requests sent to the peer and not answered yet.",
        "",
        "drbd",
        "_pending",
        "resource",
    ),
    Metric(
        "kvmcluster_drbd_unacked_requests",
        "gauge",
        "DRBD requests from the peer not answered yet.",
        "",
        "drbd",
        "_unacked",
        "resource",
    ),
    # cluster (check_cluster)
    Metric(
        "kvmcluster_cluster_nodes_online",
        "gauge",
        "Cluster member nodes online.",
        "",
        "cluster",
        "nodes_online",
    ),
    Metric(
        "kvmcluster_cluster_nodes_configured",
        "gauge",
        "Cluster nodes configured (when the source lists them).",
        "",
        "cluster",
        "nodes_configured",
    ),
    Metric(
        "kvmcluster_cluster_votes",
        "gauge",
        "Votes present (votequorum / cman).",
        "",
        "cluster",
        "votes_total",
    ),
    Metric(
        "kvmcluster_cluster_expected_votes",
        "gauge",
        "Expected votes (votequorum / cman).",
        "",
        "cluster",
        "votes_expected",
    ),
    Metric(
        "kvmcluster_cluster_quorum_votes",
        "gauge",
        "Votes needed for quorum.",
        "",
        "cluster",
        "quorum_votes",
    ),
    Metric(
        "kvmcluster_cluster_quorate",
        "gauge",
        "1 when this node's partition has quorum, else 0.",
        "",
        "cluster",
        "quorate",
    ),
    Metric(
        "kvmcluster_cluster_links_up",
        "gauge",
        "Corosync links (rings) that reach at least one peer.",
        "",
        "cluster",
        "links_up",
    ),
    # services (check_cluster_services)
    Metric(
        "kvmcluster_services_started",
        "gauge",
        "Cluster services/resources started.",
        "",
        "services",
        "services_started",
    ),
    Metric(
        "kvmcluster_services_stopped",
        "gauge",
        "Cluster services/resources stopped.",
        "",
        "services",
        "services_stopped",
    ),
    Metric(
        "kvmcluster_services_failed",
        "gauge",
        "Cluster services/resources failed.",
        "",
        "services",
        "services_failed",
    ),
    Metric(
        "kvmcluster_services_failures",
        "gauge",
        "Sum of the Pacemaker fail-counts (INFINITY counts 1000000).",
        "",
        "services",
        "fail_count",
    ),
    # daemons (check_cluster_daemons)
    Metric(
        "kvmcluster_daemons_expected",
        "gauge",
        "Cluster stack daemons checked.",
        "",
        "daemons",
        "expected",
    ),
    Metric(
        "kvmcluster_daemons_running",
        "gauge",
        "Cluster stack daemons running.",
        "",
        "daemons",
        "running",
    ),
    Metric(
        "kvmcluster_daemons_missing",
        "gauge",
        "Cluster stack daemons not running.",
        "",
        "daemons",
        "missing",
    ),
    Metric(
        "kvmcluster_node_uptime_seconds",
        "gauge",
        "Seconds since the node booted.",
        "seconds",
        "daemons",
        "uptime",
    ),
    # vm_alloc (check_vm_alloc)
    Metric(
        "kvmcluster_vms_configured",
        "gauge",
        "VMs the cluster manages.",
        "",
        "vm_alloc",
        "vms_configured",
    ),
    Metric(
        "kvmcluster_vms_running",
        "gauge",
        "Managed VMs running somewhere.",
        "",
        "vm_alloc",
        "vms_running",
    ),
    Metric(
        "kvmcluster_vms_misplaced",
        "gauge",
        "VMs failed over, or with disks on another node's VG.",
        "",
        "vm_alloc",
        "vms_misplaced",
    ),
    Metric(
        "kvmcluster_vms_not_running",
        "gauge",
        "VMs that should run and do not.",
        "",
        "vm_alloc",
        "vms_not_running",
    ),
    Metric(
        "kvmcluster_vms_unmanaged",
        "gauge",
        "VMs running in libvirt without a cluster resource.",
        "",
        "vm_alloc",
        "vms_unmanaged",
    ),
    Metric(
        "kvmcluster_vms_local_file_disks",
        "gauge",
        "Running VMs with a disk on a local file (they cannot fail over).",
        "",
        "vm_alloc",
        "vms_local_file_disks",
    ),
    # lvm (check_cluster_lvm), per VG
    Metric(
        "kvmcluster_lvm_vg_size_bytes",
        "gauge",
        "Size of the volume group.",
        "bytes",
        "lvm",
        "_size",
        "vg",
    ),
    Metric(
        "kvmcluster_lvm_vg_free_bytes",
        "gauge",
        "Free space in the volume group.",
        "bytes",
        "lvm",
        "_free",
        "vg",
    ),
    Metric(
        "kvmcluster_lvm_vg_lvs",
        "gauge",
        "Logical volumes in the volume group.",
        "",
        "lvm",
        "_lvs",
        "vg",
    ),
)
# The cluster view's own families (`status --cluster --format openmetrics`, issue 17): a node's
# reachability and what only a view across nodes sees. Not per node, so not on the dashboard's
# per-node panels.
CLUSTER_METRICS: tuple[Metric, ...] = (
    Metric(
        "kvmcluster_node_reachable",
        "gauge",
        "Whether the cluster view could read the node (1) or not (0: its areas are absent).",
    ),
    Metric(
        "kvmcluster_correlation_state",
        "gauge",
        f"State of one cluster finding (seen only across nodes), by kind and its first item "
        f"(the resource, VM NAME or file; stable while the finding lasts): {STATE_HELP}.",
    ),
    Metric(
        "kvmcluster_correlation_info",
        "gauge",
        "Always 1: the details of a cluster finding (its other items, `; `-separated, with the "
        "figures that change while it lasts), by kind and item as kvmcluster_correlation_state.",
    ),
)
BY_NAME = {m.name: m for m in METRICS}
_EXACT = {(m.area, m.perf): m for m in METRICS if m.perf and not m.item_label}
_BY_SUFFIX = {(m.area, m.perf): m for m in METRICS if m.item_label}
# longest suffix first, so that `_net_sent` wins over a shorter suffix that also matches
_SUFFIXES = sorted(((m.area, m.perf, m) for m in METRICS if m.item_label), key=lambda t: -len(t[1]))

# --- kinds ------------------------------------------------------------------------------------

# The kind of an item in each area when no problem says more.
AREA_KINDS = {
    "drbd": "drbd-resource",
    "cluster": "cluster-node",
    "services": "service",
    "daemons": "daemon",
    "vm_alloc": "vm",
    "lvm": "vg",
}
# Stand-in for the findings that do not carry their own `kind` yet (issue 16 gives them one,
# check by check): the first of these that a finding's reasons (worst first) contain, per
# area, named as issue 16 names its kinds where it has one (drbd-standalone, drbd-not-up,
# cluster-not-quorate, vm-active-twice). Only this table reads text; a finding whose `kind`
# is set is taken as it is.
_TEXT_KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "drbd": (
        ("StandAlone", "drbd-standalone"),
        ("I/O suspended", "drbd-suspended"),
        ("quorum lost", "drbd-quorum-lost"),
        ("not up", "drbd-not-up"),
        ("not connected", "drbd-disconnected"),
        ("no peer connection", "drbd-disconnected"),
        ("% done", "drbd-resync"),
        ("out of sync", "drbd-out-of-sync"),
        ("role", "drbd-role"),
        ("disk", "drbd-disk"),
    ),
    "cluster": (
        ("not quorate", "cluster-not-quorate"),
        ("superseded", "fencing-history"),
        ("fencing of", "fencing-failed"),
        ("UNCLEAN", "node-unclean"),
        ("redundancy lost", "link-down"),
        ("offline", "node-offline"),
        ("no DC", "no-dc"),
        ("maintenance-mode", "cluster-option"),
        ("stop-all-resources", "cluster-option"),
        ("stonith-enabled", "cluster-option"),
        ("quorum", "quorum"),
        ("link", "link"),
        ("ring", "link"),
    ),
    "services": (
        ("at once", "service-active-twice"),
        ("blocked", "service-blocked"),
        ("failed", "service-failed"),
        ("UNCLEAN", "service-unclean"),
        ("stopped", "service-stopped"),
        ("disabled", "service-disabled"),
    ),
    "daemons": (
        ("not running", "daemon-missing"),
        ("times", "daemon-duplicate"),
        ("zombie", "daemon-zombie"),
    ),
    "vm_alloc": (
        ("at once", "vm-active-twice"),
        ("crashed", "vm-crashed"),
        ("not running anywhere", "vm-not-running"),
        ("the cluster says", "vm-placement-mismatch"),
        ("outside its restricted domain", "vm-outside-domain"),
        ("belongs on", "vm-misplaced"),
        ("paused", "vm-paused"),
        ("UNCLEAN", "vm-unclean"),
        ("VG", "vm-disk-misplaced"),
        ("disk", "vm-disk-misplaced"),
    ),
    "lvm": (
        ("not found", "vg-missing"),
        ("missing", "pv-missing"),
        ("below", "vg-low-free"),
        ("not active", "lv-inactive"),
        ("filter", "lvm-filter"),
        ("locking_type", "lvm-locking"),
        ("lvmlockd", "lvm-locking"),
        ("clustered", "lvm-locking"),
        ("backing device", "pv-backing-device"),
    ),
}


def finding_kinds(area: str, finding: Finding) -> list[str]:
    """What a finding is about, one kind per problem, worst first: the finding's own kinds
    (issue 16) where it has them, the others made from the area and the reason text (see
    _TEXT_KINDS). Several kinds give several series, so that an item both failed and active
    on two nodes is found by either alert. A finding without problems has its area's item
    kind (`drbd-resource` ...), or on no item the kind its description names (`quorum`,
    `link`), else `<area>`; an unreadable input on no item is `<area>-unknown`."""
    own = [str(k) for k in getattr(finding, "kinds", ()) or () if k]
    single = getattr(finding, "kind", "")
    if single and str(single) not in own:
        own.append(str(single))
    kinds = list(own)
    if len(own) < len(finding.problems):  # some problems without a kind of their own
        for text in finding.problems:
            derived = _text_kind(area, text)
            if derived and derived not in kinds:
                kinds.append(derived)
    if kinds:
        return kinds
    if not finding.item:
        if finding.state == State.UNKNOWN:
            return [f"{area}-unknown"]
        return [_text_kind(area, finding.detail) or area]
    return [AREA_KINDS.get(area, area)]


def _text_kind(area: str, text: str) -> str:
    for needle, name in _TEXT_KINDS.get(area, ()):
        if needle in text:
            return name
    return ""


# --- rendering --------------------------------------------------------------------------------


def escape_label(value: str) -> str:
    """A label value from the input: escaped for output (printable), then per OpenMetrics
    (`\\` `"` and newline; printable has already turned a newline into `\\n`)."""
    text = printable(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _perf_samples(area: str, report) -> Iterable[tuple[Metric, dict[str, str], float]]:
    """(metric, item labels, value) for every perfdata value of `report` the table maps."""
    for perf in report.perfdata:
        singles = perf if isinstance(perf, PerfRow) else (perf,)
        for single in singles:
            label = single.label
            item = getattr(single, "item", "")
            labels: dict[str, str] = {}
            if item:  # the value says its item and metric: no need to split the label
                metric = _BY_SUFFIX.get((area, "_" + single.metric))
                if metric is not None:
                    labels = {metric.item_label: item}
            else:
                metric = _EXACT.get((area, label))
            if metric is None:
                for metric_area, suffix, candidate in _SUFFIXES:
                    if metric_area == area and label.endswith(suffix) and len(label) > len(suffix):
                        metric = candidate
                        labels = {candidate.item_label: label[: -len(suffix)]}
                        break
            if metric is None:
                continue  # a perfdata label the table does not know: not exposed
            value = single.value
            yield metric, labels, value * metric.scale if metric.scale != 1 else value


def _severity(value: float) -> int:
    return State(int(value)).severity


def render_nodes(
    nodes: Iterable[tuple[str, list[dict]]],
    dialect: str = "openmetrics",
    timestamp: float | None = None,
    cluster: Iterable[tuple[str, dict[str, str], float]] = (),
) -> str:
    """The exposition of every node's areas (each `(node name, build_areas() result)`).
    `timestamp`: when the node was read (Unix time), exposed as a gauge when given.
    `cluster`: samples (family, labels, value) of CLUSTER_METRICS (render_cluster)."""
    if dialect not in CONTENT_TYPES:
        raise ValueError(f"unknown dialect {dialect!r}")
    # family -> {label tuple: value}; a repeated series keeps the worst state (several
    # cluster-wide findings of one kind) or the first value (perfdata)
    families = METRICS + CLUSTER_METRICS
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {m.name: {} for m in families}

    def add(name: str, labels: dict[str, str], value: float, worst: bool = False) -> None:
        key = tuple(labels.items())
        series = samples[name]
        if key in series:
            if worst and _severity(value) > _severity(series[key]):
                series[key] = value
            return
        series[key] = value

    for node, areas in nodes:
        states = []
        for area in areas:
            if not area.get("captured"):
                continue
            name, report = area["name"], area["report"]
            state = report.state
            states.append(state)
            base = {"node": node, "area": name}
            add("kvmcluster_area_state", base, int(state))
            for finding in report.findings:
                for kind in finding_kinds(name, finding):
                    labels = {**base, "item": finding.item, "kind": kind}
                    add("kvmcluster_item_state", labels, int(finding.state), worst=True)
            for metric, item_labels, value in _perf_samples(name, report):
                add(metric.name, {"node": node, **item_labels}, value)
        overall = max(states, key=lambda s: s.severity, default=State.UNKNOWN)
        add("kvmcluster_state", {"node": node}, int(overall))
        if timestamp is not None:
            add("kvmcluster_last_run_timestamp_seconds", {"node": node}, timestamp)

    for name, labels, value in cluster:
        add(name, labels, value, worst=name == "kvmcluster_correlation_state")

    lines: list[str] = []
    for metric in families:
        series = samples[metric.name]
        if not series:
            continue
        sample = metric.name + ("_total" if metric.type == "counter" else "")
        family = metric.name if dialect == "openmetrics" else sample
        lines.append(f"# HELP {family} {metric.help}")
        lines.append(f"# TYPE {family} {metric.type}")
        if metric.unit and dialect == "openmetrics":
            lines.append(f"# UNIT {family} {metric.unit}")
        for key, value in series.items():
            text = ",".join(f'{k}="{escape_label(v)}"' for k, v in key)
            lines.append(f"{sample}{{{text}}} {_number(value)}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def render(
    areas: list[dict], node: str, dialect: str = "openmetrics", timestamp: float | None = None
) -> str:
    """One node's exposition (see render_nodes)."""
    return render_nodes([(node, areas)], dialect, timestamp)


def render_cluster(
    readings,
    correlations,
    dialect: str = "openmetrics",
    timestamp: float | None = None,
    with_nodes: bool = True,
) -> str:
    """The cluster view's exposition: every node read (as render_nodes; not `with_nodes`:
    the textfile, beside each node's own), whether each node could be read, and each cluster
    finding by kind and its first item, its other items in kvmcluster_correlation_info."""
    cluster: list[tuple[str, dict[str, str], float]] = []
    for reading in readings:
        cluster.append(
            ("kvmcluster_node_reachable", {"node": reading.name}, 1 if reading.reachable else 0)
        )
    for finding in correlations:
        labels = {"kind": finding.kind, "item": finding.items[0] if finding.items else ""}
        cluster.append(("kvmcluster_correlation_state", labels, int(finding.state)))
        details = {**labels, "details": "; ".join(finding.items[1:])}
        cluster.append(("kvmcluster_correlation_info", details, 1))
    nodes = [(r.name, r.areas) for r in readings if r.reachable] if with_nodes else []
    return render_nodes(nodes, dialect, timestamp, cluster)
