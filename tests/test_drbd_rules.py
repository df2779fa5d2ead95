"""DRBD rules, read as the admin's questions. Models come from the real fixtures."""

from __future__ import annotations

import pytest

from kvmcluster.model.drbd import ConfiguredResource, DrbdStatus
from kvmcluster.model.findings import PerfRow, State
from kvmcluster.output.nagios import finding_summary
from kvmcluster.output.perfdata import perfdata_text
from kvmcluster.parsers.drbd_events import parse_events2
from kvmcluster.parsers.drbd_json import parse_status_json
from kvmcluster.parsers.drbd_proc import parse_proc_drbd
from kvmcluster.rules import drbd as drbd_rules
from kvmcluster.rules.drbd import ROLES, DrbdPolicy, evaluate
from kvmcluster.runtime.np import nagiosplugin
from tests.plugin_runner import FIXTURES


def proc(name):
    return parse_proc_drbd((FIXTURES / name).read_text())


def findings(report):
    return {f.item: f for f in report.findings}


def test_standalone_on_one_resource_is_critical_and_says_split_brain():
    report = evaluate(proc("proc-drbd_84-standalone-split-brain.txt"), DrbdPolicy())
    assert report.state == State.CRITICAL
    r0 = findings(report)["drbd0"]
    assert r0.problems[0] == "StandAlone (possible split brain)"
    assert findings(report)["drbd1"].state == State.OK


def test_resync_is_a_warning_with_percent_and_eta():
    r1 = findings(evaluate(proc("proc-drbd_84-sync-target.txt"), DrbdPolicy()))["drbd1"]
    assert r1.state == State.WARNING
    assert r1.problems == ("SyncTarget 24.5% done, ETA 0:05:12",)


def test_inconsistent_disk_during_resync_is_not_critical():
    r1 = findings(evaluate(proc("proc-drbd_84-sync-target.txt"), DrbdPolicy()))["drbd1"]
    assert not any("Inconsistent" in p for p in r1.problems)


def test_inconsistent_without_resync_is_critical():
    r0 = findings(evaluate(proc("proc-drbd_84-inconsistent-after-create-md.txt"), DrbdPolicy()))
    assert r0["drbd0"].state == State.CRITICAL
    assert "disk Inconsistent, no resync running" in r0["drbd0"].problems


def test_dual_primary_expected_but_local_secondary_is_critical():
    report = evaluate(proc("proc-drbd_84-primary-secondary.txt"), DrbdPolicy(role="dual-primary"))
    assert findings(report)["drbd0"].problems == ("role Secondary, expected Primary",)


def test_dual_primary_expected_but_peer_secondary_is_critical():
    status = parse_status_json(
        (FIXTURES / "drbdsetup-status-json_9-three-nodes-ok.json").read_text()
    )
    report = evaluate(status, DrbdPolicy(role="dual-primary"))
    assert report.state == State.CRITICAL
    assert findings(report)["vm-disks"].problems == (
        "peer role of node07 Secondary, expected Primary (dual-primary)",
    )


def test_role_any_accepts_primary_secondary():
    assert evaluate(proc("proc-drbd_84-primary-secondary.txt"), DrbdPolicy()).state == State.OK


def test_out_of_sync_warns_by_default_and_ranges_move_the_limits():
    status = proc("proc-drbd_84-out-of-sync.txt")  # 4 MiB out of sync
    assert evaluate(status, DrbdPolicy()).state == State.WARNING
    relaxed = DrbdPolicy(oos_warning=nagiosplugin.Range("8388608"))
    assert evaluate(status, relaxed).state == State.OK
    strict = DrbdPolicy(oos_critical=nagiosplugin.Range("1048576"))
    assert evaluate(status, strict).state == State.CRITICAL


def test_intentional_diskless_client_is_ok_but_unintentional_is_critical():
    ok = parse_status_json((FIXTURES / "drbdsetup-status-json_9-diskless-client.json").read_text())
    assert evaluate(ok, DrbdPolicy()).state == State.OK
    bad = parse_status_json(
        (FIXTURES / "drbdsetup-status-json_9-unintentional-diskless.json").read_text()
    )
    assert findings(evaluate(bad, DrbdPolicy()))["volnode05"].problems == ("disk Diskless",)


def test_module_not_loaded_is_critical():
    report = evaluate(DrbdStatus(source="/proc/drbd", loaded=False), DrbdPolicy())
    assert report.state == State.CRITICAL
    assert "kernel module not loaded" in finding_summary(report.findings[0])


