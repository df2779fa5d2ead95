"""Issue 22 end to end, as the README tells a Prometheus user on a two-node cluster: each node's
own `kvmcluster status --textfile` (node05, node06) and the cluster view's `status --from A
--from B --textfile` (the monitoring host), each served by a real prometheus-node-exporter
(textfile collector only), scraped every second by a real Prometheus whose configuration is
the README's scrape block (targets pointed at 127.0.0.1) with prometheus/alerts.yml loaded;
every query of the Grafana dashboard runs on it too.

The two-node split brain (tests/fixtures/cluster/drbd-split-brain) raises the cluster view's
KvmclusterClusterSplitBrain (pending or firing) with the resource's labels, and holds back the
per-node StandAlone alerts of that resource; then the healthy pair (healthy-cman), written
over it, gives no split-brain alert at all; and when the cluster view (live, over SSH) can
read neither node, its unreachable alerts go pending and the per-node alerts come back.

Every daemon runs on 127.0.0.1 on a free port in the test's temporary directory and is stopped
by the PID this test started."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from kvmcluster import dashboard
from kvmcluster.model.findings import printable
from kvmcluster.output.openmetrics import CLUSTER_METRICS
from tests.plugin_runner import FIXTURES, REPO, plugin_command
from tests.test_openmetrics_real import free_port, get, query, start_node_exporter, stop, wait_for

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
RULES = REPO / "prometheus" / "alerts.yml"
PAIRS = FIXTURES / "cluster"
NODES = ("node05", "node06")

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None or NODE_EXPORTER is None,
    reason="prometheus (with promtool) and prometheus-node-exporter not installed "
    "(Debian packages prometheus, prometheus-node-exporter)",
)


@pytest.fixture
def workdir():
    """A temporary directory of this test's own, removed afterwards (the TSDB, the textfile
    directories, the logs): pytest's own tmp_path keeps the last runs'."""
    directory = Path(tempfile.mkdtemp(prefix="kvmcluster-p22-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def readme_scrape_config() -> str:
    """The Prometheus configuration block of the README's Prometheus walk-through."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### From here to alerts on a two-node cluster") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "no ```yaml block in the README's Prometheus walk-through"
    # the block is indented as a list item's
    return "\n".join(line[3:] for line in block.group(1).splitlines()) + "\n"


