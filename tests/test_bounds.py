"""Everything is bounded: a tool's output (16 MiB stdout, 1 MiB stderr), an input file
(64 MiB), the time (-t, also when a process the tool started left its process group and keeps
the pipes open), and -t itself (1 to 86400 seconds, everywhere)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kvmcluster.errors import SourceError
from kvmcluster.runtime import command
from kvmcluster.runtime.command import MAX_STDERR, MAX_STDOUT, run_command
from kvmcluster.sources.files import MAX_INPUT_BYTES, read_text
from tests.plugin_runner import REPO, fixture, plugin_command, run_plugin

PLUGINS = [
    "check_drbd",
    "check_cluster",
    "check_cluster_services",
    "check_cluster_daemons",
    "check_vm_alloc",
    "check_cluster_lvm",
]
# every tool a plugin or kvmcluster status may run on this node
TOOLS = [
    "cman_tool",
    "clustat",
    "crm_mon",
    "corosync-quorumtool",
    "cibadmin",
    "drbdsetup",
    "vgs",
    "pvs",
    "lvs",
    "lvmconfig",
    "lvm",
    "systemctl",
]


# --- output caps ------------------------------------------------------------------------------


def test_a_tool_printing_200_mb_is_killed_at_the_stdout_cap_in_bounded_memory():
    code = (
        "import resource, time\n"
        "from kvmcluster.runtime.command import run_command\n"
        "from kvmcluster.errors import SourceError\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    run_command(['sh', '-c', 'head -c 200000000 /dev/zero'])\n"
        "except SourceError as error:\n"
        "    print(error)\n"
        "print(time.monotonic() - started)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    message, elapsed, rss_kib = proc.stdout.splitlines()
    assert message == (
        "sh -c head -c 200000000 /dev/zero printed more than 16 MiB on stdout "
        "(the cap on a tool's output) and was killed"
    )
    assert float(elapsed) < 5
    assert int(rss_kib) < 120 * 1024, f"peak RSS {int(rss_kib) // 1024} MiB"


def test_stderr_has_its_own_smaller_cap():
    with pytest.raises(SourceError, match=r"printed more than 1 MiB on stderr .* was killed$"):
        run_command(["sh", "-c", f"head -c {MAX_STDERR + 1} /dev/zero >&2"])


def test_output_up_to_the_caps_is_read_whole():
    result = run_command(
        ["sh", "-c", f"head -c {MAX_STDOUT} /dev/zero; head -c {MAX_STDERR} /dev/zero >&2"]
    )
    assert (len(result.stdout), len(result.stderr)) == (MAX_STDOUT, MAX_STDERR)


def test_an_input_file_over_the_cap_is_refused_naming_it(tmp_path):
    big = tmp_path / "proc-drbd.txt"
    with open(big, "wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)  # sparse: nothing written to disk
    with pytest.raises(SourceError, match=r"larger than 64 MiB, refused$"):
        read_text(str(big), "--proc-file")
    run = run_plugin("check_drbd", "--proc-file", str(big))
    assert run.returncode == 3 and run.stdout.count("\n") == 1
    assert "larger than 64 MiB" in run.first_line


# --- time: a grandchild that escaped the process group ---------------------------------------


def escaping_tool(bin_dir: Path, pids: Path) -> None:
    """Stubs of every tool: each leaves a `setsid sleep 30` behind that holds stdout and
    stderr open, then exits. Their PIDs go to `pids` so the test can stop them."""
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "escaping-tool"
    stub.write_text(f"#!/bin/sh\nsetsid sleep 30 &\necho $! >> {pids}\nexit 0\n")
    stub.chmod(0o755)
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(stub)


@pytest.fixture
def escaped(tmp_path):
    """(env, pids file); the escaped sleeps are killed by PID afterwards."""
    pids = tmp_path / "pids"
    escaping_tool(tmp_path / "bin", pids)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "KVMCLUSTER_TOOL_PATH": ""}
    yield env, pids
    for line in pids.read_text().split() if pids.exists() else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line), signal.SIGKILL)


def test_run_command_does_not_wait_for_a_pipe_held_by_an_escaped_grandchild(escaped):
    env, pids = escaped
    tool = env["PATH"].split(":")[0] + "/crm_mon"
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"did not answer within 1.0s and was killed$"):
        run_command([tool], timeout=1)
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, f"took {elapsed:.2f}s"
    assert pids.read_text().strip()  # the grandchild was there, holding the pipe


@pytest.mark.parametrize(
    "plugin, args",
    [
        ("check_cluster", ["--stack", "pacemaker"]),
        ("check_cluster_services", ["--stack", "pacemaker"]),
        ("check_cluster_lvm", []),
    ],
)
def test_a_plugin_ends_within_t_plus_1s_past_an_escaped_grandchild(escaped, plugin, args):
    env, _ = escaped
    started = time.monotonic()
    run = run_plugin(plugin, *args, "-t", "2", env=env, timeout=30)
    elapsed = time.monotonic() - started
    assert run.returncode == 3 and len(run.stdout.splitlines()) == 1, run.stdout
    assert "did not answer within 1.5s and was killed" in run.first_line
    assert elapsed < 2 + 1, f"took {elapsed:.2f}s"


def test_status_ends_within_t_plus_1s_when_every_tool_leaves_a_grandchild(escaped):
    env, _ = escaped
    started = time.monotonic()
    run = run_plugin("kvmcluster", "status", "-t", "2", env=env, timeout=60)
    elapsed = time.monotonic() - started
    assert elapsed < 2 + 1, f"took {elapsed:.2f}s"
    assert run.returncode in (2, 3)
    assert "did not answer within 1.5s and was killed" in run.stdout
    assert "the -t budget of 2s is spent" in run.stdout  # later tools are not started at all


def test_no_command_starts_once_the_budget_is_spent():
    deadline = command.Deadline(5)
    deadline.end = time.monotonic() - 1
    with pytest.raises(SourceError, match=r"^true: not run, the -t budget of 5s is spent$"):
        run_command(["true"], deadline=deadline)


# --- -t > 0 everywhere ------------------------------------------------------------------------

BAD_TIMEOUTS = ["0", "-5", "nan", "inf", "1e9", "99999999"]


@pytest.mark.parametrize("value", BAD_TIMEOUTS)
@pytest.mark.parametrize("plugin", PLUGINS)
def test_plugins_refuse_a_timeout_that_is_not_1_to_86400(plugin, value):
    run = run_plugin(plugin, "-t", value)
    assert run.returncode == 3 and len(run.stdout.splitlines()) == 1
    assert run.first_line.startswith(f"{run.first_line.split()[0]} UNKNOWN - bad arguments: ")
    assert "-t/--timeout" in run.first_line


@pytest.mark.parametrize("value", BAD_TIMEOUTS)
@pytest.mark.parametrize(
    "subcommand",
    [
        ["status", "--from", str(REPO / "examples" / "captures" / "healthy")],
        ["collect", "--output", "/nonexistent/x.tar.gz"],
        ["lint", "--hosts", fixture("etc-hosts_seed.txt")],
    ],
    ids=["status", "collect", "lint"],
)
def test_kvmcluster_refuses_a_timeout_that_is_not_1_to_86400(subcommand, value):
    run = run_plugin("kvmcluster", *subcommand, "-t", value)
    assert run.returncode == 3
    out = run.stdout if subcommand[0] == "lint" else run.stderr
    assert len(out.splitlines()) == 1 and "argument -t/--timeout" in out, out
    if subcommand[0] == "lint":
        assert out.startswith("LINT UNKNOWN - bad arguments: ")
    else:
        assert run.stdout == ""


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_status_watch_needs_a_positive_finite_interval(value):
    run = run_plugin("kvmcluster", "status", "--watch", value, "--from", "x")
    assert run.returncode == 3 and "argument --watch" in run.stderr
    assert len(run.stderr.splitlines()) == 1


def test_every_watch_refresh_gets_the_whole_budget_again(tmp_path):
    """--watch on the live node: the -t budget is per refresh, not spent after the first."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:  # answer at once, with nothing
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "KVMCLUSTER_TOOL_PATH": ""}
    proc = subprocess.Popen(
        [*plugin_command("kvmcluster"), "status", "--watch", "2", "-t", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert out.count("kvmcluster status:") >= 2, out + err
    assert "budget" not in out, out