def test_no_resources_is_unknown_never_ok():
    status = proc("proc-drbd_84-no-resources.txt")
    assert evaluate(status, DrbdPolicy()).state == State.UNKNOWN


def test_configured_but_not_up_is_critical():
    status = proc("proc-drbd_84-unconfigured-gaps.txt")  # minors 0 and 4 up, 1 unconfigured
    configured = [
        ConfiguredResource("volimages", [0]),
        ConfiguredResource("volnode05", [1]),
        ConfiguredResource("volnode06", [4]),
    ]
    report = evaluate(status, DrbdPolicy(), configured)
    by_item = findings(report)
    assert by_item["volnode05"].problems == ("configured but not up",)
    assert by_item["volimages"].state == State.OK and by_item["volnode06"].state == State.OK


def test_selection_by_name_or_minor_and_exclusion():
    status = proc("proc-drbd_84-standalone-split-brain.txt")
    only_healthy = DrbdPolicy(include=["1", "drbd2"])
    assert [f.item for f in evaluate(status, only_healthy).findings] == ["drbd1", "drbd2"]
    assert evaluate(status, DrbdPolicy(exclude=["drbd0"])).state == State.OK


def test_selected_resource_that_does_not_exist_is_critical():
    report = evaluate(proc("proc-drbd_84-dual-primary-ok.txt"), DrbdPolicy(include=["r9"]))
    assert findings(report)["r9"].state == State.CRITICAL


def test_perfdata_labels_are_per_resource_and_stable():
    report = evaluate(proc("proc-drbd_84-sync-target.txt"), DrbdPolicy())
    labels = [p.label for p in report.perf_values()]
    assert len(labels) == len(set(labels))
    assert {"drbd1_oos", "drbd1_sync", "drbd1_net_sent", "drbd1_pending"} <= set(labels)
    sync = next(p for p in report.perf_values() if p.label == "drbd1_sync")
    assert (sync.value, sync.uom) == (24.5, "%")


def _every_fixture_model():
    parsers = {"proc-drbd_": parse_proc_drbd, "drbdsetup-status-json_9": parse_status_json}
    parsers["drbdsetup-events2_9"] = parse_events2
    for path in sorted(FIXTURES.iterdir()):
        for prefix, parse in parsers.items():
            if path.name.startswith(prefix) and not path.stem.endswith(("truncated", "garbage")):
                yield path.name, parse(path.read_text())


MODELS = list(_every_fixture_model())


@pytest.mark.parametrize("name, status", MODELS, ids=[name for name, _ in MODELS])
def test_quick_path_for_healthy_resources_agrees_with_the_full_rules(name, status):
    """Plainly healthy resources skip the full rules and get one PerfRow: same verdict,
    same perfdata text, for every fixture and every expected role."""
    assert status.resources or name.endswith(("no-resources.txt", "version-only.txt"))
    for role in ROLES:
        policy = DrbdPolicy(role=role)
        for resource in status.resources:
            full = drbd_rules.evaluate_resource(resource, policy)
            slow_perf = drbd_rules._perfdata(resource, drbd_rules._oos_total(resource), "0", "")
            if drbd_rules._plainly_healthy(resource, policy):
                assert (full.state, full.problems) == (State.OK, ())
                quick = drbd_rules._healthy_perfdata(
                    resource, "0", "", drbd_rules._perf_columns("0", "")
                )
                assert perfdata_text(quick) == perfdata_text(slow_perf)
            report = evaluate(DrbdStatus(source=name, resources=[resource]), policy)
            assert report.findings[0].state == full.state
            assert report.findings[0].problems == full.problems


def test_healthy_fixtures_take_the_quick_path():
    status = proc("proc-drbd_84-dual-primary-ok.txt")
    report = evaluate(status, DrbdPolicy(role="dual-primary"))
    assert report.perfdata and all(isinstance(p, PerfRow) for p in report.perfdata)
    assert report.state == State.OK


def test_perf_row_quotes_labels_that_need_it():
    status = proc("proc-drbd_84-dual-primary-ok.txt")
    named = [ConfiguredResource("vm.disk-1", [0]), ConfiguredResource("r1", [1])]
    text = perfdata_text(evaluate(status, DrbdPolicy(), named).perfdata)
    assert text.startswith("'vm.disk-1_oos'=0B;0;;0 'vm.disk-1_sync'=100%;;;0;100 ")
    assert " r1_oos=0B;0;;0 r1_sync=100%;;;0;100 r1_net_sent=" in text
