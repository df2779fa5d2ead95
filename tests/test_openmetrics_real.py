"""Issue 22 with the real Prometheus tools (Debian packages prometheus and
prometheus-node-exporter): `promtool check metrics` on what `kvmcluster status --textfile`
writes for every example capture and a hostile one; `promtool check rules` and `promtool test
rules` on prometheus/alerts.yml (and a broken copy of a rule fails its test); node_exporter's
textfile collector serving the file, scraped over HTTP; and a real Prometheus scraping both
node_exporter and `--format openmetrics` (parsed by its OpenMetrics parser), with the alert
rules loaded: the split brain and the misplaced VM of the capture become pending alerts.

Every daemon runs on 127.0.0.1, on a free port, in a temporary directory, and is stopped by
the PID this test started."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kvmcluster.model.findings import printable
from tests.plugin_runner import REPO, plugin_command
from tests.test_openmetrics import CAPTURES, VM199, fencing_capture, hostile_capture, twice_capture

PROMTOOL = shutil.which("promtool")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
PROMETHEUS = shutil.which("prometheus")
RULES = REPO / "prometheus" / "alerts.yml"
RULE_TESTS = REPO / "prometheus" / "alerts_test.yml"
# what the captures served below must raise (pending: each has a `for:`)
EXPECTED_ALERTS = {
    "KvmclusterDrbdSplitBrain",  # split-brain capture (textfile) and the hostile one
    "KvmclusterVmMisplaced",  # the same two
    "KvmclusterFencingFailed",  # the fencing capture
    "KvmclusterVmRunningTwice",  # the twice capture
    "KvmclusterStackDown",  # the twice capture: pacemaker-controld not running
    "KvmclusterVgNearlyFull",  # the example captures' volnode05: 2 GiB of 40 GiB free (5 %)
}

needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus)"
)
needs_node_exporter = pytest.mark.skipif(
    NODE_EXPORTER is None, reason="node_exporter not installed (prometheus-node-exporter)"
)
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or NODE_EXPORTER is None,
    reason="prometheus and prometheus-node-exporter not installed",
)


def textfile(capture: Path, directory: Path) -> str:
    """What `kvmcluster status --from CAPTURE --textfile DIR` writes."""
    directory.mkdir(exist_ok=True)
    run = subprocess.run(
        [
            *plugin_command("kvmcluster"),
            "status",
            "--from",
            str(capture),
            "--textfile",
            str(directory),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return (directory / "kvmcluster.prom").read_text()


def openmetrics_text(capture: Path) -> str:
    run = subprocess.run(
        [
            *plugin_command("kvmcluster"),
            "status",
            "--from",
            str(capture),
            "--format",
            "openmetrics",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode in (0, 1, 2, 3) and run.stdout.endswith("# EOF\n"), run.stderr
    return run.stdout


def promtool_check_metrics(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )


# --- promtool ---------------------------------------------------------------------------------


@needs_promtool
@pytest.mark.parametrize("capture", CAPTURES, ids=[p.name for p in CAPTURES])
def test_promtool_check_metrics_on_every_example_capture(capture, tmp_path):
    text = textfile(capture, tmp_path / "textfile")
    run = promtool_check_metrics(text)
    assert run.returncode == 0 and run.stdout == "" and run.stderr == "", run.stdout + run.stderr


@needs_promtool
def test_promtool_check_metrics_on_a_hostile_capture(tmp_path):
    text = textfile(hostile_capture(tmp_path), tmp_path / "textfile")
    assert 'item="drbd0\\\\x1b[2J\\\\"' in text  # escaped, so the sample line still parses
    run = promtool_check_metrics(text)
    assert run.returncode == 0 and run.stdout == "" and run.stderr == "", run.stdout + run.stderr


@needs_promtool
@pytest.mark.parametrize("make", [fencing_capture, twice_capture], ids=["fencing", "twice"])
def test_promtool_check_metrics_on_pacemaker_captures(tmp_path, make):
    text = textfile(make(tmp_path), tmp_path / "textfile")
    run = promtool_check_metrics(text)
    assert run.returncode == 0 and run.stdout == "" and run.stderr == "", run.stdout + run.stderr


@needs_promtool
def test_promtool_finds_a_broken_exposition():
    """The check above can fail: promtool refuses an unescaped quote in a label value."""
    run = promtool_check_metrics('# HELP x X.\n# TYPE x gauge\nx{a="b"c"} 1\n')
    assert run.returncode != 0


@needs_promtool
def test_promtool_check_rules():
    run = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: 17 rules found" in run.stdout


@needs_promtool
def test_promtool_test_rules():
    run = subprocess.run(
        [PROMTOOL, "test", "rules", RULE_TESTS.name],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=RULE_TESTS.parent,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


SPLIT_BRAIN_VIEW = '          kvmcluster_correlation_state{kind="drbd-split-brain"}'


@needs_promtool
@pytest.mark.parametrize(
    "old, new",
    [
        ("kvmcluster_cluster_quorate == 0", "kvmcluster_cluster_quorate == 1"),
        ('kind=~"drbd-split-brain|drbd-standalone"} == 2', 'kind="drbd-split-brain"} == 2'),
        ("kvmcluster_lvm_vg_size_bytes < 0.10", "kvmcluster_lvm_vg_size_bytes < 0.01"),
        ("for: 30m", "for: 1m"),
        # the cluster view's rules (group kvmcluster-cluster) and the per-node ones they hold back
        (
            "unless on(cluster, item)\n" + SPLIT_BRAIN_VIEW,
            "unless on(cluster, item)\n" + SPLIT_BRAIN_VIEW.replace("brain", "brainx"),
        ),
        (
            "unless on(cluster, item)\n" + SPLIT_BRAIN_VIEW,
            "unless on(item)\n" + SPLIT_BRAIN_VIEW,
        ),
        (
            "max without (item) (\n            label_replace(kvmcluster_correlation_state",
            "max without (cluster) (\n            label_replace(kvmcluster_correlation_state",
        ),
        (
            'kvmcluster_correlation_info{kind=\\"drbd-split-brain\\"',
            'kvmcluster_correlation_info{kind=\\"drbd-split-brainx\\"',
        ),
        ('"item", "vm:$1"', '"item", "vm-$1"'),
        ("for: 1h", "for: 50m"),
        ("kvmcluster_node_reachable == 0", "kvmcluster_node_reachable == 1"),
        ('kind="split-cluster"} == 2', 'kind="split-cluster"} == 1'),
        ('"resource", "$1", "item", "(.*)")', '"resource", "x$1", "item", "(.*)")'),
        ("count by (job, instance) (kvmcluster_correlation_state)", "count by (job) (up)"),
    ],
    ids=[
        "quorum",
        "standalone-kind",
        "vg-threshold",
        "misplaced-for",
        "split-brain-held-back",
        "held-back-per-cluster",
        "split-brain-labels",
        "split-brain-details-now",
        "vm-twice-service-held-back",
        "drift-for",
        "unreachable",
        "split-cluster",
        "disagreement-held-back",
        "view-stale-only-the-view",
    ],
)
def test_the_rule_tests_fail_when_a_rule_breaks(tmp_path, old, new):
    rules = RULES.read_text()
    assert old in rules
    (tmp_path / "alerts.yml").write_text(rules.replace(old, new, 1))
    shutil.copy(RULE_TESTS, tmp_path / "alerts_test.yml")
    run = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode != 0, run.stdout


# --- daemons ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - 127.0.0.1
        return answer.read().decode()


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited {proc.returncode}")
        try:
            return get(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    """Stop a daemon this test started, by its PID."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


