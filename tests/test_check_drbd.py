"""check_drbd as Icinga runs it: a subprocess, judged by exit code, first line and perfdata."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin_runner import fixture, run_plugin

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3

CASES = [
    # (input option, fixture, extra args, exit code, first line)
    (
        "--proc-file",
        "proc-drbd_84-dual-primary-ok.txt",
        ["--role", "dual-primary"],
        OK,
        "DRBD OK - 3 resources Connected and UpToDate (Primary/Primary)",
    ),
    (
        "--proc-file",
        "proc-drbd_83-srcversion-ok.txt",
        [],
        OK,
        "DRBD OK - 2 resources Connected and UpToDate (Primary/Primary)",
    ),
    (
        "--proc-file",
        "proc-drbd_80-ok.txt",
        [],
        OK,
        "DRBD OK - 1 resource Connected and UpToDate (Primary/Secondary)",
    ),
    (
        "--proc-file",
        "proc-drbd_84-standalone-split-brain.txt",
        [],
        CRITICAL,
        "DRBD CRITICAL - drbd0 StandAlone (possible split brain), 1 of 3 resources degraded",
    ),
    (
        "--proc-file",
        "proc-drbd_84-wfconnection.txt",
        [],
        CRITICAL,
        "DRBD CRITICAL - drbd0 WFConnection (peer not connected)",
    ),
    (
        "--proc-file",
        "proc-drbd_84-sync-target.txt",
        [],
        WARNING,
        "DRBD WARNING - drbd1 SyncTarget 24.5% done, ETA 0:05:12, 1 of 3 resources degraded",
    ),
    (
        "--proc-file",
        "proc-drbd_83-sync-source-space-indented.txt",
        [],
        WARNING,
        "DRBD WARNING - drbd0 SyncSource 11.5% done, ETA 0:05:43",
    ),
    (
        "--proc-file",
        "proc-drbd_84-paused-sync-stalled.txt",
        [],
        WARNING,
        "DRBD WARNING - drbd0 PausedSyncT 0.4% done, ETA 0:19:37 (paused by the user here: "
        "drbdadm resume-sync <resource of /dev/drbd0>)",
    ),
    (
        "--proc-file",
        "proc-drbd_84-verify.txt",
        [],
        WARNING,
        "DRBD WARNING - drbd0 VerifyS 41.2% done, ETA 0:01:58",
    ),
    (
        "--proc-file",
        "proc-drbd_84-unconfigured-gaps.txt",
        [],
        OK,
        "DRBD OK - 2 resources Connected and UpToDate (Primary/Primary)",
    ),
    (
        "--proc-file",
        "proc-drbd_84-diskless.txt",
        [],
        CRITICAL,
        "DRBD CRITICAL - drbd0 disk Diskless",
    ),
    (
        "--proc-file",
        "proc-drbd_84-outdated-disconnected.txt",
        [],
        CRITICAL,
        "DRBD CRITICAL - drbd0 WFConnection (peer not connected), disk Outdated",
    ),
    (
        "--proc-file",
        "proc-drbd_84-inconsistent-after-create-md.txt",
        [],
        CRITICAL,
        "DRBD CRITICAL - drbd0 disk Inconsistent, no resync running, "
        "peer disk Inconsistent, no resync running",
    ),
    (
        "--proc-file",
        "proc-drbd_84-suspended-io.txt",
        [],
        CRITICAL,
        "DRBD CRITICAL - drbd0 I/O suspended, WFConnection (peer not connected)",
    ),
    (
        "--proc-file",
        "proc-drbd_84-out-of-sync.txt",
        [],
        WARNING,
        "DRBD WARNING - drbd0 4.0 MiB out of sync",
    ),
    (
        "--proc-file",
        "proc-drbd_84-out-of-sync.txt",
        ["--oos-warning", "10485760"],
        OK,
        "DRBD OK - 1 resource Connected and UpToDate (Primary/Primary)",
    ),
    (
        "--proc-file",
        "proc-drbd_84-out-of-sync.txt",
        ["--oos-critical", "1024"],
        CRITICAL,
        "DRBD CRITICAL - drbd0 4.0 MiB out of sync",
    ),
    (
        "--proc-file",
        "proc-drbd_84-primary-secondary.txt",
        ["--role", "primary"],
        CRITICAL,
        "DRBD CRITICAL - drbd0 role Secondary, expected Primary",
    ),
    (
        "--proc-file",
        "proc-drbd_84-primary-secondary.txt",
        ["--role", "secondary"],
        OK,
        "DRBD OK - 1 resource Connected and UpToDate (Secondary/Primary)",
    ),
    (
        "--proc-file",
        "proc-drbd_84-no-resources.txt",
        [],
        UNKNOWN,
        "DRBD UNKNOWN - no DRBD resources in ",
    ),
    ("--proc-file", "proc-drbd_84-truncated.txt", [], UNKNOWN, "DRBD UNKNOWN - cannot parse "),
    ("--proc-file", "proc-drbd_9-version-only.txt", [], UNKNOWN, "DRBD UNKNOWN - "),
    (
        "--json-file",
        "drbdsetup-status-json_9-ok.json",
        [],
        OK,
        "DRBD OK - 3 resources Connected and UpToDate (Primary/Primary)",
    ),
    (
        "--json-file",
        "drbdsetup-status-json_9-three-nodes-ok.json",
        [],
        OK,
        "DRBD OK - 1 resource Connected and UpToDate (Primary/Primary/Secondary)",
    ),
    (
        "--json-file",
        "drbdsetup-status-json_9-sync-target.json",
        [],
        WARNING,
        "DRBD WARNING - volnode05 SyncTarget 24.4% done, ETA 0:05:12, 1 of 2 resources degraded",
    ),
    (
        "--json-file",
        "drbdsetup-status-json_9-quorum-lost.json",
        [],
        CRITICAL,
        "DRBD CRITICAL - vm-disks I/O suspended, quorum lost, Connecting to node06",
    ),
    (
        "--json-file",
        "drbdsetup-status-json_9-diskless-client.json",
        [],
        OK,
        "DRBD OK - 1 resource Connected and UpToDate (Primary/Secondary/Secondary)",
    ),
    (
        "--json-file",
        "drbdsetup-status-json_9-unintentional-diskless.json",
        [],
        CRITICAL,
        "DRBD CRITICAL - volnode05 disk Diskless",
    ),
    (
        "--json-file",
        "drbdsetup-status-json_9-standalone.json",
        [],
        CRITICAL,
        "DRBD CRITICAL - volnode05 StandAlone (possible split brain), 1 of 2 resources degraded",
    ),
    (
        "--json-file",
        "drbdsetup-status-json_9-peer-outdated.json",
        [],
        CRITICAL,
        "DRBD CRITICAL - volnode05 peer disk Outdated",
    ),
    (
        "--json-file",
        "drbdsetup-status-json_9-out-of-sync.json",
        [],
        WARNING,
        "DRBD WARNING - volnode05 8.0 MiB out of sync",
    ),
    (
        "--json-file",
        "drbdsetup-status-json_truncated.json",
        [],
        UNKNOWN,
        "DRBD UNKNOWN - cannot parse ",
    ),
    (
        "--events-file",
        "drbdsetup-events2_9-ok.txt",
        [],
        OK,
        "DRBD OK - 2 resources Connected and UpToDate (Primary/Primary)",
    ),
    (
        "--events-file",
        "drbdsetup-events2_9-timestamps-sync-source.txt",
        [],
        WARNING,
        "DRBD WARNING - volnode05 SyncSource 61.2% done",
    ),
    (
        "--events-file",
        "drbdsetup-events2_84-kernel-wfconnection.txt",
        [],
        CRITICAL,
        "DRBD CRITICAL - drbd0 WFConnection (peer not connected), 1 of 2 resources degraded",
    ),
    (
        "--events-file",
        "drbdsetup-events2_9-quorum-suspended.txt",
        [],
        CRITICAL,
        "DRBD CRITICAL - vm-disks I/O suspended (quorum), quorum lost",
    ),
    ("--events-file", "drbdsetup-events2_garbage.txt", [], UNKNOWN, "DRBD UNKNOWN - cannot parse "),
]


@pytest.mark.parametrize(
    "option, name, extra, code, first",
    CASES,
    ids=[f"{c[1]}{'+' + ' '.join(c[2]) if c[2] else ''}" for c in CASES],
)
def test_fixture_gives_state_and_first_line(option, name, extra, code, first):
    run = run_plugin("check_drbd", option, fixture(name), *extra)
    assert run.returncode == code, run.stdout
    assert run.first_line.startswith(first), run.stdout
    assert len(run.stdout.splitlines()) == 1, "without -v the answer is one line"


def test_split_brain_perfdata_has_out_of_sync_bytes_per_resource():
    run = run_plugin(
        "check_drbd", "--proc-file", fixture("proc-drbd_84-standalone-split-brain.txt")
    )
    assert run.perf("drbd0_oos") == 409600 * 1024
    assert run.perfdata["drbd0_oos"][1] == "B"
    assert run.perf("drbd1_oos") == 0
    assert run.perf("drbd1_sync") == 100
    assert "drbd0_sync" not in run.perfdata  # unknown while disconnected: no made-up value


def test_perfdata_labels_are_the_same_whatever_the_state():
    healthy = run_plugin("check_drbd", "--proc-file", fixture("proc-drbd_84-dual-primary-ok.txt"))
    syncing = run_plugin("check_drbd", "--proc-file", fixture("proc-drbd_84-sync-target.txt"))
    # _eta and _speed are there while a resync runs and the input gives them (as _sync)
    assert set(healthy.perfdata) == set(syncing.perfdata) - {"drbd1_eta", "drbd1_speed"}
    assert syncing.perf("drbd1_eta") == 312
    assert syncing.perf("drbd1_sync") == 24.5
    assert syncing.perf("drbd1_net_received") == 5120000 * 1024


def test_verbose_adds_one_line_per_resource():
    run = run_plugin(
        "check_drbd", "-v", "--proc-file", fixture("proc-drbd_84-standalone-split-brain.txt")
    )
    lines = run.lines
    assert lines[0].startswith("DRBD CRITICAL - drbd0 StandAlone")
    assert lines[1].startswith("CRITICAL: drbd0 (minor 0): Primary UpToDate; peer StandAlone")
    assert lines[2].startswith("OK: drbd1 (minor 1): Primary UpToDate; peer Connected Primary")
    assert lines[3].startswith("OK: drbd2")


def test_stdin_input_gives_the_same_answer_as_the_file():
    path = fixture("proc-drbd_84-sync-target.txt")
    from_file = run_plugin("check_drbd", "--proc-file", path)
    from_stdin = run_plugin("check_drbd", "--proc-file", "-", stdin=Path(path).read_text())
    assert (from_stdin.returncode, from_stdin.first_line) == (
        from_file.returncode,
        from_file.first_line,
    )


def test_resource_selection_and_exclusion():
    path = fixture("proc-drbd_84-standalone-split-brain.txt")
    assert run_plugin("check_drbd", "--proc-file", path, "-x", "0").returncode == OK
    run = run_plugin("check_drbd", "--proc-file", path, "-r", "drbd1", "-r", "2")
    assert run.first_line == "DRBD OK - 2 resources Connected and UpToDate (Primary/Primary)"
    assert "drbd0_oos" not in run.perfdata


def test_drbd_conf_names_the_minors_and_reports_resources_not_up():
    conf = fixture("etc-drbd-conf_seed-84.conf")
    run = run_plugin(
        "check_drbd",
        "--proc-file",
        fixture("proc-drbd_84-unconfigured-gaps.txt"),
        "--drbd-conf",
        conf,
    )
    assert run.returncode == CRITICAL
    assert run.first_line.startswith("DRBD CRITICAL - drbd1 configured but not up")
    # minor 4 is not in the seed's config: it keeps its device name
    assert set(run.perfdata) >= {"drbd0_oos", "drbd4_oos"}


def test_unreadable_drbd_conf_is_unknown_with_the_path():
    run = run_plugin(
        "check_drbd",
        "--proc-file",
        fixture("proc-drbd_84-dual-primary-ok.txt"),
        "--drbd-conf",
        "/nonexistent/drbd.conf",
    )
    assert run.returncode == UNKNOWN
    assert run.first_line == "DRBD UNKNOWN - input /nonexistent/drbd.conf: no such file"


def test_missing_input_file_is_unknown_with_one_line():
    run = run_plugin("check_drbd", "--proc-file", "/nonexistent/proc-drbd")
    assert run.returncode == UNKNOWN
    assert run.stdout == "DRBD UNKNOWN - --proc-file /nonexistent/proc-drbd: no such file\n"


def test_directory_as_input_is_unknown():
    run = run_plugin("check_drbd", "--json-file", "/tmp")
    assert (run.returncode, run.first_line) == (
        UNKNOWN,
        "DRBD UNKNOWN - --json-file /tmp: is a directory",
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--role", "tertiary"],
        ["--bogus"],
        ["-t", "0"],
        ["-t", "soon"],
        ["--oos-warning", "a:b:c"],
        ["--proc-file", "a", "--json-file", "b"],
    ],
)
def test_bad_arguments_exit_3_with_one_line(args):
    run = run_plugin("check_drbd", *args)
    assert run.returncode == UNKNOWN
    assert run.first_line.startswith("DRBD UNKNOWN - bad arguments: ")


def test_help_and_version():
    helped = run_plugin("check_drbd", "-h")
    assert helped.returncode == 0 and "--proc-file" in helped.stdout and "--sudo" in helped.stdout
    version = run_plugin("check_drbd", "-V")
    assert version.returncode == 0 and version.stdout.startswith("check_drbd 0.")


def test_plugin_file_runs_directly(tmp_path):
    import subprocess
    import sys

    from tests.plugin_runner import REPO

    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "plugins" / "check_drbd.py"),
            "--proc-file",
            fixture("proc-drbd_84-dual-primary-ok.txt"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == OK and proc.stdout.startswith("DRBD OK - 3 resources")
