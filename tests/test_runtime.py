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


def _python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        timeout=30,
    )


def test_nagiosplugin_loads_without_logging_and_traceback_but_still_logs():
    """The stand-ins of runtime.np: nagiosplugin's own log lines still reach the output,
    and a later `import logging` gets the real module."""
    code = """
import sys
from kvmcluster.runtime.np import nagiosplugin
assert "logging" not in sys.modules and "traceback" not in sys.modules, "loaded"

class Silent(nagiosplugin.Resource):
    def probe(self):
        return []

try:
    nagiosplugin.Check(Silent()).main(verbose=1)
except SystemExit as exc:
    print("exit", exc.code)
import logging
print("real logging", hasattr(logging, "LogRecord"))
"""
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "resource Silent did not produce any metric" in lines
    assert lines[-2:] == ["exit 3", "real logging True"]


def test_nagiosplugin_uses_the_real_logging_when_it_is_already_loaded():
    code = """
import logging
from kvmcluster.runtime.np import nagiosplugin
import nagiosplugin.runtime
print(nagiosplugin.runtime.logging is logging)
"""
    assert _python(code).stdout == "True\n"


def test_a_plugin_run_as_a_command_flushes_and_runs_exit_handlers(tmp_path):
    """Run as a command, guarded_main ends the process without the interpreter's teardown:
    output and exit code must be intact and atexit handlers (SSH close) must have run."""
    marker = tmp_path / "closed"
    code = f"""
import atexit, sys
from kvmcluster.runtime.cli import guarded_main

def check(argv):
    atexit.register(lambda: open({str(marker)!r}, "w").write("closed"))
    sys.stdout.write("DRBD WARNING - buffered, not yet flushed")
    sys.exit(1)

guarded_main("DRBD", check)
print("not reached")
"""
    proc = _python(code)
    assert (proc.returncode, proc.stdout) == (1, "DRBD WARNING - buffered, not yet flushed")
    assert marker.read_text() == "closed"


def test_help_is_wrapped_like_argparse_does_but_without_shutil():
    code = """
import argparse, sys
from kvmcluster.checks.drbd import build_parser
parser = build_parser()
ours = parser.format_help()
print("shutil loaded:", "shutil" in sys.modules)
parser.formatter_class = argparse.RawDescriptionHelpFormatter
print("same as argparse:", ours == parser.format_help())
print(ours)
"""
    narrow, wide = _python(code, COLUMNS="60").stdout, _python(code, COLUMNS="120").stdout
    for out in (narrow, wide):
        assert out.startswith("shutil loaded: False\nsame as argparse: True\n")
    assert narrow.count("\n") > wide.count("\n")  # the width is followed


def test_nagiosplugin_still_formats_exceptions_with_the_real_traceback():
    code = """
from kvmcluster.runtime.np import nagiosplugin

class Boom(nagiosplugin.Resource):
    def probe(self):
        return 1 / 0

@nagiosplugin.guarded
def main():
    nagiosplugin.Check(Boom()).main(verbose=1)

main()
"""
    proc = _python(code)
    assert proc.returncode == 3
    lines = proc.stdout.splitlines()
    assert lines[0] == "BOOM UNKNOWN: ZeroDivisionError: division by zero"
    assert lines[1] == "Traceback (most recent call last):"
