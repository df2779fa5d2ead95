"""Robustness: every parser either parses or raises the project's ParseError on truncated,
mutated and random variants of every fixture; every plugin answers bad input with exit 3 and
one line, hung commands are killed within -t, huge and binary inputs are refused cleanly."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvmcluster.errors import KvmclusterError, ParseError
from kvmcluster.parsers import (
    cfgtool,
    clustat,
    cluster_conf,
    cman,
    cman_groups,
    corosync_conf,
    crm_mon,
    drbd_events,
    drbd_json,
    drbd_proc,
    drbd_status,
    hosts,
    lvm,
    ps,
    quorumtool,
)
from kvmcluster.parsers import cib as cib_parser
from kvmcluster.parsers.drbd_conf import parse_drbd_conf_text
from tests.plugin_runner import FIXTURES, fixture, plugin_command, run_plugin

PARSERS = {
    "proc-drbd_": drbd_proc.parse_proc_drbd,
    "drbdsetup-status-json_": drbd_json.parse_status_json,
    "drbdsetup-events2_": drbd_events.parse_events2,
    "etc-drbd-conf_": lambda text: parse_drbd_conf_text(text, "drbd.conf"),
    "cman-tool-status_": cman.parse_cman_status,
    "cman-tool-nodes_": cman.parse_cman_nodes,
    "clustat-x_": clustat.parse_clustat,
    "corosync-quorumtool_": quorumtool.parse_quorumtool,
    "corosync-cfgtool_": cfgtool.parse_cfgtool,
    "crm-mon_": crm_mon.parse_crm_mon,
    "cib_": lambda text: (cib_parser.parse_cib_constraints(text), cib_parser.parse_cib_vms(text)),
    "ps_": ps.parse_ps,
    "proc-uptime_": ps.parse_uptime,
    "vgs_": lvm.parse_vgs,
    "pvs_": lvm.parse_pvs,
    "lvs_": lvm.parse_lvs,
    "lvm-conf_": lvm.parse_lvm_config,
    "cluster-conf_": cluster_conf.parse_cluster_conf,
    "etc-hosts_": hosts.parse_hosts,
    "cman-tool-status-nodes_": cman.parse_cman_status,
    "fence-tool-ls_": cman_groups.parse_groups,
    "fence-tool-ls-n_": cman_groups.parse_groups,
    "dlm-tool-ls_": cman_groups.parse_groups,
    "group-tool-ls_": cman_groups.parse_groups,
    "group-tool-ls-g1_": cman_groups.parse_groups,
    "drbdadm-status_": drbd_status.parse_status_text,
    "drbdsetup-status-verbose-statistics_": drbd_status.parse_status_text,
}
CASES = sorted(
    (prefix, path.name)
    for path in FIXTURES.iterdir()
    if path.is_file()
    for prefix in PARSERS
    if path.name.startswith(prefix)
)


SCALE = int(os.environ.get("ROBUSTNESS_SCALE", "1"))  # see tests/conftest.py


def parse_or_parse_error(prefix: str, text: str) -> None:
    with contextlib.suppress(ParseError):
        PARSERS[prefix](text)


def test_every_fixture_family_has_a_parser_under_test():
    covered = {name for _, name in CASES}
    parsed_kinds = [
        p
        for p in FIXTURES.iterdir()
        if p.is_file() and p.name not in covered and p.name != "SOURCES.md"
    ]
    assert not parsed_kinds, f"fixtures without a robustness test: {parsed_kinds}"


@pytest.mark.parametrize("prefix, name", CASES)
@settings(
    max_examples=40 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_parsers_survive_truncated_and_mutated_fixtures(prefix, name, data):
    text = (FIXTURES / name).read_text()
    cut = data.draw(st.integers(min_value=0, max_value=len(text)), label="cut")
    parse_or_parse_error(prefix, text[:cut])
    if text:
        position = data.draw(st.integers(min_value=0, max_value=len(text) - 1), label="at")
        junk = data.draw(st.text(min_size=1, max_size=8), label="junk")
        parse_or_parse_error(prefix, text[:position] + junk + text[position + 1 :])
        line_drop = data.draw(st.integers(min_value=0, max_value=text.count("\n")), label="line")
        lines = text.splitlines(keepends=True)
        parse_or_parse_error(prefix, "".join(lines[:line_drop] + lines[line_drop + 1 :]))


@pytest.mark.parametrize("prefix", sorted(PARSERS))
@settings(max_examples=60 * SCALE, deadline=None)
@given(text=st.text(max_size=300))
def test_parsers_survive_random_text(prefix, text):
    parse_or_parse_error(prefix, text)


def test_corosync_conf_parser_survives_random_text():
    @settings(max_examples=100 * SCALE, deadline=None)
    @given(text=st.text(alphabet="{}:#\n abc", max_size=200))
    def check(text):
        with contextlib.suppress(ParseError):
            corosync_conf.parse_corosync_conf(text)

    check()


# --- plugins on bad input -------------------------------------------------------------------

PLUGIN_INPUTS = [
    ("check_drbd", "--proc-file", "proc-drbd_84-sync-target.txt"),
    ("check_drbd", "--json-file", "drbdsetup-status-json_9-ok.json"),
    ("check_drbd", "--events-file", "drbdsetup-events2_9-ok.txt"),
    ("check_cluster", "--cman-status-file", "cman-tool-status_quorate-two-node.txt"),
    ("check_cluster", "--clustat-file", "clustat-x_411-all-started.xml"),
    ("check_cluster", "--quorumtool-file", "corosync-quorumtool_3-quorate.txt"),
    ("check_cluster_services", "--crm-mon-file", "crm-mon_seed-healthy.xml"),
    ("check_cluster_daemons", "--ps-file", "ps_rhcs-node-all-running.txt"),
    ("check_cluster_lvm", "--vgs-file", "vgs_rhel6-clustered-on-drbd.txt"),
]


def mutations(text: str) -> dict[str, bytes]:
    data = text.encode()
    third = len(data) // 3
    return {
        "empty": b"",
        "truncated": data[:third],
        "binary": bytes(range(256)) * 4,
        "non-utf8": data[:third] + b"\xff\xfe\xc3\x28" + data[third:],
        "doubled": data + data,
        "garbage": b"{{{{ <<< ]]] ::: \x00\x01 \n" * 20,
    }


@pytest.mark.parametrize("plugin, option, name", PLUGIN_INPUTS)
def test_plugins_on_mutated_input_exit_0_to_3_with_one_line(tmp_path, plugin, option, name):
    extra = []
    if plugin == "check_cluster_lvm":
        extra = ["--pvs-file", fixture("pvs_rhel6-clustered-on-drbd.txt")]
    for label, data in mutations(Path(fixture(name)).read_text()).items():
        path = tmp_path / f"{label}-{name}"
        path.write_bytes(data)
        run = run_plugin(plugin, option, str(path), *extra)  # asserts no traceback, exit 0-3
        if run.returncode == 3:
            assert len(run.stdout.splitlines()) == 1, (label, run.stdout)
            assert str(path) in run.stdout or "no " in run.stdout, (label, run.stdout)


def test_huge_input_is_refused_with_bounded_memory(tmp_path):
    """Peak RSS is measured by GNU time: Linux carries the (large) pytest process's peak
    across fork and exec, so the wait4 of this process would report that instead."""
    big = tmp_path / "huge-proc-drbd.txt"
    with open(big, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    report = tmp_path / "rss"
    started = time.monotonic()
    proc = (
        subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                "-o",
                str(report),
                *plugin_command("check_drbd"),
                "--proc-file",
                str(big),
            ],
            capture_output=True,
            text=True,
        )
        if os.path.exists("/usr/bin/time")
        else None
    )
    if proc is None:
        pytest.skip("GNU time (package time) is needed to measure the peak RSS")
    assert proc.returncode == 3
    assert proc.stdout == f"DRBD UNKNOWN - --proc-file {big}: larger than 64 MiB, refused\n"
    peak_kib = int(report.read_text().split()[-1])
    assert peak_kib < 64 * 1024, f"peak RSS {peak_kib} KiB: the file must not be read"
    assert time.monotonic() - started < 10


# --- hung and missing commands --------------------------------------------------------------


def fake_tool(directory: Path, name: str, body: str) -> None:
    directory.mkdir(exist_ok=True)
    tool = directory / name
    tool.write_text("#!/bin/sh\n" + body)
    tool.chmod(0o755)


@pytest.mark.parametrize(
    "plugin, tool, args",
    [
        ("check_cluster_services", "clustat", ["--stack", "cman"]),
        ("check_cluster", "cman_tool", ["--stack", "cman"]),
        ("check_cluster", "corosync-quorumtool", ["--stack", "pacemaker"]),
        ("check_cluster_lvm", "vgs", []),
    ],
)
def test_hung_tool_is_killed_at_the_timeout_without_leftovers(tmp_path, plugin, tool, args):
    fake_tool(tmp_path / "bin", tool, "while :; do sleep 1; done\n")
    started = time.monotonic()
    run = run_plugin(plugin, *args, "-t", "2", env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"})
    elapsed = time.monotonic() - started
    assert run.returncode == 3
    assert "did not answer within" in run.first_line and "was killed" in run.first_line
    assert len(run.stdout.splitlines()) == 1
    assert elapsed < 3.5, f"answered after {elapsed:.1f}s"
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftover.stdout == ""


def test_hung_clustat_message_says_why(tmp_path):
    fake_tool(tmp_path / "bin", "clustat", "sleep 60\n")
    run = run_plugin(
        "check_cluster_services",
        "--stack",
        "cman",
        "-t",
        "1",
        env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"},
    )
    assert run.first_line.endswith("clustat hangs while the DLM is stuck or rgmanager is hung")


@pytest.mark.parametrize(
    "plugin, args, tool",
    [
        ("check_cluster", ["--stack", "cman"], "cman_tool"),
        ("check_cluster_services", ["--stack", "pacemaker"], "crm_mon"),
        ("check_cluster_lvm", [], "vgs"),
    ],
)
def test_missing_tool_is_unknown_naming_it(tmp_path, plugin, args, tool):
    (tmp_path / "empty").mkdir()
    # nothing in PATH, nothing searched after it (KVMCLUSTER_TOOL_PATH, default /usr/sbin:/sbin)
    env = {"PATH": str(tmp_path / "empty"), "KVMCLUSTER_TOOL_PATH": ""}
    run = run_plugin(plugin, *args, env=env)
    assert run.returncode == 3
    assert f"{tool} not found" in run.first_line


def test_tool_printing_nothing_is_unknown(tmp_path):
    fake_tool(tmp_path / "bin", "crm_mon", "exit 0\n")
    fake_tool(tmp_path / "bin", "corosync-quorumtool", "exit 0\n")
    run = run_plugin(
        "check_cluster", "--stack", "pacemaker", env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}
    )
    assert run.returncode == 3 and "cannot parse" in run.first_line


def test_errors_derive_from_the_project_error():
    assert issubclass(ParseError, KvmclusterError)
    assert shutil.which("sh")
