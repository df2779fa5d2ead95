"""status, lint and collect end within -t even when the work is Python's, not a tool's: a
huge input keeps the parser busy past the budget (the plugins have nagiosplugin's alarm; the
kvmcluster commands have their own)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.plugin_runner import REPO, run_plugin

CAPTURE = REPO / "examples" / "captures" / "healthy"


@pytest.fixture(scope="module")
def huge_drbd_conf(tmp_path_factory) -> Path:
    """A valid drbd.conf of some 8 MB: seconds of parsing on this machine."""
    path = tmp_path_factory.mktemp("huge") / "drbd.conf"
    words = " ".join(f"o{n} v;" for n in range(1_000_000))
    path.write_text(f"common {{ net {{ {words} }} }}\n")
    return path


def _timed(*args: str) -> tuple[float, object]:
    start = time.monotonic()
    run = run_plugin("kvmcluster", *args, timeout=30)
    return time.monotonic() - start, run


def test_lint_of_a_huge_file_answers_unknown_within_the_timeout(huge_drbd_conf):
    elapsed, run = _timed("lint", "--drbd-conf", str(huge_drbd_conf), "-t", "1")
    assert run.returncode == 3, run
    assert run.stdout.startswith("LINT UNKNOWN - no result within 1s"), run
    assert len(run.stdout.splitlines()) == 1
    assert elapsed < 2.5, elapsed


def test_status_of_a_capture_with_a_huge_file_answers_within_the_timeout(huge_drbd_conf, tmp_path):
    capture = tmp_path / "capture"
    shutil.copytree(CAPTURE, capture)
    shutil.copy(huge_drbd_conf, capture / "drbd.conf")
    elapsed, run = _timed("status", "--from", str(capture), "-t", "1", "--no-color")
    assert run.returncode == 3, run
    assert "kvmcluster status: no result within 1s" in run.stderr, run
    assert elapsed < 2.5, elapsed


def test_the_plugins_timeout_line_names_the_seconds_once(huge_drbd_conf):
    run = run_plugin(
        "check_drbd",
        "--proc-file",
        str(CAPTURE / "proc-drbd.txt"),
        "--drbd-conf",
        str(huge_drbd_conf),
        "-t",
        "1",
        timeout=30,
    )
    assert run.returncode == 3, run
    assert run.first_line.startswith("DRBD UNKNOWN - no result within 1s ("), run
