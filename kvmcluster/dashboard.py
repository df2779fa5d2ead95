"""A Grafana dashboard made from the metric table of kvmcluster.output.openmetrics (issue 22).

`python -m kvmcluster.dashboard > prometheus/grafana-dashboard.json` writes the committed file;
a test checks the two are equal, so a metric added to the table reaches the dashboard. Pure: the
same JSON every time (no ids from a clock, sorted as the table is).

Layout: an overview row (the worst state per node, the areas per node as a state timeline, the
items that are not OK), a row for the cluster view (its metrics, CLUSTER_METRICS: the nodes it
read, its findings that are not OK and their states over time), then one row per area: its
state per node, its non-OK items, and a time series per metric of the area (counters as rates).
"""

from __future__ import annotations

import json

from kvmcluster.output.openmetrics import CLUSTER_METRICS, METRICS, Metric

AREA_TITLES = (
    ("drbd", "DRBD"),
    ("cluster", "Quorum and membership"),
    ("services", "Cluster services"),
    ("daemons", "Daemons"),
    ("vm_alloc", "VM allocation"),
    ("lvm", "LVM on DRBD"),
)
UID = "kvmcluster-overview"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
NODE = 'node=~"$node"'
STATE_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "OK", "color": "green", "index": 0},
            "1": {"text": "WARNING", "color": "yellow", "index": 1},
            "2": {"text": "CRITICAL", "color": "red", "index": 2},
            "3": {"text": "UNKNOWN", "color": "purple", "index": 3},
        },
    }
]
STATE_THRESHOLDS = {
    "mode": "absolute",
    "steps": [
        {"color": "green", "value": None},
        {"color": "yellow", "value": 1},
        {"color": "red", "value": 2},
        {"color": "purple", "value": 3},
    ],
}
# Grafana units for the OpenMetrics units; counters are shown per second
UNITS = {"bytes": "bytes", "ratio": "percentunit", "seconds": "s", "": "short"}
RATE_UNITS = {"bytes": "Bps", "": "ops"}


class _Layout:
    """Panel ids and grid positions, in order."""

    def __init__(self) -> None:
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_height = 0

    def place(self, panel: dict, w: int, h: int) -> dict:
        if self.x + w > 24:
            self.x, self.y = 0, self.y + self.row_height
            self.row_height = 0
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_height = max(self.row_height, h)
        return panel

    def row(self, title: str) -> dict:
        if self.x:
            self.x, self.y = 0, self.y + self.row_height
        panel = {"type": "row", "title": title, "collapsed": False, "panels": []}
        self.place(panel, 24, 1)
        self.x, self.y, self.row_height = 0, self.y + 1, 0
        return panel


def _target(expr: str, legend: str, instant: bool = False, table: bool = False) -> dict:
    target = {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": "A"}
    if instant:
        target["instant"] = True
        target["range"] = False
    if table:
        target["format"] = "table"
    return target


def _state_stat(title: str, expr: str, legend: str) -> dict:
    return {
        "type": "stat",
        "title": title,
        "datasource": DATASOURCE,
        "targets": [_target(expr, legend)],
        "fieldConfig": {
            "defaults": {"mappings": STATE_MAPPINGS, "thresholds": STATE_THRESHOLDS},
            "overrides": [],
        },
        "options": {
            "colorMode": "background",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "value_and_name",
        },
    }


def _problem_table(title: str, area: str = "") -> dict:
    where = f'{NODE},area="{area}"' if area else NODE
    return {
        "type": "table",
        "title": title,
        "datasource": DATASOURCE,
        "description": "Items whose state is not OK (kvmcluster_item_state > 0).",
        "targets": [_target(f"kvmcluster_item_state{{{where}}} > 0", "", instant=True, table=True)],
        "fieldConfig": {
            "defaults": {"mappings": STATE_MAPPINGS, "thresholds": STATE_THRESHOLDS},
            "overrides": [],
        },
        "options": {"showHeader": True},
        "transformations": [
            {
                "id": "organize",
                "options": {
                    "excludeByName": {
                        "Time": True,
                        "__name__": True,
                        "instance": True,
                        "job": True,
                    },
                    "renameByName": {"Value": "state"},
                },
            }
        ],
    }


def _metric_panel(metric: Metric) -> dict:
    labels = "{{node}}" + (f" {{{{{metric.item_label}}}}}" if metric.item_label else "")
    if metric.type == "counter":
        expr = f"rate({metric.name}_total{{{NODE}}}[5m])"
        unit = RATE_UNITS.get(metric.unit, "short")
        title = f"{metric.help.rstrip('.')} (per second)"
    else:
        expr = f"{metric.name}{{{NODE}}}"
        unit = UNITS.get(metric.unit, "short")
        title = metric.help.rstrip(".")
    return {
        "type": "timeseries",
        "title": title,
        "description": f"{metric.name}: {metric.help}",
        "datasource": DATASOURCE,
        "targets": [_target(expr, labels)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
    }


REACHABLE_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "not read", "color": "red", "index": 0},
            "1": {"text": "read", "color": "green", "index": 1},
        },
    }
]