def kvmcluster_textfile(captures: list[Path], directory: Path) -> None:
    """`kvmcluster status --from CAP [--from CAP] --textfile DIR`, the real command."""
    command = [*plugin_command("kvmcluster"), "status"]
    for capture in captures:
        command += ["--from", str(capture)]
    run = subprocess.run(
        [*command, "--textfile", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr
    assert (directory / textfile_name(captures)).exists()


def textfile_name(captures: list[Path]) -> str:
    """A node's own file, or the cluster view's (its own name: the two may share a DIR)."""
    return "kvmcluster-cluster.prom" if len(captures) > 1 else "kvmcluster.prom"


def write_all(pair: str, dirs: dict[str, Path]) -> None:
    """Each node's own file and the cluster view's, from the pair's two captures."""
    for node in NODES:
        kvmcluster_textfile([PAIRS / pair / node], dirs[node])
    kvmcluster_textfile([PAIRS / pair / node for node in NODES], dirs["monitor"])


def alerts(port: int) -> list[dict]:
    answer = json.loads(get(f"http://127.0.0.1:{port}/api/v1/alerts"))
    assert answer["status"] == "success", answer
    return answer["data"]["alerts"]


def named(found: list[dict], name: str) -> list[dict]:
    return [a for a in found if a["labels"]["alertname"] == name]


def test_from_the_readme_to_alerts_in_a_real_prometheus(workdir):
    started = time.monotonic()
    dirs = {name: workdir / f"textfile-p22-{name}" for name in (*NODES, "monitor")}
    for directory in dirs.values():
        directory.mkdir()
    write_all("drbd-split-brain", dirs)

    procs: list[subprocess.Popen] = []
    try:
        ports, exporters = {}, {}
        for name, directory in dirs.items():
            log = workdir / f"{name}-exporter.log"
            exporters[name], ports[name] = start_node_exporter(directory, log)
            procs.append(exporters[name])
        config = readme_scrape_config()
        for name, port in ports.items():
            assert f"'{name}:9100'" in config, name
            config = config.replace(f"'{name}:9100'", f"'127.0.0.1:{port}'")
        config = config.replace("/etc/prometheus/kvmcluster-alerts.yml", str(RULES))
        config = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n" + config
        config_file = workdir / "prometheus.yml"
        config_file.write_text(config)
        check = subprocess.run(
            [PROMTOOL, "check", "config", str(config_file)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr

        port = free_port()
        log = workdir / "prometheus.log"
        prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        procs.append(prometheus)
        for name, exporter_port in ports.items():
            wait_for(f"http://127.0.0.1:{exporter_port}/metrics", exporters[name], 15)
        wait_for(f"http://127.0.0.1:{port}/-/ready", prometheus, 30)

        # the split brain: the cluster view's alert, pending (for: 1m) or firing
        deadline = time.monotonic() + 30
        while True:
            found = alerts(port)
            split = named(found, "KvmclusterClusterSplitBrain")
            standalone = query(port, 'kvmcluster_item_state{job="node",kind="drbd-standalone"}')
            if split and len(standalone) == 2:
                break
            assert time.monotonic() < deadline, (found, log.read_text()[-3000:])
            time.sleep(0.3)
        time.sleep(2.5)  # two more rounds of the rules with every series in
        found = alerts(port)
        split = named(found, "KvmclusterClusterSplitBrain")
        per_node = named(found, "KvmclusterDrbdSplitBrain")
        view_areas = query(port, 'kvmcluster_area_state{job="kvmcluster-cluster"}')
        view_series = query(port, '{job="kvmcluster-cluster",__name__=~"kvmcluster_.+"}')
        reachable = query(port, "kvmcluster_node_reachable")
        # KvmclusterClusterViewStale's expression finds the view's file (fresh: not above 300)
        stale_rule = next(
            r["query"]
            for g in json.loads(get(f"http://127.0.0.1:{port}/api/v1/rules"))["data"]["groups"]
            for r in g["rules"]
            if r["name"] == "KvmclusterClusterViewStale"
        )
        view_age = query(port, stale_rule.replace(" > 300", " >= 0", 1))
        node_areas = query(port, 'kvmcluster_area_state{job="node",area="drbd"}')
        # every query of the dashboard runs on this Prometheus; the cluster view's show data
        board = {}
        for panel in dashboard.dashboard()["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$node", ".*")
                board[(panel["title"], expr)] = query(port, expr)

        # the healthy pair written over it: no split-brain alert of either kind
        write_all("healthy-cman", dirs)
        deadline = time.monotonic() + 30
        while True:
            healthy = query(
                port, 'kvmcluster_correlation_state{kind="drbd-pair",item="drbd0"} == 0'
            )
            after = alerts(port)
            left = [
                a
                for a in after
                if a["labels"]["alertname"]
                in ("KvmclusterClusterSplitBrain", "KvmclusterDrbdSplitBrain")
            ]
            if healthy and not left:
                break
            assert time.monotonic() < deadline, (after, log.read_text()[-3000:])
            time.sleep(0.3)
        time.sleep(2.5)
        after = alerts(port)
        healthy_states = query(port, 'kvmcluster_area_state{job="node",area="drbd"}')

        # the split brain again on the nodes, while the cluster view (live, over SSH to a
        # port where nothing listens) reads neither node: its unreachable alerts, and the
        # per-node StandAlone alerts back, held back by nothing
        for node in NODES:
            kvmcluster_textfile([PAIRS / "drbd-split-brain" / node], dirs[node])
        closed = free_port()
        live = [*plugin_command("kvmcluster"), "status", "--cluster", "-t", "10"]
        for node in NODES:
            live += ["--node", f"{node}=127.0.0.1:{closed}"]
        run = subprocess.run(
            [*live, "--textfile", str(dirs["monitor"])], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stdout + run.stderr
        deadline = time.monotonic() + 30
        while True:
            blind = alerts(port)
            unreachable = named(blind, "KvmclusterNodeUnreachable")
            back = named(blind, "KvmclusterDrbdSplitBrain")
            if len(unreachable) == 2 and len(back) == 2:
                break
            assert time.monotonic() < deadline, (blind, log.read_text()[-3000:])
            time.sleep(0.3)
    finally:
        for proc in reversed(procs):
            stop(proc)
    elapsed = time.monotonic() - started

    assert len(split) == 1, split
    alert = split[0]
    assert alert["state"] in ("pending", "firing"), alert
    labels = dict(alert["labels"])
    assert labels.pop("instance") == f"127.0.0.1:{ports['monitor']}"
    assert labels == {
        "alertname": "KvmclusterClusterSplitBrain",
        "severity": "critical",
        "kind": "drbd-split-brain",
        "resource": "drbd0",
        "cluster": "c01",
        "job": "kvmcluster-cluster",
    }
    assert alert["annotations"]["summary"] == (
        "DRBD drbd0: split brain, both nodes Primary and StandAlone"
    )
    assert "kvmcluster status --cluster" in alert["annotations"]["description"]
    assert "drbdadm connect --discard-my-data drbd0" in alert["annotations"]["description"]
    # the finding's details as they are now, from kvmcluster_correlation_info (a query in
    # the annotation)
    assert (
        "Seen: VG volimages on drbd0; node05: Primary StandAlone, 400 MiB out of sync"
        in alert["annotations"]["description"]
    )
    # both nodes' own StandAlone drbd0 are in, and held back by the cluster view's alert
    assert len(standalone) == 2
    assert per_node == [], per_node
    # the cluster view's file brings its own metrics only
    assert view_areas == []
    assert {s["metric"]["__name__"] for s in view_series} == {
        "kvmcluster_correlation_state",
        "kvmcluster_correlation_info",
        "kvmcluster_node_reachable",
    }
    assert [(r["metric"]["job"], r["metric"]["instance"]) for r in view_age] == [
        ("kvmcluster-cluster", f"127.0.0.1:{ports['monitor']}")
    ]
    assert float(view_age[0]["value"][1]) < 30
    assert sorted((r["metric"]["node"], r["value"][1]) for r in reachable) == [
        ("node05.c01.cloud.agarik.com", "1"),
        ("node06.c01.cloud.agarik.com", "1"),
    ]
    assert {(r["metric"]["node"], r["value"][1]) for r in node_areas} == {
        ("node05.c01.cloud.agarik.com", "2"),
        ("node06.c01.cloud.agarik.com", "2"),
    }
    assert len(board) > 40
    cluster_row = {title: rows for (title, _), rows in board.items() if "luster" in title}
    assert [r["metric"]["kind"] for r in cluster_row["Cluster findings not OK"]] == [
        "drbd-split-brain"
    ]
    assert len(cluster_row["Nodes the cluster view read"]) == 2
    assert {r["metric"]["kind"] for r in cluster_row["Cluster findings by kind"]} >= {
        "drbd-split-brain",
        "drbd-pair",
    }
    assert board[("Worst state per node", 'kvmcluster_state{node=~".*"}')]
    # the healthy pair: every DRBD area OK, no split brain alert nor any cluster view alert
    assert {r["value"][1] for r in healthy_states} == {"0"}
    names = {a["labels"]["alertname"] for a in after}
    assert not names & {
        "KvmclusterClusterSplitBrain",
        "KvmclusterDrbdSplitBrain",
        "KvmclusterClusterVmRunningTwice",
        "KvmclusterSplitCluster",
        "KvmclusterDrbdDisagreement",
        "KvmclusterNodeUnreachable",
    }, after
    # the cluster view blind: both nodes not read (pending, for: 5m), the per-node alerts back
    assert sorted((a["labels"]["node"], a["state"]) for a in unreachable) == [
        ("node05", "pending"),
        ("node06", "pending"),
    ]
    assert {a["labels"]["job"] for a in unreachable} == {"kvmcluster-cluster"}
    assert sorted((a["labels"]["node"], a["labels"]["item"]) for a in back) == [
        ("node05.c01.cloud.agarik.com", "drbd0"),
        ("node06.c01.cloud.agarik.com", "drbd0"),
    ]
    assert not named(blind, "KvmclusterClusterSplitBrain")
    assert elapsed < 40, f"took {elapsed:.1f} s"


# --- the cluster view's exposition -----------------------------------------------------------

HOSTILE_VM = "aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr"


def copy_pair(pair: str, workdir: Path) -> list[Path]:
    nodes = sorted(p.name for p in (PAIRS / pair).iterdir() if p.is_dir())
    copies = []
    for node in nodes:
        shutil.copytree(PAIRS / pair / node, workdir / pair / node)
        copies.append(workdir / pair / node)
    return copies


def hostile_pair(workdir: Path) -> list[Path]:
    """The vm-active-twice pair with the VM named to break an exposition (a quote and brace
    that close the label set, a newline and `# EOF`, a backslash) on both nodes."""
    copies = copy_pair("vm-active-twice", workdir)
    for node in copies:
        for path in node.iterdir():
            if path.suffix in (".xml", ".conf"):
                text = path.read_text()
                path.write_text(text.replace(HOSTILE_VM, HOSTILE_VM + "&quot;}&#10;# EOF\\"))
    return copies


def pair_text(captures: list[Path], fmt: str = "openmetrics") -> str:
    command = [*plugin_command("kvmcluster"), "status"]
    for capture in captures:
        command += ["--from", str(capture)]
    run = subprocess.run([*command, "--format", fmt], capture_output=True, text=True, timeout=60)
    assert run.returncode in (0, 1, 2, 3) and run.stdout, run.stderr
    return run.stdout


def correlation_labels(text: str, kind: str) -> list[str]:
    """The item label of every kvmcluster_correlation_state series of that kind."""
    line = rf'^kvmcluster_correlation_state\{{kind="{kind}",item="(.*)"\}} \d$'
    return re.findall(line, text, re.M)


def correlation_details(text: str, kind: str) -> list[tuple[str, str]]:
    """(item, details) of every kvmcluster_correlation_info series of that kind."""
    line = rf'^kvmcluster_correlation_info\{{kind="{kind}",item="(.*)",details="(.*)"\}} 1$'
    return re.findall(line, text, re.M)


PAIR_NAMES = sorted(p.name for p in PAIRS.iterdir() if p.is_dir())


@pytest.mark.parametrize("pair", [*PAIR_NAMES, "hostile"])
def test_promtool_check_metrics_on_every_cluster_pair(pair, workdir):
    """What `status --from A --from B --textfile` writes for every two-node capture (and a
    hostile one) passes `promtool check metrics`, with HELP and TYPE for both cluster
    families."""
    captures = hostile_pair(workdir) if pair == "hostile" else copy_pair(pair, workdir)
    directory = workdir / "textfile-p22"
    directory.mkdir()
    kvmcluster_textfile(captures, directory)
    text = (directory / "kvmcluster-cluster.prom").read_text()
    run = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and run.stdout == "" and run.stderr == "", run.stdout + run.stderr
    for metric in CLUSTER_METRICS:
        assert f"# HELP {metric.name} " in text and f"# TYPE {metric.name} gauge" in text
    if pair == "hostile":
        (item,) = correlation_labels(text, "vm-active-twice")
        assert item == f'VM {HOSTILE_VM}\\"}}\\\\n# EOF\\\\', item


def test_a_cluster_finding_keeps_its_series_while_its_figures_change(workdir):
    """The state's labels are the kind and the first item: a figure that changes while the
    finding lasts (10 MiB more out of sync) changes only the details of the info series."""
    captures = copy_pair("drbd-split-brain", workdir)
    text = pair_text(captures)
    before, details_before = (
        correlation_labels(text, "drbd-split-brain"),
        correlation_details(text, "drbd-split-brain"),
    )
    proc = captures[0] / "proc-drbd.txt"  # node05 writes 10 MiB more on its side
    proc.write_text(proc.read_text().replace("oos:409600", "oos:419840", 1))
    text = pair_text(captures)
    after, details_after = (
        correlation_labels(text, "drbd-split-brain"),
        correlation_details(text, "drbd-split-brain"),
    )
    assert before == after == ["drbd0"]
    assert "400 MiB out of sync" in details_before[0][1]
    assert "410 MiB out of sync" in details_after[0][1]


def test_the_item_and_details_labels_give_back_the_findings_items(workdir):
    captures = copy_pair("drbd-split-brain", workdir)
    document = json.loads(pair_text(captures, "json"))
    (finding,) = [c for c in document["correlations"] if c["kind"] == "drbd-split-brain"]
    text = pair_text(captures)
    assert correlation_labels(text, "drbd-split-brain") == [finding["items"][0]]
    assert correlation_details(text, "drbd-split-brain") == [
        (finding["items"][0], "; ".join(finding["items"][1:]))
    ]


def test_the_cluster_view_and_a_nodes_own_file_share_a_textfile_directory(workdir):
    """The view writes kvmcluster-cluster.prom with its own families only: beside the node's
    kvmcluster.prom in one directory, node_exporter serves both without a duplicate."""
    directory = workdir / "textfile-p22-shared"
    directory.mkdir()
    pair = PAIRS / "drbd-split-brain"
    kvmcluster_textfile([pair / "node05"], directory)  # node05's own timer
    kvmcluster_textfile([pair / "node05", pair / "node06"], directory)  # the view on node05
    log = workdir / "exporter.log"
    proc, port = start_node_exporter(directory, log)
    try:
        scraped = wait_for(f"http://127.0.0.1:{port}/metrics", proc, 15)
    finally:
        stop(proc)
    lines = scraped.splitlines()
    assert "node_textfile_scrape_error 0" in lines
    assert any(x.startswith("kvmcluster_correlation_state{") for x in lines)
    # node05's own file is still there: its series, and only node05's outside the view's
    assert len(list(directory.glob("*.prom"))) == 2
    assert "was collected before" not in log.read_text()


def test_prometheus_reads_the_cluster_views_openmetrics_of_a_hostile_pair(workdir):
    """`status --from A --from B --format openmetrics` of the hostile pair, served with the
    OpenMetrics content type and parsed by Prometheus' own OpenMetrics parser: the target is
    up, the VM's name arrives as its escaped text in `items`, and the cluster view's
    VM-twice alert goes pending with that name in `vm`."""
    from tests.test_openmetrics_real import _OpenMetricsHandler

    body = pair_text(hostile_pair(workdir)).encode()
    handler = type("Handler", (_OpenMetricsHandler,), {"bodies": {"/view": body}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {
                        "job_name": "kvmcluster-cluster",
                        "metrics_path": "/view",
                        "static_configs": [{"targets": [f"127.0.0.1:{server.server_port}"]}],
                    }
                ],
            }
        )
    )
    log = workdir / "prometheus.log"
    prometheus = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/-/ready", prometheus, 30)
        deadline = time.monotonic() + 30
        while True:
            targets = json.loads(get(f"http://127.0.0.1:{port}/api/v1/targets"))
            active = targets["data"]["activeTargets"]  # empty until the first discovery
            # a parse error of the exposition (a scrape timed out on a busy machine is retried)
            errors = [t for t in active if t["lastError"] and "deadline" not in t["lastError"]]
            assert not errors, errors
            twice = named(alerts(port), "KvmclusterClusterVmRunningTwice")
            if [t["health"] for t in active] == ["up"] and twice:
                break
            assert time.monotonic() < deadline, (active, log.read_text()[-3000:])
            time.sleep(0.3)
        series = query(port, 'kvmcluster_correlation_state{kind="vm-active-twice"}')
    finally:
        stop(prometheus)
        server.shutdown()
        server.server_close()
    name = printable(HOSTILE_VM + '"}\n# EOF\\')
    assert [s["metric"]["item"] for s in series] == [f"VM {name}"]
    assert [(a["state"], a["labels"]["vm"]) for a in twice] == [("pending", name)]
    assert f"virsh destroy {name}" in twice[0]["annotations"]["description"]
    assert "Seen: runs on node05; runs on node06;" in twice[0]["annotations"]["description"]


def test_the_rules_select_kinds_the_cluster_view_writes(workdir):
    """Every kind alerts.yml selects on kvmcluster_correlation_state is one the cluster view
    writes for the two-node captures (a renamed kind breaks this, not only the alert), and
    every kind that is not OK there has a rule."""
    rules = RULES.read_text()
    selected = set(re.findall(r'kvmcluster_correlation_state\{kind=\\?"([a-z-]+)\\?"', rules))
    written: dict[str, set[str]] = {}
    for pair in PAIR_NAMES:
        text = pair_text(copy_pair(pair, workdir))
        for kind, state in re.findall(
            r'^kvmcluster_correlation_state\{kind="([a-z-]+)",.*\} (\d)$', text, re.M
        ):
            written.setdefault(kind, set()).add(state)
    assert selected and selected <= set(written), (selected, written)
    not_ok = {kind for kind, states in written.items() if states - {"0"}}
    assert not_ok == selected, (not_ok, selected)


@pytest.mark.parametrize("where", ["readme-cron", "systemd-unit"])
def test_the_documented_cluster_view_command_runs(where, workdir):
    """The README's cron line and the unit's ExecStart, as written (the nodes pointed at a
    port where nothing listens, the directory at a temporary one): exit 0, the file written
    with both nodes not read."""
    if where == "readme-cron":
        readme = (REPO / "README.md").read_text()
        line = re.search(
            r"^ +\* \* \* \* \* kvmcluster (/usr/bin/kvmcluster status --cluster .*)$", readme, re.M
        )
    else:
        unit = (REPO / "prometheus" / "kvmcluster-cluster-textfile.service").read_text()
        line = re.search(r"^ExecStart=(/usr/bin/kvmcluster status --cluster .*)$", unit, re.M)
    assert line, where
    words = line.group(1).split()
    assert words[:3] == ["/usr/bin/kvmcluster", "status", "--cluster"]
    closed = free_port()
    directory = workdir / "textfile-p22-view"
    directory.mkdir()
    command = [*plugin_command("kvmcluster")]
    for word in words[1:]:
        if word in NODES:
            word = f"{word}=127.0.0.1:{closed}"
        elif word == "/var/lib/prometheus/node-exporter":
            word = str(directory)
        command.append(word)
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr
    text = (directory / "kvmcluster-cluster.prom").read_text()
    assert 'kvmcluster_node_reachable{node="node05"} 0' in text.splitlines()
    assert 'kvmcluster_node_reachable{node="node06"} 0' in text.splitlines()
