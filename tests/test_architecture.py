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
