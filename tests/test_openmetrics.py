"""Issue 22: the findings and perfdata of `kvmcluster status` as OpenMetrics / Prometheus text,
the Grafana dashboard made from the same metric table, and `--textfile DIR` (written
atomically for node_exporter). The real tools (promtool, node_exporter, Prometheus) read the
same output in tests/test_openmetrics_real.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from kvmcluster import capture as c
from kvmcluster import dashboard, status
from kvmcluster.model.findings import Finding, Perf, Report, State, printable
from kvmcluster.output import openmetrics
from kvmcluster.runtime.command import Deadline
from tests.plugin_runner import FIXTURES, REPO, plugin_command

CAPTURES = sorted(p for p in (REPO / "examples" / "captures").iterdir() if p.is_dir())
HOSTILE = 'a"}\n# EOF\\'  # closes the label set, starts a line of its own, ends in a backslash
VM199 = "aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr"

# one sample line: a name, a label set of escaped values, a number
LABEL = r'[a-z_]+="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^([a-z_]+)\{{({LABEL}(?:,{LABEL})*)\}} (-?[0-9.e+]+|NaN|[+-]Inf)$")
META = re.compile(r"^# (HELP|TYPE|UNIT) ([a-z_]+) (.+)$")


def areas_of(capture: Path) -> tuple[str, list[dict]]:
    cap = c.Capture(str(capture))
    try:
        make = getattr(status, "_capture_node", None)  # as `status --from` reads it
        if make is not None:
            node = make(cap, Deadline(30))
        else:
            from kvmcluster.sources.node import CaptureNode

            node = CaptureNode(cap.hostname(), Deadline(30))
        return node.name, status.build_areas(node, cap)
    finally:
        cap.close()


def hostile_capture(tmp_path: Path) -> Path:
    """The split-brain example with a host name, a DRBD resource and a VM named to break an
    exposition: a quote and brace that close the label set, a newline and `# EOF`, a
    backslash, an ESC."""
    capture = tmp_path / "hostile"
    shutil.copytree(REPO / "examples" / "captures" / "split-brain", capture)
    xml_name = VM199 + "&quot;}&#10;# EOF\\"
    for path in capture.iterdir():
        if path.suffix in (".xml", ".conf"):
            path.write_text(path.read_text().replace(VM199, xml_name))
    (capture / "hostname.txt").write_text(f"node05{HOSTILE}\n")
    conf = capture / "drbd.conf"
    conf.write_text(conf.read_text().replace("resource drbd0", "resource drbd0\x1b[2J\\", 1))
    return capture


def pacemaker_capture(tmp_path: Path, name: str, **files: str) -> Path:
    """A capture of a Pacemaker node made of real fixtures (capture file name = fixture)."""
    capture = tmp_path / name
    capture.mkdir()
    for target, source in files.items():
        shutil.copy(FIXTURES / source, capture / target.replace("_", "-"))
    (capture / "hostname.txt").write_text(f"{name}\n")
    return capture


def fencing_capture(tmp_path: Path) -> Path:
    """hgnode1 after its peer's fencing failed: the peer UNCLEAN, a link down."""
    return pacemaker_capture(
        tmp_path,
        "hgnode1",
        **{
            "crm_mon.xml": "crm-mon_21-fencing-failed.xml",
            "corosync_quorumtool.txt": "corosync-quorumtool_31-two-node-peer-lost.txt",
            "corosync_cfgtool.txt": "corosync-cfgtool_31-link1-down.txt",
        },
    )


def twice_capture(tmp_path: Path) -> Path:
    """A VirtualDomain active on two nodes (and failed), pacemaker-controld not running."""
    return pacemaker_capture(
        tmp_path,
        "kimball",
        **{
            "crm_mon.xml": "crm-mon_21-group-by-node-virtualdomain-active-on-two-nodes.xml",
            "corosync_quorumtool.txt": "corosync-quorumtool_31-two-node-ok.txt",
            "ps.txt": "ps_pacemaker-11-rhel7-crmd-missing.txt",
            "uptime.txt": "proc-uptime_42-minutes.txt",
        },
    )


