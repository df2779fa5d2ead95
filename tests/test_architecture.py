"""Issue 16: the node and the deadline are handed to every source (no process-wide state), so
`status --watch` keeps answering and every read of a check goes through the node it checks."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from pathlib import Path

from tests.plugin_runner import fixture, plugin_command, run_plugin

SLOW = 0.3  # seconds each stub tool takes


def slow_tools(directory: Path) -> dict[str, str]:
    """cman_tool and clustat stubs that answer a real capture after SLOW seconds, first in
    PATH; everything else (crm_mon, drbdsetup, lvm ...) is not found."""
    directory.mkdir()
    answers = {
        "cman_tool": (
            f'case "$1" in status) cat {fixture("cman-tool-status_quorate-two-node.txt")};; '
            f"nodes) cat {fixture('cman-tool-nodes_both-members.txt')};; esac"
        ),
        "clustat": f"cat {fixture('clustat-x_411-all-started.xml')}",
    }
    for name, body in answers.items():
        tool = directory / name
        tool.write_text(f"#!/bin/sh\nsleep {SLOW}\n{body}\n")
        tool.chmod(0o755)
    return {"PATH": f"{directory}:/usr/bin:/bin", "KVMCLUSTER_TOOL_PATH": str(directory)}


def watch_screens(env: dict[str, str], count: int, *args: str) -> list[str]:
    """The first `count` screens of `kvmcluster status --watch ...`; then the command is
    stopped (by its PID, which this test started)."""
    proc = subprocess.Popen(
        [*plugin_command("kvmcluster"), "status", "--no-color", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
        start_new_session=True,
    )
    screens: list[str] = []
    text = b""
    limit = time.monotonic() + 20 + count * 5
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while len(screens) < count and time.monotonic() < limit:
                if not selector.select(0.5):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                text += chunk
                parts = text.decode(errors="replace").split("kvmcluster status: ")
                screens = parts[1:-1]  # the last one may still be written
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        proc.stdout.close()
    return screens


def test_status_watch_keeps_answering_with_a_fresh_budget_every_refresh(tmp_path):
    env = slow_tools(tmp_path / "bin")
    screens = watch_screens(env, 4, "--watch", "2", "-t", "2")
    assert len(screens) == 4, screens
    for screen in screens:
        quorum = next(line for line in screen.splitlines() if line.startswith("Quorum"))
        assert " OK " in quorum and "2 of 2 nodes online" in quorum, screen
        services = next(line for line in screen.splitlines() if line.startswith("Cluster serv"))
        assert " OK " in services and "2 services OK" in services, screen
        assert "budget" not in screen and "did not answer" not in screen, screen


def test_status_once_reads_the_slow_tools_within_the_budget(tmp_path):
    env = slow_tools(tmp_path / "bin")
    run = run_plugin("kvmcluster", "status", "--no-color", "-t", "2", env=env)
    assert "budget" not in run.stdout and "did not answer" not in run.stdout, run


def test_check_vm_alloc_reads_a_cib_from_standard_input_without_crm_mon_file():
    cib = Path(fixture("cib_seed-healthy.xml")).read_text()
    with_stdin = run_plugin(
        "check_vm_alloc", "--cib-file", "-", "--libvirt", "n=test:///default", stdin=cib
    )
    with_file = run_plugin(
        "check_vm_alloc",
        "--cib-file",
        fixture("cib_seed-healthy.xml"),
        "--libvirt",
        "n=test:///default",
    )
    assert "abspath" not in with_stdin.stdout and "No such file" not in with_stdin.stdout
    assert with_stdin.returncode == with_file.returncode, (with_stdin, with_file)
    assert with_stdin.first_line == with_file.first_line.replace(
        fixture("cib_seed-healthy.xml"), "-"
    ), (with_stdin, with_file)


# --- findings carry facts: kinds and fix, advice chosen from kinds ---------------------------

CAPTURES = Path(__file__).parent.parent / "examples" / "captures"


def test_verbose_line_of_a_resource_not_up_names_it_then_the_fix():
    run = run_plugin(
        "check_drbd",
        "--proc-file",
        fixture("proc-drbd_80-ok.txt"),
        "--drbd-conf",
        fixture("etc-drbd-conf_seed-84.conf"),
        "-v",
    )
    assert run.returncode == 2, run
    assert "CRITICAL: drbd1: configured but not up => drbdadm up drbd1" in run.lines, run
    assert run.first_line.startswith("DRBD CRITICAL - drbd1 configured but not up"), run


def test_rules_give_stable_kinds_and_the_fix_as_its_own_field():
    from kvmcluster.model.drbd import ConfiguredResource
    from kvmcluster.parsers.drbd_proc import parse_proc_drbd
    from kvmcluster.rules.drbd import DrbdPolicy, evaluate

    text = Path(fixture("proc-drbd_84-standalone-split-brain.txt")).read_text()
    status = parse_proc_drbd(text, "proc")
    report = evaluate(status, DrbdPolicy(), [ConfiguredResource("r9", [9])])
    by_item = {f.item: f for f in report.findings}
    standalone = [f for f in report.findings if "drbd-standalone" in f.kinds]
    assert standalone and all("StandAlone" in " ".join(f.problems) for f in standalone)
    assert by_item["r9"].kinds == ("drbd-not-up",) and by_item["r9"].fix == "drbdadm up r9"


def test_status_advice_is_chosen_from_kinds_never_from_text():
    from kvmcluster.model.findings import Finding, Report, State
    from kvmcluster.model.record import replace
    from kvmcluster.status import advice

    looks_like = Finding("r0", State.CRITICAL, ("StandAlone (possible split brain)",))
    assert advice("drbd", Report(findings=[looks_like])) == []
    kinded = Finding("r0", State.CRITICAL, ("lost its peer",), kinds=("drbd-standalone",))
    tips = advice("drbd", Report(findings=[kinded]))
    assert tips[0].startswith("# split brain on r0: this node is the victim")
    assert "drbdadm secondary r0" in tips
    twice = Finding("vm1", State.CRITICAL, ("twice",), kinds=("vm-active-twice",), fix="stop it")
    assert advice("vm_alloc", Report(findings=[twice]))[0].startswith("# vm1 runs on")
    assert advice("vm_alloc", Report(findings=[replace(twice, kinds=())])) == []


def _libvirt_files(node05: list[str], node06: list[str]) -> dict[str, str]:
    return {
        "libvirt-node05.c01.cloud.agarik.com.xml": "<node>" + "".join(node05) + "</node>",
        "libvirt-node06.c01.cloud.agarik.com.xml": "<node>" + "".join(node06) + "</node>",
    }


def test_status_tells_which_copy_of_a_vm_running_twice_to_destroy(tmp_path):
    import shutil

    from tests.libvirt_nodes import VM200, vm199, vm200

    capture = tmp_path / "twice"
    shutil.copytree(CAPTURES / "healthy", capture)
    for name, text in _libvirt_files([vm200(), vm199("shutoff")], [vm199(), vm200()]).items():
        (capture / name).write_text(text)
    run = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    assert run.returncode == 2, run
    screen = run.stdout.splitlines()
    start = screen.index(
        f"    next: # {VM200} runs on node05.c01.cloud.agarik.com, node06.c01.cloud.agarik.com "
        "at once; the cluster owns the copy on node05.c01.cloud.agarik.com: stop the others now"
    )
    assert screen[start + 1 : start + 3] == [
        "          # on node06.c01.cloud.agarik.com",
        f"          virsh destroy {VM200}",
    ], run.stdout
    assert any("fsck" in line for line in screen[start:]), run.stdout


# --- the worst state: CRITICAL ranks above UNKNOWN -------------------------------------------


def test_a_plugin_with_a_critical_and_an_unknown_finding_is_critical(tmp_path):
    from tests.libvirt_nodes import VM200, hypervisor, vm199, vm200

    uri05 = hypervisor(tmp_path, "node05", vm200(), vm199("shutoff"))
    uri06 = hypervisor(tmp_path, "node06", vm199(), vm200())
    run = run_plugin(
        "check_vm_alloc",
        "--cluster-conf",
        fixture("cluster-conf_seed-fixed.conf"),
        "--clustat-file",
        fixture("clustat-x_411-all-started.xml"),
        "--libvirt",
        f"node05.c01.cloud.agarik.com={uri05}",
        "--libvirt",
        f"node06.c01.cloud.agarik.com={uri06}",
        "--libvirt",
        f"node07=test://{tmp_path}/no-such-node.xml",
        "-v",
    )
    assert run.returncode == 2, run
    assert run.first_line.startswith(f"VM_ALLOC CRITICAL - {VM200} running on node05"), run
    assert any(line.startswith("UNKNOWN: libvirt of node07") for line in run.lines), run


def test_status_with_a_critical_and_an_unknown_area_is_critical(tmp_path):
    import shutil

    capture = tmp_path / "mixed"
    shutil.copytree(CAPTURES / "split-brain", capture)
    (capture / "pvs.txt").write_text("not what pvs prints\n")
    run = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    assert run.returncode == 2, run
    assert run.stdout.startswith("kvmcluster status: CRITICAL"), run
    lvm = next(line for line in run.stdout.splitlines() if line.startswith("LVM on DRBD"))
    assert "UNKNOWN" in lvm, run.stdout


# --- the tests run the working tree -----------------------------------------------------------


def test_plugins_under_test_import_the_working_tree_not_an_installed_copy():
    from tests.plugin_runner import REPO, plugin_env

    script = plugin_command("check_drbd")[0]
    interpreter = Path(script).read_text().splitlines()[0].removeprefix("#!").split()
    probe = "import kvmcluster, kvmcluster.checks.drbd as m; print(m.__file__)"
    done = subprocess.run(
        [*interpreter, "-c", probe], capture_output=True, text=True, env=plugin_env(), cwd="/"
    )
    assert done.stdout.strip() == str(REPO / "kvmcluster" / "checks" / "drbd.py"), done
