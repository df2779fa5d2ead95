"""check_cluster and check_cluster_services against a real corosync + Pacemaker started here.

The tests of this module run in order on one cluster: healthy, then resources, failures and a
ban, then the stack stopped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import live_pacemaker
from tests.plugin_runner import run_plugin

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(live_pacemaker.why_not() is not None, reason=str(live_pacemaker.why_not())),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    test_cluster = live_pacemaker.TestCluster(tmp_path_factory.mktemp("pacemaker-hD2"))
    try:
        test_cluster.start()
        yield test_cluster
    finally:
        test_cluster.close()


def test_live_quorum_and_membership(cluster):
    run = run_plugin("check_cluster", "--stack", "pacemaker", prefix=cluster.enter)
    assert run.returncode == 0, run.stdout
    assert run.first_line == (
        "CLUSTER OK - quorate, 1 of 1 nodes online (node05), DC node05, "
        "1 vote, 1 expected, 1 needed"
    )
    assert run.perf("quorate") == 1 and run.perf("nodes_online") == 1


def test_live_cluster_without_resources_is_unknown(cluster):
    run = run_plugin("check_cluster_services", "--stack", "pacemaker", prefix=cluster.enter)
    assert run.returncode == 3
    assert run.first_line == (
        "SERVICES UNKNOWN - no services configured in crm_mon --output-as=xml -1"
    )


def test_live_resources_disabled_and_promotable(cluster):
    cluster.create(
        "resources",
        (
            '<primitive id="vm-web" class="ocf" provider="pacemaker" type="Dummy">'
            '<operations><op id="vm-web-mon" name="monitor" interval="10s"/></operations>'
            "</primitive>"
        ),
    )
    cluster.create(
        "resources",
        (
            '<primitive id="vm-test" class="ocf" provider="pacemaker" type="Dummy">'
            '<meta_attributes id="vm-test-meta"><nvpair id="vm-test-tr" name="target-role" '
            'value="Stopped"/></meta_attributes></primitive>'
        ),
    )
    cluster.create(
        "resources",
        (
            '<clone id="drbd-clone"><meta_attributes id="drbd-clone-meta">'
            '<nvpair id="drbd-clone-promotable" name="promotable" value="true"/>'
            '<nvpair id="drbd-clone-pmax" name="promoted-max" value="2"/>'
            "</meta_attributes>"
            '<primitive id="drbd" class="ocf" provider="pacemaker" type="Stateful"><operations>'
            '<op id="drbd-mon-p" name="monitor" interval="10s" role="Promoted"/>'
            '<op id="drbd-mon-u" name="monitor" interval="11s" role="Unpromoted"/>'
            "</operations></primitive></clone>"
        ),
    )
    cluster.settle()
    run = run_plugin("check_cluster_services", prefix=cluster.enter)
    assert run.returncode == 1, run.stdout
    assert run.first_line == (
        "SERVICES WARNING - vm-test disabled (target-role Stopped), 1 of 3 resources degraded"
    )
    assert (
        run_plugin("check_cluster_services", "--ignore-disabled", prefix=cluster.enter).returncode
        == 0
    )
    dual = run_plugin(
        "check_cluster_services", "--ignore-disabled", "--promoted", "2", prefix=cluster.enter
    )
    assert dual.returncode == 2
    assert dual.first_line.startswith(
        "SERVICES CRITICAL - drbd-clone promoted on 1 node (node05), expected 2"
    )


def test_live_failure_shows_fail_count_and_failed_action(cluster):
    cluster.cli("crm_resource", "--fail", "-r", "vm-web", "-N", "node05")
    cluster.settle()
    run = run_plugin("check_cluster_services", "-s", "vm-web", prefix=cluster.enter)
    assert run.returncode == 1, run.stdout
    # crm_resource --fail records the injected failure (and the recovery may add to it)
    assert re.match(
        r"SERVICES WARNING - vm-web fail-count \d+ on node05, failed \w+ on node05 "
        r"\(Simulated failure\)$",
        run.first_line,
    ), run.first_line
    quiet = run_plugin(
        "check_cluster_services", "-s", "vm-web", "--failcount-warning", "5", prefix=cluster.enter
    )
    assert "fail-count" not in quiet.first_line


def test_live_leftover_ban_stops_the_resource(cluster):
    cluster.cli("crm_resource", "--cleanup", "-r", "vm-web")
    cluster.cli("crm_resource", "--ban", "-r", "vm-web", "-N", "node05")
    cluster.settle()
    run = run_plugin("check_cluster_services", "-s", "vm-web", prefix=cluster.enter)
    assert run.returncode == 2, run.stdout
    assert run.first_line == (
        "SERVICES CRITICAL - vm-web stopped although it should run, leftover "
        "cli-ban-vm-web-on-node05 (crm_resource --clear -r vm-web)"
    )


def test_live_stack_stopped_is_critical(cluster):
    cluster.stop()
    run = run_plugin("check_cluster", "--stack", "pacemaker", prefix=cluster.enter)
    assert run.returncode == 2
    assert run.first_line == (
        "CLUSTER CRITICAL - cluster stack not running on this node (Cannot initialize CMAP "
        "service): start corosync (systemctl start corosync)"
    )
    services = run_plugin("check_cluster_services", "--stack", "pacemaker", prefix=cluster.enter)
    assert services.returncode == 2
    assert services.first_line.startswith(
        "SERVICES CRITICAL - pacemaker not running on this node (Not connected"
    )


def test_live_cluster_ends_its_own_processes_only(cluster):
    """close() ends the cluster's namespace and everything in it, and spares a process outside
    that bears a Pacemaker daemon's path (a kill by name would take it too)."""
    decoy = subprocess.Popen(
        ["/usr/lib/pacemaker/pacemaker-decoy-hD2", "300"],
        executable=shutil.which("sleep"),
        start_new_session=True,
    )
    try:
        started = list(cluster.started)
        assert len(started) == 2  # corosync and pacemakerd
        cluster.close()
        assert cluster.processes() == []
        assert [pid for pid in started if Path(f"/proc/{pid}").exists()] == []
        assert "kvmcluster-test" not in Path("/proc/self/mounts").read_text()
        assert decoy.poll() is None, "close() killed a process it did not start"
    finally:
        decoy.kill()
        decoy.wait()