def parse(text: str, dialect: str) -> dict[str, list[tuple[dict[str, str], str]]]:
    """A strict reading of the exposition: every line a HELP/TYPE/UNIT line of a family seen
    once, or a sample of the family just declared; one `# EOF`, last. Returns the samples by
    sample name, label values unescaped."""
    lines = text.split("\n")
    assert lines[-1] == "" and lines[-2] == "# EOF", lines[-3:]
    assert text.count("\n# EOF\n") == 1 and not text.startswith("# EOF")
    families: dict[str, str] = {}
    current = ""
    samples: dict[str, list[tuple[dict[str, str], str]]] = {}
    for line in lines[:-2]:
        meta = META.match(line)
        if meta:
            kind, name, rest = meta.groups()
            if kind == "HELP":
                assert name not in families, f"family {name} repeated"
                families[name] = ""
                current = name
            else:
                assert name == current, line
                if kind == "TYPE":
                    families[name] = rest
                else:
                    assert dialect == "openmetrics" and name.endswith("_" + rest), line
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        if families[current] == "counter":
            expected = current + "_total" if dialect == "openmetrics" else current
            assert name == expected and name.endswith("_total"), line
        else:
            assert name == current, line
        values = dict(
            (k, re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m[1], m[1]), v))
            for k, v in re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', labels)
        )
        samples.setdefault(name, []).append((values, value))
    return samples


def value(samples, name: str, **labels: str) -> str:
    found = [
        v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items())
    ]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


@pytest.mark.parametrize("dialect", ["openmetrics", "prometheus"])
@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name for p in CAPTURES])
def test_every_example_capture_is_one_strict_exposition(capture, dialect):
    node, areas = areas_of(capture)
    text = openmetrics.render(areas, node, dialect, timestamp=1764576000)
    samples = parse(text, dialect)
    known = {m.name for m in openmetrics.METRICS}
    assert {re.sub("_total$", "", n) for n in samples} <= known
    for area in areas:
        if area["captured"]:
            assert value(samples, "kvmcluster_area_state", node=node, area=area["name"]) == str(
                int(area["report"].state)
            )
            assert len(
                [1 for lab, _ in samples["kvmcluster_item_state"] if lab["area"] == area["name"]]
            ) == len(
                {
                    (f.item, kind)
                    for f in area["report"].findings
                    for kind in openmetrics.finding_kinds(area["name"], f)
                }
            )
    assert value(samples, "kvmcluster_state", node=node) == str(int(status.worst(areas)))
    assert value(samples, "kvmcluster_last_run_timestamp_seconds", node=node) == "1764576000"
    assert ("# UNIT" in text) == (dialect == "openmetrics")


def test_split_brain_capture_as_metrics():
    node, areas = areas_of(REPO / "examples" / "captures" / "split-brain")
    samples = parse(openmetrics.render(areas, node), "openmetrics")
    item = "kvmcluster_item_state"
    assert value(samples, item, area="drbd", item="drbd0") == "2"
    assert value(samples, item, area="drbd", item="drbd0", kind="drbd-standalone") == "2"
    assert value(samples, item, area="drbd", item="drbd1", kind="drbd-resync") == "1"
    assert value(samples, item, area="drbd", item="drbd2", kind="drbd-resource") == "0"
    assert value(samples, item, area="vm_alloc", item=VM199, kind="vm-misplaced") == "1"
    assert value(samples, "kvmcluster_area_state", area="drbd") == "2"
    assert value(samples, "kvmcluster_area_state", area="vm_alloc") == "1"
    assert value(samples, "kvmcluster_area_state", area="cluster") == "0"
    assert value(samples, "kvmcluster_state", node=node) == "2"
    # perfdata in base units: % as a ratio, bytes, counters with _total
    assert value(samples, "kvmcluster_drbd_sync_ratio", resource="drbd1") == "0.245"
    assert "kvmcluster_drbd_sync_ratio" not in [  # no _sync while StandAlone cannot tell
        n for n, rows in samples.items() for lab, _ in rows if lab.get("resource") == "drbd0"
    ]
    assert value(samples, "kvmcluster_drbd_out_of_sync_bytes", resource="drbd0") == "419430400"
    assert value(samples, "kvmcluster_drbd_network_sent_bytes_total", resource="drbd1") == (
        "5242880000"
    )
    assert value(samples, "kvmcluster_vms_misplaced", node=node) == "1"
    assert value(samples, "kvmcluster_cluster_quorate", node=node) == "1"
    assert value(samples, "kvmcluster_daemons_missing", node=node) == "0"
    assert value(samples, "kvmcluster_node_uptime_seconds", node=node) == "1296012"
    assert value(samples, "kvmcluster_lvm_vg_free_bytes", vg="volnode05") == "2147483648"
    assert value(samples, "kvmcluster_lvm_vg_size_bytes", vg="volnode05") == "42941284352"
    assert "kvmcluster_last_run_timestamp_seconds" not in samples  # only when given


