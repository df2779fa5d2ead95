"""check_drbd without input options, as on a node: /proc/drbd, then drbdsetup for DRBD 9.

This machine has no DRBD module, so each test runs the plugin in a private mount namespace
whose /proc holds a drbd file of the test's choosing, with a `drbdsetup` script of the test
first in PATH. The plugin code path is the production one: nothing is patched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.plugin_runner import PluginRun, fixture, plugin_command

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0,
    reason="needs root and unshare for a private /proc",
)

DRBD9_PROC = fixture("proc-drbd_9-version-only.txt")


def run_live(tmp_path, proc_file: str | None, drbdsetup: str | None, *args: str) -> PluginRun:
    """Run check_drbd with /proc replaced; `drbdsetup` is a shell script body or None."""
    fakebin = tmp_path / "bin"
    fakebin.mkdir(exist_ok=True)
    if drbdsetup is not None:
        script = fakebin / "drbdsetup"
        script.write_text("#!/bin/sh\n" + drbdsetup)
        script.chmod(0o755)
    setup = "mount -t tmpfs kvmcluster-test /proc"
    if proc_file:
        setup += f' && cp "{proc_file}" /proc/drbd'
    command = " ".join(f"'{part}'" for part in [*plugin_command("check_drbd"), *args])
    proc = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"{setup} && exec {command}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        # the test's drbdsetup or none: not the real one in /usr/sbin (searched after PATH)
        env={**os.environ, "PATH": f"{fakebin}:/usr/bin:/bin", "KVMCLUSTER_TOOL_PATH": ""},
    )
    run = PluginRun(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in run.stdout + run.stderr
    return run


def test_missing_proc_drbd_means_module_not_loaded(tmp_path):
    run = run_live(tmp_path, None, None)
    assert run.returncode == 2
    assert run.first_line == "DRBD CRITICAL - DRBD kernel module not loaded (no /proc/drbd)"


def test_drbd84_state_is_read_from_proc(tmp_path):
    run = run_live(tmp_path, fixture("proc-drbd_84-standalone-split-brain.txt"), None)
    assert run.returncode == 2
    assert run.first_line.startswith("DRBD CRITICAL - drbd0 StandAlone (possible split brain)")


def test_drbd9_runs_drbdsetup_status_json(tmp_path):
    json_fixture = fixture("drbdsetup-status-json_9-sync-target.json")
    script = (
        f'[ "$*" = "status --json --statistics" ] || {{ echo "unexpected: $*" >&2; exit 20; }}\n'
        f'cat "{json_fixture}"\n'
    )
    run = run_live(tmp_path, DRBD9_PROC, script)
    assert run.returncode == 1, run.stdout
    assert run.first_line.startswith("DRBD WARNING - volnode05 SyncTarget 24.4% done")


def test_drbd9_falls_back_to_events2_when_json_is_rejected(tmp_path):
    events = fixture("drbdsetup-events2_9-ok.txt")
    script = (
        'case "$*" in\n'
        '  "status --json --statistics")\n'
        "    echo \"drbdsetup status: unrecognized option '--json'\" >&2; exit 20;;\n"
        f'  "events2 --now --statistics all") cat "{events}";;\n'
        '  *) echo "unexpected: $*" >&2; exit 20;;\n'
        "esac\n"
    )
    run = run_live(tmp_path, DRBD9_PROC, script)
    assert (run.returncode, run.first_line) == (
        0,
        "DRBD OK - 2 resources Connected and UpToDate (Primary/Primary)",
    )


def test_drbdsetup_failure_is_unknown_with_its_message(tmp_path):
    script = 'echo "Module drbd not loaded or too old." >&2\nexit 20\n'
    run = run_live(tmp_path, DRBD9_PROC, script)
    assert run.returncode == 3
    assert run.first_line == (
        "DRBD UNKNOWN - drbdsetup status --json --statistics failed (exit 20): "
        "Module drbd not loaded or too old."
    )


def test_missing_drbdsetup_is_unknown(tmp_path):
    run = run_live(tmp_path, DRBD9_PROC, None)
    assert run.returncode == 3
    assert run.first_line == "DRBD UNKNOWN - drbdsetup not found: is it installed and in PATH?"


def test_hung_drbdsetup_is_killed_within_the_timeout(tmp_path):
    started = time.monotonic()
    run = run_live(tmp_path, DRBD9_PROC, "while :; do sleep 1; done\n", "-t", "2")
    elapsed = time.monotonic() - started
    assert run.returncode == 3
    assert run.first_line.startswith(
        "DRBD UNKNOWN - drbdsetup status --json --statistics did not answer within"
    )
    assert run.first_line.endswith("s and was killed")
    assert elapsed < 2 + 1.5, f"took {elapsed:.1f}s"
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftover.stdout == "", f"child left behind: {leftover.stdout}"
