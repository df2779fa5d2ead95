"""The runtime every plugin shares: external commands and the last-resort error guard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from kvmcluster.errors import SourceError
from kvmcluster.runtime.cli import guarded_main
from kvmcluster.runtime.command import run_command
from tests.plugin_runner import REPO


def test_output_and_exit_code_come_back():
    result = run_command(["sh", "-c", "echo out; echo err >&2; exit 3"], ok_codes=None)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_commands_run_without_a_shell():
    result = run_command(["echo", "$(id)", ";", "rm", "-rf", "/"])
    assert result.stdout == "$(id) ; rm -rf /\n"


def test_missing_binary_says_so():
    with pytest.raises(SourceError, match="^clustat-missing not found: is it installed"):
        run_command(["clustat-missing", "-x"])


def test_not_executable_says_permission_denied(tmp_path):
    script = tmp_path / "clustat"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(SourceError, match="permission denied"):
        run_command([str(script)])


def test_non_zero_exit_names_the_command_and_its_first_error_line():
    with pytest.raises(SourceError) as error:
        run_command(["sh", "-c", "echo 'Cannot open connection to cman' >&2; exit 1"])
    assert str(error.value) == (
        "sh -c echo 'Cannot open connection to cman' >&2; exit 1 failed (exit 1): "
        "Cannot open connection to cman"
    )


def test_hung_command_is_killed_with_its_children_at_the_timeout(tmp_path):
    marker = tmp_path / "hung"
    marker.write_text("sleep 300 & sleep 300; wait\n")
    started = time.monotonic()
    with pytest.raises(SourceError, match="did not answer within 1.0s and was killed; DLM stuck?"):
        run_command(["sh", str(marker)], timeout=1, hint="DLM stuck?")
    assert time.monotonic() - started < 2.5
    left = subprocess.run(["pgrep", "-f", str(marker)], capture_output=True, text=True)
    assert left.stdout == ""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("sudo") is None or shutil.which("runuser") is None,
    reason="needs root, sudo and runuser to act as an unprivileged user",
)
def test_sudo_refusal_points_at_the_sudoers_file():
    code = (
        "from kvmcluster.runtime.command import run_command\n"
        "from kvmcluster.errors import SourceError\n"
        "try:\n    run_command(['cman_tool', 'status'], sudo=True)\n"
        "except SourceError as e:\n    print(e)\n"
    )
    if subprocess.run(
        ["runuser", "-u", "nobody", "--", "test", "-r", str(REPO / "kvmcluster")]
    ).returncode:
        pytest.skip("the checkout is not readable by nobody")
    proc = subprocess.run(
        ["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=30,
    )
    assert proc.stdout.startswith(
        "sudo refused cman_tool status: install the rule from icinga/sudoers"
    )


def _boom(argv):
    raise ZeroDivisionError("division by zero")


def test_internal_error_becomes_one_unknown_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        guarded_main("DRBD", _boom, [])
    assert exit_.value.code == 3
    out = capsys.readouterr().out
    assert out == "DRBD UNKNOWN - internal error: ZeroDivisionError: division by zero\n"


def test_internal_error_traceback_only_with_vvv(capsys):
    with pytest.raises(SystemExit):
        guarded_main("DRBD", _boom, ["-vvv"])
    out = capsys.readouterr().out
    assert out.startswith("DRBD UNKNOWN - internal error") and "Traceback" in out


def test_exit_codes_outside_0_3_become_3():
    def exits_70(argv):
        sys.exit(70)

    with pytest.raises(SystemExit) as exit_:
        guarded_main("DRBD", exits_70, [])
    assert exit_.value.code == 3