def _reachable_panels(metric: Metric) -> list[tuple[dict, int, int]]:
    """kvmcluster_node_reachable: one stat per node, read or not. Not filtered by the node
    selector: the view names a node as `--node` or the cluster configuration does, which
    may differ from the host name in the node's own metrics."""
    panel = _state_stat("Nodes the cluster view read", metric.name, "{{node}}")
    panel["description"] = f"{metric.name}: {metric.help}"
    panel["fieldConfig"]["defaults"] = {
        "mappings": REACHABLE_MAPPINGS,
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}],
        },
    }
    return [(panel, 6, 6)]


def _correlation_panels(metric: Metric) -> list[tuple[dict, int, int]]:
    """kvmcluster_correlation_state: the findings not OK as a table (kind, item, state and
    the details of kvmcluster_correlation_info), and the worst state per kind over time."""
    table = _problem_table("Cluster findings not OK")
    table["description"] = (
        f"{metric.name} > 0: what only a view across nodes sees (split brain on both sides, a "
        "VM running twice, a split cluster, configuration drift); `kvmcluster status "
        "--cluster` prints each with what to do."
    )
    details = (
        f"({metric.name} > 0) * on(job, instance, kind, item) group_left(details) "
        "kvmcluster_correlation_info"
    )
    table["targets"] = [_target(details, "", instant=True, table=True)]
    timeline = {
        "type": "state-timeline",
        "title": "Cluster findings by kind",
        "description": f"{metric.name}: {metric.help}",
        "datasource": DATASOURCE,
        "targets": [_target(f"max by (kind) ({metric.name})", "{{kind}}")],
        "fieldConfig": {
            "defaults": {"mappings": STATE_MAPPINGS, "thresholds": STATE_THRESHOLDS},
            "overrides": [],
        },
        "options": {"showValue": "never"},
    }
    return [(table, 18, 6), (timeline, 24, 6)]


def _cluster_metric_panels(metric: Metric) -> list[tuple[dict, int, int]]:
    """A cluster metric without a panel of its own: its values over time."""
    return [(_metric_panel(metric), 8, 7)]


# the cluster view's panels, per metric of CLUSTER_METRICS (any other: a time series)
CLUSTER_PANELS = {
    "kvmcluster_node_reachable": _reachable_panels,
    "kvmcluster_correlation_state": _correlation_panels,
    "kvmcluster_correlation_info": lambda metric: [],  # its details are in the findings table
}
CLUSTER_TITLE = "Cluster view"


def dashboard() -> dict:
    """The dashboard as a dict (Grafana's JSON model)."""
    layout = _Layout()
    panels = [layout.row("Overview")]
    panels.append(
        layout.place(
            _state_stat("Worst state per node", f"kvmcluster_state{{{NODE}}}", "{{node}}"), 8, 5
        )
    )
    timeline = {
        "type": "state-timeline",
        "title": "Areas per node",
        "datasource": DATASOURCE,
        "targets": [_target(f"kvmcluster_area_state{{{NODE}}}", "{{node}} {{area}}")],
        "fieldConfig": {
            "defaults": {"mappings": STATE_MAPPINGS, "thresholds": STATE_THRESHOLDS},
            "overrides": [],
        },
        "options": {"showValue": "never"},
    }
    panels.append(layout.place(timeline, 12, 5))
    age = {
        "type": "stat",
        "title": "Age of the data",
        "description": "Seconds since kvmcluster status last read the node (the timer or cron "
        "job that writes the textfile).",
        "datasource": DATASOURCE,
        "targets": [
            _target(f"time() - kvmcluster_last_run_timestamp_seconds{{{NODE}}}", "{{node}}")
        ],
        "fieldConfig": {
            "defaults": {
                "unit": "s",
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": "green", "value": None}, {"color": "red", "value": 300}],
                },
            },
            "overrides": [],
        },
        "options": {
            "colorMode": "value",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
    }
    panels.append(layout.place(age, 4, 5))
    panels.append(layout.place(_problem_table("Items not OK"), 24, 6))
    panels.append(layout.row(CLUSTER_TITLE))
    for metric in CLUSTER_METRICS:
        make = CLUSTER_PANELS.get(metric.name, _cluster_metric_panels)
        for panel, w, h in make(metric):
            panels.append(layout.place(panel, w, h))
    for area, title in AREA_TITLES:
        panels.append(layout.row(title))
        panels.append(
            layout.place(
                _state_stat(
                    f"{title}: state",
                    f'kvmcluster_area_state{{{NODE},area="{area}"}}',
                    "{{node}}",
                ),
                6,
                6,
            )
        )
        panels.append(layout.place(_problem_table(f"{title}: items not OK", area), 18, 6))
        for metric in METRICS:
            if metric.area == area:
                panels.append(layout.place(_metric_panel(metric), 8, 7))
    return {
        "title": "kvmcluster",
        "uid": UID,
        "description": "HA KVM clusters (DRBD, LVM, cman/rgmanager or Pacemaker) as kvmcluster "
        "judges them: generated by kvmcluster.dashboard from the metric table.",
        "tags": ["kvmcluster", "drbd", "pacemaker", "kvm"],
        "timezone": "browser",
        "schemaVersion": 37,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Data source",
                },
                {
                    "name": "node",
                    "type": "query",
                    "label": "Node",
                    "datasource": DATASOURCE,
                    "query": {
                        "query": "label_values(kvmcluster_state, node)",
                        "refId": "node",
                    },
                    "definition": "label_values(kvmcluster_state, node)",
                    "refresh": 2,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {"selected": True, "text": "All", "value": "$__all"},
                },
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    """The committed file's text."""
    return json.dumps(dashboard(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