def test_pacemaker_captures_as_metrics(tmp_path):
    node, areas = areas_of(fencing_capture(tmp_path))
    samples = parse(openmetrics.render(areas, node), "openmetrics")
    item = "kvmcluster_item_state"
    assert value(samples, item, area="cluster", item="", kind="fencing-failed") == "2"
    assert value(samples, item, area="cluster", item="hgnode2", kind="node-unclean") == "2"
    assert value(samples, item, area="cluster", item="", kind="link-down") == "1"
    assert value(samples, "kvmcluster_cluster_links_up", node="hgnode1") == "1"
    assert value(samples, "kvmcluster_cluster_nodes_online", node="hgnode1") == "1"
    node, areas = areas_of(twice_capture(tmp_path))
    samples = parse(openmetrics.render(areas, node), "openmetrics")
    # failed and active on two nodes: a series for each, so either alert finds it
    assert value(samples, item, item="sle12-kvm", kind="service-active-twice") == "2"
    assert value(samples, item, item="sle12-kvm", kind="service-failed") == "2"
    assert value(samples, item, item="pacemaker-controld", kind="daemon-missing") == "2"
    assert value(samples, "kvmcluster_daemons_missing", node="kimball") == "1"
    assert value(samples, "kvmcluster_node_uptime_seconds", node="kimball") == "2520"
    assert value(samples, "kvmcluster_services_failures", node="kimball") == "0"


def test_counter_and_unit_lines_per_dialect():
    node, areas = areas_of(REPO / "examples" / "captures" / "healthy")
    om = openmetrics.render(areas, node, "openmetrics")
    prom = openmetrics.render(areas, node, "prometheus")
    assert "# TYPE kvmcluster_drbd_network_sent_bytes counter\n" in om
    assert "# UNIT kvmcluster_drbd_network_sent_bytes bytes\n" in om
    assert "# UNIT kvmcluster_drbd_sync_ratio ratio\n" in om
    assert "# TYPE kvmcluster_drbd_network_sent_bytes_total counter\n" in prom
    assert "# UNIT" not in prom
    # the same samples in both
    assert [x for x in om.splitlines() if not x.startswith("#")] == [
        x for x in prom.splitlines() if not x.startswith("#")
    ]


@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name for p in CAPTURES])
def test_every_perfdata_label_maps_to_a_metric(capture):
    """The table covers every perfdata label the checks write (README, Perfdata)."""
    _, areas = areas_of(capture)
    for area in areas:
        if area["captured"]:
            report = area["report"]
            mapped = list(openmetrics._perf_samples(area["name"], report))
            assert len(mapped) == len(report.perf_values()), [p.label for p in report.perf_values()]


def test_metric_table_names_follow_the_conventions():
    names = [m.name for m in openmetrics.METRICS]
    assert len(names) == len(set(names))
    for metric in openmetrics.METRICS:
        assert re.fullmatch(r"kvmcluster_[a-z_]+", metric.name)
        assert not metric.name.endswith(("_total", "_count", "_sum", "_bucket"))
        if metric.unit:
            assert metric.name.endswith("_" + metric.unit)
        assert metric.type in ("gauge", "counter")
        assert metric.help.endswith(".") and "\n" not in metric.help
    # every perfdata label listed in the README's Perfdata tables is in the table
    exact = {m.perf for m in openmetrics.METRICS if m.perf and not m.item_label}
    suffixes = {m.perf for m in openmetrics.METRICS if m.item_label}
    assert exact >= {"nodes_online", "links_up", "fail_count", "uptime", "vms_unmanaged"}
    assert suffixes >= {"_oos", "_sync", "_net_sent", "_disk_written", "_size", "_free", "_lvs"}


