"""Agentless mode against a real OpenSSH server started here on 127.0.0.1: the node's tools
are scripts of the test that print fixture output (a fake PATH given by the key's
authorized_keys entry); parsing and rules run on the 'monitoring' side."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tests import sshd_real
from tests.plugin_runner import FIXTURES, run_plugin

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(
        not sshd_real.available(),
        reason="needs root, openssh-server and openssh-client",
    ),
]


free_port = sshd_real.free_port


# Fake node tools answer the plugins' exact commands from fixtures and behave like the real
# tools otherwise: the session's shell runs with this PATH (and a HOME of its own).
NODE_TOOLS = {
    "cman_tool": 'case "$*" in\n'
    '  status) exec /bin/cat "{fx}/cman-tool-status_inquorate-activity-blocked.txt";;\n'
    '  nodes) exec /bin/cat "{fx}/cman-tool-nodes_three-nodes-disallowed-qdisk.txt";;\n'
    "esac\nexit 1\n",
    "clustat": '[ "$*" = "-x" ] && exec /bin/cat "{fx}/clustat-x_411-all-started.xml"\nexit 1\n',
    "ps": '[ "$*" = "-e -o pid=,ppid=,stat=,args=" ] && '
    'exec /bin/cat "{fx}/ps_rhcs-node-fenced-dlm-dead.txt"\nexec /bin/ps "$@"\n',
    # the node's LVM: volnode05 on /dev/sdb2, the backing disk of drbd1 in the node's drbd.conf
    "vgs": 'exec /bin/cat "{fx}/vgs_rhel6-volnode05-not-clustered.txt"\n',
    "pvs": 'exec /bin/cat "{fx}/pvs_rhel6-volnode05-on-backing-disk.txt"\n',
    "lvs": 'exec /bin/cat "{fx}/lvs_rhel6-vm-lv-inactive.txt"\n',
    "lvmconfig": 'exec /bin/cat "{fx}/lvm-conf_rhel6-clustered-filtered.conf"\n',
    # the node's files: /proc/drbd, /proc/uptime, cluster.conf, drbd.conf
    "cat": "[ $# -eq 0 ] && exec /bin/cat\n"
    'for f in "$@"; do case "$f" in\n'
    '  /proc/drbd) /bin/cat "{fx}/proc-drbd_84-standalone-split-brain.txt";;\n'
    '  /proc/uptime) /bin/cat "{fx}/proc-uptime_42-minutes.txt";;\n'
    '  /etc/cluster/cluster.conf) /bin/cat "{fx}/cluster-conf_seed-fixed.conf";;\n'
    '  /etc/drbd.conf) /bin/cat "{fx}/etc-drbd-conf_seed-84.conf";;\n'
    "  /etc/drbd.d/*) ;;\n"
    '  *) /bin/cat "$f";;\n'
    "esac; done\n",
}


class Sshd:
    """A real sshd (tests/sshd_real.py) whose node tools print fixtures; keys of the test."""

    def __init__(self, directory: Path):
        self.dir = directory
        for key in ("user_key", "other_key"):
            sshd_real.keygen(directory / key)
        tools = {name: body.format(fx=FIXTURES) for name, body in NODE_TOOLS.items()}
        self.server = sshd_real.Sshd(directory, directory / "user_key", tools)  # bin/, host_key
        self.port = self.server.port
        (directory / "known_hosts").write_text(self.server.known_host)
        (directory / "empty_known_hosts").write_text("")

    def options(self, key="user_key", known_hosts="known_hosts") -> list[str]:
        return [
            "--ssh",
            "root@127.0.0.1",
            "--ssh-option",
            f"Port={self.port}",
            "--ssh-option",
            f"IdentityFile={self.dir / key}",
            "--ssh-option",
            f"UserKnownHostsFile={self.dir / known_hosts}",
            "--ssh-option",
            "StrictHostKeyChecking=yes",
        ]

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


def test_drbd_over_ssh(sshd):
    run = run_plugin("check_drbd", *sshd.options())
    assert run.returncode == 2, run.stdout
    assert run.first_line.startswith("DRBD CRITICAL - drbd0 StandAlone (possible split brain)")


def test_drbd_over_ssh_names_minors_from_the_nodes_drbd_conf(sshd):
    run = run_plugin("check_drbd", "-v", *sshd.options())
    assert any(line.startswith("OK: drbd1 (minor 1)") for line in run.lines)


def test_cman_cluster_over_ssh(sshd):
    run = run_plugin("check_cluster", "--stack", "cman", *sshd.options())
    assert run.returncode == 2, run.stdout
    assert run.first_line.startswith("CLUSTER CRITICAL - not quorate (activity blocked")


def test_daemons_over_ssh_read_the_nodes_processes(sshd):
    run = run_plugin("check_cluster_daemons", *sshd.options())
    assert run.returncode == 2, run.stdout
    assert run.first_line.startswith(
        "DAEMONS CRITICAL - not running: fenced, dlm_controld; start with: service cman start"
    )
    assert run.perf("uptime") == 2520


def test_lvm_over_ssh_reads_the_nodes_drbd_conf_not_this_hosts(sshd):
    """The backing disks come from the node's drbd.conf, like vgs and pvs from its tools
    (this host's /etc/drbd.conf, if any, is not the node's)."""
    run = run_plugin("check_cluster_lvm", "-v", *sshd.options())
    assert run.returncode == 2, run.stdout
    assert run.first_line.startswith(
        "LVM CRITICAL - volnode05 PV /dev/sdb2 is the backing device of DRBD drbd1, not /dev/drbd1"
    ), run.stdout


def test_vm_alloc_reads_the_nodes_cluster_conf(sshd, tmp_path):
    from tests.libvirt_nodes import hypervisor, vm199, vm200

    uri05 = hypervisor(tmp_path, "node05", vm200(), vm199("shutoff"))
    uri06 = hypervisor(tmp_path, "node06", vm199(), vm200("shutoff"))
    run = run_plugin(
        "check_vm_alloc",
        *sshd.options(),
        "--libvirt",
        f"node05.c01.cloud.agarik.com={uri05}",
        "--libvirt",
        f"node06.c01.cloud.agarik.com={uri06}",
    )
    assert run.returncode == 0, run.stdout
    assert run.first_line.startswith("VM_ALLOC OK - 2 VMs on their preferred nodes")


def test_status_over_ssh(sshd):
    run = run_plugin("kvmcluster", "status", "--json", *sshd.options())
    assert run.returncode == 2
    assert '"source": "live over ssh"' in run.stdout and '"node": "127.0.0.1"' in run.stdout


def test_missing_tool_on_the_node(sshd):
    run = run_plugin("check_cluster", "--stack", "pacemaker", *sshd.options())
    assert run.returncode == 3
    assert run.first_line.startswith(
        "CLUSTER UNKNOWN - 127.0.0.1: corosync-quorumtool not found on the node"
    )


def test_unknown_host_key(sshd):
    run = run_plugin("check_drbd", *sshd.options(known_hosts="empty_known_hosts"))
    assert run.returncode == 3
    assert run.first_line.startswith(
        "DRBD UNKNOWN - ssh root@127.0.0.1: host key unknown or changed"
    )


def test_authentication_refused(sshd):
    run = run_plugin("check_drbd", *sshd.options(key="other_key"))
    assert run.returncode == 3
    assert run.first_line.startswith("DRBD UNKNOWN - ssh root@127.0.0.1: authentication refused")


def test_connection_refused_on_a_closed_port(sshd):
    args = sshd.options()
    args[args.index(f"Port={sshd.port}")] = f"Port={free_port()}"
    run = run_plugin("check_drbd", *args)
    assert run.returncode == 3
    assert run.first_line.startswith("DRBD UNKNOWN - ssh root@127.0.0.1: connection refused")


def test_a_silent_server_is_given_up_within_the_timeout(sshd):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    args = sshd.options()
    args[args.index(f"Port={sshd.port}")] = f"Port={listener.getsockname()[1]}"
    started = time.monotonic()
    run = run_plugin("check_drbd", *args, "-t", "3")
    elapsed = time.monotonic() - started
    listener.close()
    assert run.returncode == 3
    assert elapsed < 4.5, f"{elapsed:.1f}s"
    assert "ssh" in run.first_line


@pytest.mark.parametrize(
    "args",
    [
        ["--ssh", "host;reboot"],
        ["--ssh", "-oProxyCommand=sh"],
        ["--ssh", "node05", "--ssh-option", "-F/etc/passwd"],
        ["--ssh", "a b"],
    ],
)
def test_host_names_and_options_are_validated(args):
    run = run_plugin("check_drbd", *args)
    assert run.returncode == 3 and run.first_line.startswith("DRBD UNKNOWN - bad arguments: ")
