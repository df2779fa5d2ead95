"""Thresholds an admin expects: check_drbd --sync-*/--eta-* on a running resync, a stalled
resync with its own state, ETA and speed as perfdata; one reading of units everywhere (10G,
512M, 15m, 10%), inside Nagios ranges too; the applied thresholds in the perfdata."""

from __future__ import annotations

import json

import pytest

from kvmcluster.parsers.values import duration_seconds, free_space, size_bytes, unit_range
from tests.plugin_runner import REPO, fixture, run_plugin

SYNC = fixture("proc-drbd_84-sync-target.txt")  # drbd1 SyncTarget 24.5% done, ETA 0:05:12
STALLED = fixture("proc-drbd_838-sync-target-stalled.txt")
OOS = fixture("proc-drbd_84-out-of-sync.txt")  # drbd0: 4 MiB out of sync, connected


def drbd(*args: str):
    return run_plugin("check_drbd", *args)


def test_a_resync_warns_without_thresholds_and_gives_eta_and_speed_as_perfdata():
    run = drbd("--proc-file", SYNC)
    assert run.returncode == 1, run
    assert run.first_line.startswith("DRBD WARNING - drbd1 SyncTarget 24.5% done, ETA 0:05:12")
    assert run.perf("drbd1_eta") == 312  # seconds, uom s
    assert "drbd1_eta=312s;;;0" in run.stdout
    assert run.perf("drbd1_speed") == 50756 * 1024  # the current K/sec of /proc/drbd
    assert "drbd0_eta" not in run.perfdata  # no resync on drbd0: no ETA made up


def test_a_resync_inside_the_warning_ranges_is_ok_and_says_so():
    run = drbd("--proc-file", SYNC, "--sync-warning", "20:", "--eta-warning", "15m")
    assert run.returncode == 0, run
    assert run.first_line.startswith(
        "DRBD OK - 3 resources OK, drbd1 SyncTarget 24.5% done, ETA 0:05:12"
    ), run
    assert "drbd1_sync=24.5%;20:;;0;100" in run.stdout  # the thresholds applied, in base units
    assert "drbd1_eta=312s;900;;0" in run.stdout


@pytest.mark.parametrize(
    "args, code",
    [
        (["--sync-warning", "50:"], 1),  # under 50 % done warns
        (["--sync-warning", "50%:"], 1),  # the same with the sign
        (["--sync-critical", "25:"], 2),
        (["--sync-warning", "30:", "--sync-critical", "20:"], 1),
        (["--eta-warning", "5m"], 1),  # 312 s left, more than 300
        (["--eta-critical", "300s"], 2),
        (["--eta-warning", "2h", "--eta-critical", "1h"], 0),
        (["--eta-warning", "6m", "--sync-warning", "24:"], 0),
    ],
)
def test_sync_and_eta_ranges_decide_the_state_of_a_running_resync(args, code):
    run = drbd("--proc-file", SYNC, *args)
    assert run.returncode == code, run
    assert "drbd1" in run.first_line


def test_a_stalled_resync_has_its_own_state_whatever_the_ranges():
    warned = drbd("--proc-file", STALLED, "--sync-warning", "0:")
    assert warned.returncode == 1, warned
    assert "(stalled)" in warned.first_line
    critical = drbd("--proc-file", STALLED, "--stalled-critical")
    assert critical.returncode == 2, critical
    assert critical.first_line.startswith("DRBD CRITICAL - drbd0 SyncTarget 66.2% done (stalled)")


