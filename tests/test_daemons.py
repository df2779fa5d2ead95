"""check_cluster_daemons: the ps parser, the rules on captured process lists, and the plugin on
this machine's real processes (throwaway processes named like the daemons)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kvmcluster.errors import ParseError
from kvmcluster.parsers.ps import parse_ps, parse_uptime
from tests.plugin_runner import fixture, run_plugin

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
UP_42_MIN = fixture("proc-uptime_42-minutes.txt")
UP_15_DAYS = fixture("proc-uptime_15-days.txt")


class TestPsParser:
    def test_daemons_kernel_threads_and_zombies(self):
        procs = {
            p.pid: p
            for p in parse_ps(Path(fixture("ps_rhcs-node-rgmanager-worker-zombie.txt")).read_text())
        }
        assert procs[1245].name == "dbus-daemon" and procs[1245].args == ["dbus-daemon", "--system"]
        assert procs[2].name == "kthreadd" and procs[2].args == []
        assert procs[2492].zombie and procs[2492].name == "rgmanager" and procs[2492].ppid == 2490
        assert procs[2302].name == "clvmd" and not procs[2302].zombie

    def test_absolute_paths_give_the_basename(self):
        procs = parse_ps(Path(fixture("ps_pacemaker-debian12-all-running.txt")).read_text())
        assert "pacemaker-schedulerd" in {p.name for p in procs}

    def test_header_line_is_accepted(self):
        procs = parse_ps("  PID  PPID STAT COMMAND\n    1     0 Ss   /sbin/init\n")
        assert [p.name for p in procs] == ["init"]

    @pytest.mark.parametrize("text", ["", "garbage\n", "  PID  PPID STAT COMMAND\n"])
    def test_bad_input(self, text):
        with pytest.raises(ParseError):
            parse_ps(text, "x")

    def test_uptime(self):
        assert parse_uptime("2520.17 4981.33\n") == 2520.17
        with pytest.raises(ParseError):
            parse_uptime("", "x")


CASES = [
    (
        "ps_rhcs-node-all-running.txt",
        [],
        OK,
        "DAEMONS OK - 10 of 10 daemons running (rhcs profile)",
    ),
    (
        "ps_rhcs-node-after-reboot.txt",
        ["--profile", "rhcs"],
        CRITICAL,
        "DAEMONS CRITICAL - cluster stack not started after the reboot (up 42m): "
        "service cman start; service clvmd start; service rgmanager start; service ricci start",
    ),
    (
        "ps_rhcs-node-fenced-dlm-dead.txt",
        [],
        CRITICAL,
        "DAEMONS CRITICAL - not running: fenced, dlm_controld; start with: service cman start",
    ),
    (
        "ps_rhcs-node-rgmanager-worker-zombie.txt",
        [],
        WARNING,
        "DAEMONS WARNING - rgmanager 1 of 2 processes (pid 2490), "
        "zombie process 2492 (parent 2490)",
    ),
    (
        "ps_rhcs-node-clvmd-twice.txt",
        [],
        WARNING,
        "DAEMONS WARNING - clvmd running 2 times (pids 2302,2877)",
    ),
    (
        "ps_rhcs-node-all-running.txt",
        ["--skip", "ricci", "--require", "multipathd"],
        CRITICAL,
        "DAEMONS CRITICAL - not running: multipathd; start with: service multipathd start",
    ),
    (
        "ps_rhcs-node-fenced-dlm-dead.txt",
        ["--skip", "cman"],
        OK,
        "DAEMONS OK - 6 of 6 daemons running (rhcs profile)",
    ),
    (
        "ps_pacemaker-debian12-all-running.txt",
        [],
        OK,
        "DAEMONS OK - 9 of 9 daemons running (pacemaker profile)",
    ),
    (
        "ps_pacemaker-11-rhel7-crmd-missing.txt",
        [],
        CRITICAL,
        "DAEMONS CRITICAL - not running: pacemaker-controld; start with: systemctl start pacemaker",
    ),
    (
        "ps_rhcs-node-after-reboot.txt",
        [],
        CRITICAL,  # no daemon of the stack runs, its traces say cman (test_wrong_format)
        "DAEMONS CRITICAL - cluster stack not started after the reboot (up 42m): service cman",
    ),
]


@pytest.mark.parametrize("name, extra, code, first", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_captured_process_lists(name, extra, code, first):
    run = run_plugin(
        "check_cluster_daemons", "--ps-file", fixture(name), "--uptime-file", UP_42_MIN, *extra
    )
    assert run.returncode == code, run.stdout
    assert run.first_line.startswith(first), run.stdout


def test_stack_down_long_after_boot_is_not_blamed_on_a_reboot():
    run = run_plugin(
        "check_cluster_daemons",
        "--profile",
        "rhcs",
        "--ps-file",
        fixture("ps_rhcs-node-after-reboot.txt"),
        "--uptime-file",
        UP_15_DAYS,
    )
    assert run.first_line.startswith("DAEMONS CRITICAL - cluster stack not running (up 15d 0h): ")


def test_log_readers_and_editors_do_not_count_as_daemons():
    # all-running has `tail -f /var/log/cluster/rgmanager.log` and `vim .../cluster.conf`
    run = run_plugin(
        "check_cluster_daemons", "-v", "--ps-file", fixture("ps_rhcs-node-all-running.txt")
    )
    assert "OK: rgmanager (rgmanager): pid 2490,2492" in run.lines


def test_perfdata_counts_daemons():
    run = run_plugin(
        "check_cluster_daemons",
        "--ps-file",
        fixture("ps_rhcs-node-fenced-dlm-dead.txt"),
        "--uptime-file",
        UP_42_MIN,
    )
    assert (run.perf("expected"), run.perf("running"), run.perf("missing")) == (9, 7, 2)
    assert run.perf("uptime") == 2520


# --- live: real processes on this machine ------------------------------------------------


class FakeDaemons:
    """Throwaway processes whose argv[0] (and arguments) look like the real daemons'."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.procs: dict[str, list[subprocess.Popen]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        if args:  # keep the arguments visible, as `dbus-daemon --system`
            argv = ["bash", "-c", 'exec -a "$0" perl -e "sleep 600" -- "$@"', name, *args]
        else:  # a copy of sleep renamed like the daemon
            binary = self.dir / name
            if not binary.exists():
                shutil.copy(shutil.which("sleep"), binary)
            argv = [str(binary), "600"]
        proc = subprocess.Popen(argv)
        self.procs.setdefault(name, []).append(proc)
        return proc

    def zombie(self, name: str) -> subprocess.Popen:
        """A child of this test that exits and is not reaped: state Z, named `name`."""
        binary = self.dir / name
        if not binary.exists():
            shutil.copy(shutil.which("sleep"), binary)
        proc = subprocess.Popen([str(binary), "0"])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(f"/proc/{proc.pid}/stat") as stat:
                if stat.read().split(") ", 1)[1].startswith("Z"):
                    break
            time.sleep(0.02)
        self.procs.setdefault(f"{name} (zombie)", []).append(proc)
        return proc

    def stop(self, name: str) -> None:
        for proc in self.procs.pop(name, []):
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