def test_label_values_are_escaped_per_the_spec():
    assert openmetrics.escape_label('a"}') == 'a\\"}'
    assert openmetrics.escape_label("a\\b") == "a\\\\b"
    # a newline is escaped for output first (printable), so the value holds `\n` as text
    assert openmetrics.escape_label("a\nb") == "a\\\\nb"
    assert openmetrics.escape_label("\x1b[2J") == "\\\\x1b[2J"
    assert openmetrics.escape_label("\udcff") == "\\\\udcff"  # a lone surrogate: no crash
    assert openmetrics.escape_label("Königsberg") == "Königsberg"


def test_hostile_names_stay_inside_their_label_values(tmp_path):
    node, areas = areas_of(hostile_capture(tmp_path))
    assert node == f"node05{HOSTILE}"  # the host name as captured, newline and all
    for dialect in ("openmetrics", "prometheus"):
        text = openmetrics.render(areas, node, dialect, 1764576000)
        samples = parse(text, dialect)  # one # EOF, every line a sample or a comment
        assert all(lab["node"] == printable(node) for rows in samples.values() for lab, _ in rows)
        items = {lab["item"] for lab, _ in samples["kvmcluster_item_state"]}
        assert printable(VM199 + '"}\n# EOF\\') in items
        assert printable("drbd0\x1b[2J\\") in items
        assert "\x1b" not in text
        assert value(samples, "kvmcluster_area_state", area="drbd") == "2"


def test_repeated_series_keep_the_worst_state_and_families_appear_once():
    report = Report(
        findings=[
            Finding("", State.WARNING, ("1 failed fencing action on b superseded",)),
            Finding("", State.CRITICAL, ("fencing of a failed: reboot",)),
            Finding("", State.UNKNOWN, ("fencing of c failed: reboot",)),
            Finding("node1", State.OK),
        ],
        perfdata=[Perf("quorate", 1), Perf("quorate", 0), Perf("not_in_the_table", 5)],
    )
    areas = [{"name": "cluster", "captured": True, "report": report}]
    other = [
        {"name": "cluster", "captured": True, "report": Report(findings=[Finding("x", State.OK)])}
    ]
    text = openmetrics.render_nodes([("n1", areas), ("n2", other)])
    samples = parse(text, "openmetrics")
    assert value(samples, "kvmcluster_item_state", node="n1", kind="fencing-failed") == "2"
    assert value(samples, "kvmcluster_item_state", node="n1", kind="fencing-history") == "1"
    assert value(samples, "kvmcluster_cluster_quorate", node="n1") == "1"  # the first value
    assert value(samples, "kvmcluster_area_state", node="n2", area="cluster") == "0"
    assert value(samples, "kvmcluster_state", node="n1") == "2"
    assert "not_in_the_table" not in text
    assert text.count("# TYPE kvmcluster_item_state ") == 1


def test_a_finding_kind_is_taken_as_it_is_when_the_finding_has_one():
    own = SimpleNamespace(
        item="drbd0", state=State.CRITICAL, problems=("x",), kinds=("drbd-x",), kind="drbd-x"
    )
    assert openmetrics.finding_kinds("drbd", own) == ["drbd-x"]
    plain = Finding("drbd0", State.CRITICAL, ("StandAlone (possible split brain)",))
    assert openmetrics.finding_kinds("drbd", plain) == ["drbd-standalone"]
    broken = Finding("", State.UNKNOWN, ("proc-drbd.txt, line 3: unexpected text",))
    assert openmetrics.finding_kinds("drbd", broken) == ["drbd-unknown"]
    both = Finding("vm1", State.CRITICAL, ("failed", "active on 2 nodes at once (a, b)"))
    assert openmetrics.finding_kinds("services", both) == ["service-failed", "service-active-twice"]
    healthy = Finding("vm1", State.OK, (), "vm1: started on a")
    assert openmetrics.finding_kinds("services", healthy) == ["service"]


def test_uncaptured_areas_have_no_state_and_values_print_as_numbers():
    areas = [
        {"name": "drbd", "captured": False},
        {
            "name": "daemons",
            "captured": True,
            "report": Report(
                findings=[Finding("corosync", State.CRITICAL, ("not running",))],
                perfdata=[Perf("uptime", 12.5, "s"), Perf("missing", float("nan"))],
            ),
        },
    ]
    samples = parse(openmetrics.render(areas, "n"), "openmetrics")
    assert [lab["area"] for lab, _ in samples["kvmcluster_area_state"]] == ["daemons"]
    assert value(samples, "kvmcluster_node_uptime_seconds") == "12.5"
    assert value(samples, "kvmcluster_daemons_missing") == "NaN"
    assert value(samples, "kvmcluster_item_state", kind="daemon-missing") == "2"
    assert openmetrics.render([], "n").endswith("# EOF\n")  # nothing captured: state 3
    assert 'kvmcluster_state{node="n"} 3' in openmetrics.render([], "n")