def start_node_exporter(directory: Path, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            NODE_EXPORTER,
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={directory}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return proc, port


@needs_node_exporter
def test_node_exporter_serves_the_textfile(tmp_path):
    directory = tmp_path / "textfile-h22"
    textfile(CAPTURES[-1], directory)  # split-brain
    proc, port = start_node_exporter(directory, tmp_path / "node_exporter.log")
    try:
        scraped = wait_for(f"http://127.0.0.1:{port}/metrics", proc)
        # rewritten while node_exporter runs: the next scrape sees the new file whole
        textfile(CAPTURES[0], directory)  # healthy
        rescraped = get(f"http://127.0.0.1:{port}/metrics")
    finally:
        stop(proc)
    assert "node_textfile_scrape_error 0" in scraped, scraped[-2000:]
    lines = scraped.splitlines()
    node = 'node="node05.c01.cloud.agarik.com"'
    assert f'kvmcluster_area_state{{area="drbd",{node}}} 2' in lines
    assert f'kvmcluster_area_state{{area="vm_alloc",{node}}} 1' in lines
    assert (
        f'kvmcluster_item_state{{area="drbd",item="drbd0",kind="drbd-standalone",{node}}} 2'
        in lines
    )
    assert any(
        x.startswith("kvmcluster_drbd_network_sent_bytes_total{") and 'resource="drbd1"' in x
        for x in lines
    )
    assert "# TYPE kvmcluster_drbd_network_sent_bytes_total counter" in lines
    assert any(x.startswith("node_textfile_mtime_seconds{") for x in lines)
    assert f'kvmcluster_area_state{{area="drbd",{node}}} 0' in rescraped.splitlines()
    assert "node_textfile_scrape_error 0" in rescraped


class _OpenMetricsHandler(http.server.BaseHTTPRequestHandler):
    bodies: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 - http.server's name
        body = self.bodies.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header(
            "Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8"
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def query(port: int, promql: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    answer = json.loads(get(url))
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


@needs_prometheus
def test_prometheus_scrapes_both_outputs_and_the_alerts_go_pending(tmp_path):
    """node_exporter serves the split-brain capture's textfile; a small HTTP server serves the
    hostile capture's `--format openmetrics` with the OpenMetrics content type; Prometheus
    scrapes both every second and evaluates alerts.yml."""
    directory = tmp_path / "textfile-h22"
    textfile(CAPTURES[-1], directory)
    handler = type("Handler", (_OpenMetricsHandler,), {})
    handler.bodies = {
        f"/{name}": openmetrics_text(make(tmp_path)).encode()
        for name, make in (
            ("hostile", hostile_capture),
            ("fencing", fencing_capture),
            ("twice", twice_capture),
        )
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    exporter, exporter_port = start_node_exporter(directory, tmp_path / "node_exporter.log")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {
                        "job_name": "node",
                        "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                    },
                    *(
                        {
                            "job_name": f"kvmcluster-{name}",
                            "metrics_path": f"/{name}",
                            "static_configs": [{"targets": [f"127.0.0.1:{server.server_port}"]}],
                        }
                        for name in ("hostile", "fencing", "twice")
                    ),
                ],
            }
        )
    )
    log = tmp_path / "prometheus.log"
    prometheus = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/-/ready", prometheus, 60)
        deadline = time.monotonic() + 60
        while True:
            targets = json.loads(get(f"http://127.0.0.1:{port}/api/v1/targets"))
            active = targets["data"]["activeTargets"]
            alerts = json.loads(get(f"http://127.0.0.1:{port}/api/v1/alerts"))["data"]["alerts"]
            names = [a["labels"]["alertname"] for a in alerts]
            healthy = len(active) == 4 and all(t["health"] == "up" for t in active)
            # every source evaluated: the two split brains and the two misplaced VMs (the
            # textfile's and the hostile capture's), not only the first of each
            both = all(
                names.count(n) == 2 for n in ("KvmclusterDrbdSplitBrain", "KvmclusterVmMisplaced")
            )
            if healthy and set(names) >= EXPECTED_ALERTS and both:
                break
            bad = [t for t in active if t["lastError"]]
            assert not bad, bad  # a parse error of either exposition
            assert time.monotonic() < deadline, (active, alerts, log.read_text()[-3000:])
            time.sleep(0.5)
        standalone = query(port, 'kvmcluster_item_state{kind="drbd-standalone"}')
        hostile_vm = query(port, 'kvmcluster_item_state{area="vm_alloc",item=~".*EOF.*"}')
        counters = query(port, "kvmcluster_drbd_network_sent_bytes_total")
        ratio = query(port, 'kvmcluster_drbd_sync_ratio{resource="drbd1"}')
    finally:
        stop(prometheus)
        stop(exporter)
        server.shutdown()
        server.server_close()
    jobs = {r["metric"]["job"]: r for r in standalone}
    assert set(jobs) == {"node", "kvmcluster-hostile"}
    assert jobs["node"]["metric"]["node"] == "node05.c01.cloud.agarik.com"
    assert jobs["kvmcluster-hostile"]["metric"]["node"] == printable('node05a"}\n# EOF\\')
    assert jobs["kvmcluster-hostile"]["metric"]["item"] == printable("drbd0\x1b[2J\\")
    assert [r["metric"]["item"] for r in hostile_vm] == [printable(VM199 + '"}\n# EOF\\')]
    assert hostile_vm[0]["value"][1] == "1"
    assert {r["metric"]["job"] for r in counters} == {"node", "kvmcluster-hostile"}
    assert {r["value"][1] for r in ratio} == {"0.245"}
    split = [a for a in alerts if a["labels"]["alertname"] == "KvmclusterDrbdSplitBrain"]
    assert {a["state"] for a in split} == {"pending"}  # for: 2m
    assert {a["labels"]["item"] for a in split} == {"drbd0", printable("drbd0\x1b[2J\\")}
    assert "drbdadm connect --discard-my-data drbd0" in next(
        a["annotations"]["description"] for a in split if a["labels"]["item"] == "drbd0"
    )
    by_name = {}
    for alert in alerts:
        by_name.setdefault(alert["labels"]["alertname"], []).append(alert["labels"])
    assert by_name.keys() == EXPECTED_ALERTS  # nothing else: no quorum lost, no VG full
    assert [(a["node"], a["item"]) for a in by_name["KvmclusterVmRunningTwice"]] == [
        ("kimball", "sle12-kvm")
    ]
    assert [a["node"] for a in by_name["KvmclusterFencingFailed"]] == ["hgnode1"]
    assert [a["node"] for a in by_name["KvmclusterStackDown"]] == ["kimball"]
    assert {a["vg"] for a in by_name["KvmclusterVgNearlyFull"]} == {"volnode05"}
    assert {a["item"] for a in by_name["KvmclusterVmMisplaced"]} == {
        VM199,
        printable(VM199 + '"}\n# EOF\\'),
    }