RHCS = ["corosync", "fenced", "dlm_controld", "clvmd", "ricci", "libvirtd"]


@pytest.fixture
def fake(tmp_path):
    if shutil.which("perl") is None:
        pytest.skip("perl is needed to name a process with arguments")
    for name in (
        "corosync",
        "fenced",
        "dlm_controld",
        "clvmd",
        "ricci",
        "rgmanager",
        "dbus-daemon",
        "libvirtd",
        "pacemakerd",
    ):
        if subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0:
            pytest.skip(f"a real {name} runs on this machine")
    daemons = FakeDaemons(tmp_path)
    yield daemons
    daemons.stop_all()


def live(tmp_path, *args: str):
    subsys = tmp_path / "subsys"
    subsys.mkdir(exist_ok=True)
    return run_plugin(
        "check_cluster_daemons", "--profile", "rhcs", "--subsys-dir", str(subsys), *args
    )


def start_rhcs(fake, tmp_path):
    for name in RHCS:
        fake.start(name)
    fake.start("dbus-daemon", "--system")
    parent = fake.start("rgmanager")
    fake.start("rgmanager")
    (tmp_path / "subsys").mkdir(exist_ok=True)
    (tmp_path / "subsys" / "libvirt-guests").touch()
    return parent


@pytest.mark.real
def test_live_all_daemons_running_is_ok(fake, tmp_path):
    start_rhcs(fake, tmp_path)
    run = live(tmp_path, "-v")
    assert run.returncode == OK, run.stdout
    assert run.first_line == "DAEMONS OK - 9 of 9 daemons running (rhcs profile)"
    assert "OK: libvirt-guests: started" in run.lines


@pytest.mark.real
def test_live_killed_daemons_are_critical_with_start_commands(fake, tmp_path):
    start_rhcs(fake, tmp_path)
    fake.stop("fenced")
    fake.stop("clvmd")
    run = live(tmp_path)
    assert run.returncode == CRITICAL
    assert run.first_line == (
        "DAEMONS CRITICAL - not running: fenced, clvmd; start with: service cman start; "
        "service clvmd start"
    )


@pytest.mark.real
def test_live_zombie_rgmanager_worker_is_a_warning(fake, tmp_path):
    start_rhcs(fake, tmp_path)
    fake.stop("rgmanager")
    fake.start("rgmanager")
    zombie = fake.zombie("rgmanager")
    run = live(tmp_path)
    assert run.returncode == WARNING, run.stdout
    assert f"zombie process {zombie.pid} (parent {os.getpid()})" in run.first_line
    assert "rgmanager 1 of 2 processes" in run.first_line


@pytest.mark.real
def test_live_daemon_twice_is_a_warning(fake, tmp_path):
    start_rhcs(fake, tmp_path)
    fake.start("clvmd")
    run = live(tmp_path)
    assert run.returncode == WARNING
    assert run.first_line.startswith("DAEMONS WARNING - clvmd running 2 times (pids ")


@pytest.mark.real
def test_live_libvirt_guests_not_started_is_a_warning(fake, tmp_path):
    start_rhcs(fake, tmp_path)
    (tmp_path / "subsys" / "libvirt-guests").unlink()
    run = live(tmp_path)
    assert run.returncode == WARNING
    assert run.first_line == (
        "DAEMONS WARNING - libvirt-guests not started, VMs are not shut down cleanly at reboot: "
        "service libvirt-guests start, 1 of 9 daemons degraded"
    )


@pytest.mark.real
def test_live_stack_down_after_boot(fake, tmp_path):
    fake.start("dbus-daemon", "--system")
    fake.start("libvirtd")
    run = live(tmp_path, "--skip", "libvirt-guests")
    assert run.returncode == CRITICAL
    assert run.first_line.startswith("DAEMONS CRITICAL - cluster stack not ")
    assert run.first_line.endswith(
        ": service cman start; service clvmd start; service rgmanager start; service ricci start"
    )