# --- the dashboard -----------------------------------------------------------------------------


def test_committed_dashboard_is_the_generators_output():
    committed = (REPO / "prometheus" / "grafana-dashboard.json").read_text()
    assert committed == dashboard.render(), (
        "regenerate: python -m kvmcluster.dashboard > prometheus/grafana-dashboard.json"
    )


def test_dashboard_has_panels_per_area_for_every_metric():
    board = json.loads(dashboard.render())
    panels = board["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    rows = [p["title"] for p in panels if p["type"] == "row"]
    assert rows == ["Overview", dashboard.CLUSTER_TITLE] + [t for _, t in dashboard.AREA_TITLES]
    exprs = " ".join(t["expr"] for p in panels for t in p.get("targets", []))
    for metric in openmetrics.METRICS + openmetrics.CLUSTER_METRICS:
        assert metric.name in exprs, metric.name
    for area, _ in dashboard.AREA_TITLES:
        assert f'area="{area}"' in exprs
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
    assert {v["name"] for v in board["templating"]["list"]} == {"datasource", "node"}


def test_readme_lists_every_metric_and_alert():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Prometheus") :]
    for metric in openmetrics.METRICS:
        shown = metric.name + ("_total" if metric.type == "counter" else "")
        assert f"`{shown}`" in section, shown
    alerts = re.findall(r"- alert: (\w+)", (REPO / "prometheus" / "alerts.yml").read_text())
    assert len(alerts) == 17
    for alert in alerts:
        assert f"`{alert}`" in section, alert


def test_systemd_units_verify(tmp_path):
    """The shipped service and timer pass systemd-analyze verify (the ExecStart pointed at the
    kvmcluster of this test run)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    service = (REPO / "prometheus" / "kvmcluster-textfile.service").read_text()
    assert "ExecStart=/usr/bin/kvmcluster status --textfile /var/lib/prometheus/node-exporter" in (
        service
    )
    (tmp_path / "kvmcluster-textfile.service").write_text(
        service.replace("/usr/bin/kvmcluster", plugin_command("kvmcluster")[0])
    )
    shutil.copy(REPO / "prometheus" / "kvmcluster-textfile.timer", tmp_path)
    run = subprocess.run(
        [analyze, "verify", *(str(p) for p in sorted(tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr


def test_cluster_view_systemd_units_verify(tmp_path):
    """The cluster view's service and timer (on one host: status --cluster --textfile) pass
    systemd-analyze verify too, and the service runs the cluster view."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    service = (REPO / "prometheus" / "kvmcluster-cluster-textfile.service").read_text()
    assert "ExecStart=/usr/bin/kvmcluster status --cluster --node node05 --node node06" in service
    assert "--textfile /var/lib/prometheus/node-exporter" in service
    (tmp_path / "kvmcluster-cluster-textfile.service").write_text(
        service.replace("/usr/bin/kvmcluster", plugin_command("kvmcluster")[0])
    )
    shutil.copy(REPO / "prometheus" / "kvmcluster-cluster-textfile.timer", tmp_path)
    run = subprocess.run(
        [analyze, "verify", *(str(p) for p in sorted(tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr


def test_a_perfdata_value_with_its_item_is_not_split_by_its_label():
    """Perf says its item and metric: a VG named like a suffix keeps its name."""
    report = Report(
        findings=[Finding("my_vg_free", State.OK)],
        perfdata=[
            Perf("free", 5, "B", item="my_vg_free"),
            Perf("size", 10, "B", item="my_vg_free"),
            Perf("lvs", 2, item="my_vg_free"),
        ],
    )
    text = openmetrics.render([{"name": "lvm", "captured": True, "report": report}], "n")
    samples = parse(text, "openmetrics")
    assert value(samples, "kvmcluster_lvm_vg_free_bytes", vg="my_vg_free") == "5"
    assert value(samples, "kvmcluster_lvm_vg_size_bytes", vg="my_vg_free") == "10"
    assert value(samples, "kvmcluster_lvm_vg_lvs", vg="my_vg_free") == "2"