def test_oos_thresholds_take_sizes_with_units():
    bytes_ = drbd("--proc-file", OOS, "--oos-critical", "1048576")
    units = drbd("--proc-file", OOS, "--oos-critical", "1M")
    assert bytes_.returncode == units.returncode == 2, (bytes_, units)
    assert "drbd0_oos=4194304B;0;1048576;0" in units.stdout
    relaxed = drbd("--proc-file", OOS, "--oos-warning", "10M", "--oos-critical", "10G")
    assert relaxed.returncode == 0, relaxed
    assert "drbd0_oos=4194304B;10485760;10737418240;0" in relaxed.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["--oos-critical", "10%"], "a percentage does not apply here; give a size (10G)"),
        (["--oos-warning", "lots"], "is not a size: give bytes or 10K, 512M, 20G, 1T"),
        (["--eta-warning", "10x"], "is not a duration: give seconds or 90s, 15m, 2h, 1d"),
        (["--sync-warning", "150"], "is not a percentage from 0 to 100"),
        (["--oos-warning", "10G:1G"], "the start of the range is above its end"),
    ],
)
def test_a_bad_threshold_is_one_usage_line(args, words):
    run = drbd("--proc-file", SYNC, *args)
    assert run.returncode == 3, run
    assert run.first_line.startswith("DRBD UNKNOWN - bad arguments: argument"), run
    assert words in run.first_line and "Traceback" not in run.stderr


LVM = [
    "--vgs-file",
    fixture("vgs_rhel6-clustered-on-drbd.txt"),
    "--pvs-file",
    fixture("pvs_rhel6-clustered-on-drbd.txt"),
    "--lvm-conf-file",
    fixture("lvm-conf_rhel6-clustered-filtered.conf"),
]


def test_lvm_free_thresholds_are_in_the_perfdata_as_byte_ranges():
    run = run_plugin("check_cluster_lvm", *LVM, "-w", "50%", "-c", "10G")
    assert run.returncode == 2, run
    assert "volnode05 free 5.0% (2.0 GiB) below 10G" in run.first_line
    # 50 % of 42941284352 bytes, 10 GiB: alert under (Nagios range N:)
    assert "volnode05_free=2147483648B;21470642176:;10737418240:;0;42941284352" in run.stdout
    plain = run_plugin("check_cluster_lvm", *LVM)
    assert plain.returncode == 0 and "volnode05_free=2147483648B;;;0;42941284352" in plain.stdout


def test_lvm_refuses_a_bare_number_for_free_space():
    run = run_plugin("check_cluster_lvm", *LVM, "-w", "10")
    assert run.returncode == 3, run
    assert "'10' is ambiguous for free space: give a percentage (10%) or a size (20G" in (
        run.first_line
    )
    assert run_plugin("check_cluster_lvm", *LVM, "-w", "3G").returncode == 1


def test_status_json_perfdata_carries_the_applied_thresholds():
    run = run_plugin(
        "kvmcluster", "status", "--json", "--from", str(REPO / "examples/captures/split-brain")
    )
    areas = {a["name"]: a for a in json.loads(run.stdout)["areas"]}
    oos = {p["label"]: p for p in areas["drbd"]["perfdata"]}["drbd0_oos"]
    assert oos == {"label": "drbd0_oos", "value": 419430400, "uom": "B", "warn": "0"}
    size = {p["label"]: p for p in areas["lvm"]["perfdata"]}["volimages_size"]
    assert "warn" not in size and "crit" not in size


def test_one_reading_of_units():
    assert size_bytes("10K") == 10240 and size_bytes("512M") == 512 * 1024**2
    assert size_bytes("20G") == size_bytes("20GiB") == size_bytes("20GB") == 20 * 1024**3
    assert size_bytes("1073741824") == 1073741824
    assert duration_seconds("90s") == 90 and duration_seconds("15m") == 900
    assert duration_seconds("2h") == 7200 and duration_seconds("600") == 600
    assert unit_range("@1G:10G", "bytes") == "@1073741824:10737418240"
    assert unit_range("~:15m", "seconds") == "~:900"
    assert unit_range("50%:", "percent") == "50:"
    assert free_space("10%") == (10.0, None) and free_space("20G") == (None, 20 * 1024**3)
    with pytest.raises(ValueError, match="ambiguous"):
        free_space("10")
