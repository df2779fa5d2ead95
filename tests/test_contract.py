"""The contract of every front end, as Icinga, cron and a shell pipe see it: a bad option is
one line and exit 3; a closed stdout (`>&-`) or a closed pipe (`| head -0`) ends without a
traceback, with the state's code or 3; `kvmcluster lint` answers an empty file with a
finding; the tools run from the same search path they are detected in."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.libvirt_nodes import VM199, VM200, domain, hypervisor
from tests.plugin_runner import REPO, fixture, plugin_command, run_plugin

HEALTHY = str(REPO / "examples" / "captures" / "healthy")
SPLIT = str(REPO / "examples" / "captures" / "split-brain")


def plugin_runs(tmp_path: Path) -> dict[str, list[str]]:
    """Each plugin with captured inputs, -v so that there is plenty to write."""
    uri05 = hypervisor(tmp_path, "node05", domain(VM200, 1))
    uri06 = hypervisor(tmp_path, "node06", domain(VM199, 2))
    return {
        "check_drbd": ["--proc-file", fixture("proc-drbd_84-standalone-split-brain.txt")],
        "check_cluster": ["--crm-mon-file", fixture("crm-mon_seed-node06-down.xml")],
        "check_cluster_services": ["--clustat-file", fixture("clustat-x_411-all-started.xml")],
        "check_cluster_daemons": ["--ps-file", fixture("ps_rhcs-node-all-running.txt")],
        "check_vm_alloc": [
            "--cluster-conf",
            fixture("cluster-conf_seed-fixed.conf"),
            "--clustat-file",
            fixture("clustat-x_411-all-started.xml"),
            "--libvirt",
            f"node05.c01.cloud.agarik.com={uri05}",
            "--libvirt",
            f"node06.c01.cloud.agarik.com={uri06}",
        ],
        "check_cluster_lvm": [
            "--vgs-file",
            fixture("vgs_rhel6-clustered-on-drbd.txt"),
            "--pvs-file",
            fixture("pvs_rhel6-clustered-on-drbd.txt"),
        ],
    }


KVMCLUSTER_RUNS = {
    "status": ["status", "-v", "--from", SPLIT],
    "status-json": ["status", "--json", "--from", SPLIT],
    "lint": ["lint", "--cluster-conf", fixture("cluster-conf_seed-as-is.conf")],
}


def all_runs(tmp_path: Path) -> list[tuple[list[str], list[str]]]:
    runs = [(plugin_command(p), [*args, "-v"]) for p, args in plugin_runs(tmp_path).items()]
    runs += [(plugin_command("kvmcluster"), args) for args in KVMCLUSTER_RUNS.values()]
    return runs


RUN_IDS = ["drbd", "cluster", "services", "daemons", "vm_alloc", "lvm", *KVMCLUSTER_RUNS]


def run_with_stdout(command: list[str], stdout) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, timeout=60
    )


@pytest.mark.parametrize("index", range(len(RUN_IDS)), ids=RUN_IDS)
def test_closed_stdout_ends_with_the_states_code_and_no_traceback(tmp_path, index):
    program, args = all_runs(tmp_path)[index]
    normal = run_with_stdout([*program, *args], subprocess.PIPE)
    closed = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *program, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert closed.stderr == b"", closed.stderr.decode()
    assert closed.returncode == normal.returncode
    assert 0 <= normal.returncode <= 3


@pytest.mark.parametrize("index", range(len(RUN_IDS)), ids=RUN_IDS)
def test_a_closed_pipe_on_stdout_ends_with_exit_0_to_3_and_no_traceback(tmp_path, index):
    """`| head -0`: the reading end is gone before the first write."""
    program, args = all_runs(tmp_path)[index]
    normal = run_with_stdout([*program, *args], subprocess.PIPE)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        gone = run_with_stdout([*program, *args], write_end)
    finally:
        os.close(write_end)
    assert gone.stderr == b"", gone.stderr.decode()
    assert gone.returncode in (normal.returncode, 3)


def test_closed_stdin_with_standard_input_as_the_input_is_one_unknown_line():
    run = subprocess.run(
        ["sh", "-c", 'exec "$@" <&-', "sh", *plugin_command("check_drbd"), "--proc-file", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3 and run.stderr == ""
    assert run.stdout.startswith("DRBD UNKNOWN - ") and run.stdout.count("\n") == 1


# --- bad options --------------------------------------------------------------------------------

PLUGINS = {
    "check_drbd": "DRBD",
    "check_cluster": "CLUSTER",
    "check_cluster_services": "SERVICES",
    "check_cluster_daemons": "DAEMONS",
    "check_vm_alloc": "VM_ALLOC",
    "check_cluster_lvm": "LVM",
}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_plugin_answers_a_mistyped_option_with_one_unknown_line(plugin):
    run = run_plugin(plugin, "--verbsoe")
    assert run.returncode == 3 and run.stderr == ""
    assert run.stdout.startswith(f"{PLUGINS[plugin]} UNKNOWN - bad arguments: ")
    assert run.stdout.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "a", "b"],
        ["generate"],
        ["import", "--cluster-conf"],
        ["status", "--frmo", HEALTHY],
        ["collect", "--outptu", "x"],
        ["bogus"],
        [],
    ],
    ids=["demo", "generate", "import", "status", "collect", "unknown-command", "no-command"],
)
def test_kvmcluster_answers_bad_arguments_with_one_line_and_exit_3(args):
    run = run_plugin("kvmcluster", *args)
    assert run.returncode == 3 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "usage:" not in run.stderr
    command = args[0] if args and args[0] != "bogus" else ""
    prog = f"kvmcluster {command}" if command else "kvmcluster"
    assert run.stderr.startswith(f"{prog}: bad arguments: ")


@pytest.mark.parametrize(
    "args",
    [["--clustr-conf", "x"], ["--cluster-conf"], ["-t", "x", "--hosts", "/etc/hosts"]],
    ids=["mistyped", "missing-value", "bad-timeout"],
)
def test_lint_as_a_check_answers_bad_arguments_on_stdout_with_unknown(args):
    run = run_plugin("kvmcluster", "lint", *args)
    assert run.returncode == 3 and run.stderr == ""
    assert run.stdout.startswith("LINT UNKNOWN - bad arguments: ")
    assert run.stdout.count("\n") == 1


# --- lint on empty and unreadable files ---------------------------------------------------------


@pytest.mark.parametrize(
    "option, what",
    [
        ("--cluster-conf", "cluster.conf"),
        ("--drbd-conf", "drbd.conf"),
        ("--hosts", "hosts file"),
        ("--corosync-conf", "corosync.conf"),
        ("--lvm-conf", "lvm.conf"),
    ],
)
@pytest.mark.parametrize("content", ["", " \n\n"], ids=["empty", "blank"])
def test_lint_reports_an_empty_file_as_an_error_finding(tmp_path, option, what, content):
    path = tmp_path / "empty.conf"
    path.write_text(content)
    run = run_plugin("kvmcluster", "lint", option, str(path))
    assert run.returncode == 2 and run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines == [
        f"LINT CRITICAL - 1 error(s), 0 warning(s) in empty.conf: {what} is empty (truncated?)",
        f"{path}: error: {what} is empty (truncated?)",
    ]


def test_lint_of_an_unreadable_file_is_one_unknown_line(tmp_path):
    run = run_plugin("kvmcluster", "lint", "--cluster-conf", str(tmp_path))
    assert run.returncode == 3 and run.stderr == ""
    assert run.stdout == f"LINT UNKNOWN - cluster.conf {tmp_path}: is a directory\n"


# --- one search path for detection and execution --------------------------------------------------


def stub(directory: Path, name: str, fixture_name: str) -> None:
    directory.mkdir(exist_ok=True)
    tool = directory / name
    tool.write_text(f"#!/bin/sh\nexec /bin/cat {fixture(fixture_name)}\n")
    tool.chmod(0o755)


def test_a_tool_outside_path_but_in_the_tool_dirs_is_found_and_run(tmp_path):
    """cron, Icinga and NRPE run with PATH=/usr/bin:/bin; the cluster tools live in /usr/sbin.
    Stand-ins in a directory of the test, given as the tool directories, play /usr/sbin."""
    sbin = tmp_path / "sbin"
    stub(sbin, "crm_mon", "crm-mon_seed-healthy.xml")
    stub(sbin, "cibadmin", "cib_seed-healthy.xml")
    env = {"PATH": "/usr/bin:/bin", "KVMCLUSTER_TOOL_PATH": str(sbin)}
    run = run_plugin("check_cluster_services", "--stack", "pacemaker", env=env)
    files = run_plugin(
        "check_cluster_services",
        "--crm-mon-file",
        fixture("crm-mon_seed-healthy.xml"),
        "--cib-file",
        fixture("cib_seed-healthy.xml"),
    )
    assert "not found" not in run.stdout
    assert (run.returncode, run.first_line) == (files.returncode, files.first_line)
    missing = run_plugin("check_cluster_services", "--stack", "pacemaker", env={**env, "PATH": ""})
    assert missing.first_line == files.first_line  # found after an empty PATH too
    nowhere = {"PATH": "/usr/bin:/bin", "KVMCLUSTER_TOOL_PATH": ""}
    gone = run_plugin("check_cluster_services", "--stack", "pacemaker", env=nowhere)
    assert gone.returncode == 3 and "crm_mon not found" in gone.first_line


@pytest.mark.skipif(not Path("/usr/sbin/crm_mon").exists(), reason="needs crm_mon in /usr/sbin")
def test_the_real_crm_mon_in_usr_sbin_runs_with_path_usr_bin_bin():
    run = run_plugin(
        "check_cluster_services", "--stack", "pacemaker", env={"PATH": "/usr/bin:/bin"}
    )
    assert "crm_mon not found" not in run.stdout
    assert run.first_line.startswith("SERVICES ")


def test_search_path_is_path_then_the_tool_dirs_absolute_only(monkeypatch, tmp_path):
    from kvmcluster.runtime.command import find_tool, search_path

    monkeypatch.setenv("PATH", f"/usr/bin::relative:{tmp_path}:/usr/bin")
    monkeypatch.delenv("KVMCLUSTER_TOOL_PATH", raising=False)
    assert search_path() == ["/usr/bin", str(tmp_path), "/usr/sbin", "/sbin"]
    (tmp_path / "not-executable").write_text("x")
    assert find_tool("not-executable") == str(tmp_path / "not-executable")
    assert find_tool("no-such-tool-here") is None
    assert find_tool("./x") == "./x"
