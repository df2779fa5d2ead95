"""--ssh-option takes harmless ssh -o options only: ProxyCommand & co. (in any case, either
form) are refused with UNKNOWN before ssh runs, and nothing they name is executed; the
allowed options still reach a real sshd on 127.0.0.1."""

from __future__ import annotations

import os
import shutil

import pytest

from kvmcluster.errors import SourceError
from kvmcluster.sources.ssh_options import ALLOWED, validate_option
from tests.plugin_runner import run_plugin

ROOT_SSHD = os.path.exists("/usr/sbin/sshd") and shutil.which("ssh") and os.geteuid() == 0


def hostile_options(marker) -> list[str]:
    run = f"touch {marker}"
    return [
        f"ProxyCommand={run}",
        f"proxycommand={run}",
        f"PROXYCOMMAND {run}",
        f"LocalCommand={run}",
        "PermitLocalCommand=yes",
        f"KnownHostsCommand={run}",
        f"Match exec {run!r}",
        "Include=/tmp/hA-other-config",
        f"Port=22\nProxyCommand={run}",
        f"Port=22 ProxyCommand={run}",
        f"ProxyJump=-oProxyCommand={run}",
        "ProxyJump=ssh://x",
        f"IdentityFile=/tmp/%d{marker}",
        "IdentityFile=${HOME}/x",
        "ControlPath=/tmp/x",
        "LocalForward=1234 127.0.0.1:22",
        "ForwardAgent=yes",
        "SendEnv=*",
        "Port=0",
        "Port=99999",
        "Port=²",  # a digit to str.isdigit, not to int()
    ]


@pytest.mark.parametrize("index", range(len(hostile_options("M"))))
def test_a_hostile_option_is_unknown_in_one_line_and_runs_nothing(tmp_path, index):
    marker = tmp_path / "ran"
    option = hostile_options(marker)[index]
    run = run_plugin("check_drbd", "--ssh", "root@127.0.0.1", "--ssh-option", option)
    assert run.returncode == 3, run.stdout
    assert len(run.stdout.splitlines()) == 1, run.stdout
    assert run.first_line.startswith("DRBD UNKNOWN - ")
    assert "--ssh-option" in run.first_line
    assert "\n" not in run.first_line
    assert not marker.exists()


def test_the_refusal_names_the_option():
    run = run_plugin("check_cluster", "--ssh", "node06", "--ssh-option", "proxycommand=nc x 22")
    assert run.returncode == 3
    assert "proxycommand: not allowed" in run.first_line
    assert "ProxyJump" in run.first_line  # and says what is allowed


def test_refused_even_without_ssh(tmp_path):
    marker = tmp_path / "ran"
    run = run_plugin("check_cluster_daemons", "--ssh-option", f"ProxyCommand=touch {marker}")
    assert run.returncode == 3, run.stdout
    assert not marker.exists()


def test_kvmcluster_status_and_collect_refuse_it_too(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    marker = tmp_path / "ran"
    tool = str(Path(sys.executable).parent / "kvmcluster")
    for command in ("status", "collect"):
        extra = ["-o", str(tmp_path / "x.tar.gz")] if command == "collect" else []
        done = subprocess.run(
            [
                tool,
                command,
                *extra,
                "--ssh",
                "node06",
                "--ssh-option",
                f"ProxyCommand=touch {marker}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 3, done.stdout + done.stderr
        assert "ProxyCommand: not allowed" in done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    "option, canonical",
    [
        ("port=2222", "Port=2222"),
        ("Port 2222", "Port=2222"),
        ("IDENTITYFILE=~/.ssh/id_ed25519", "IdentityFile=~/.ssh/id_ed25519"),
        ("ProxyJump=admin@bastion.example.org:2222,jump2", None),
        ("ProxyJump=[2001:db8::1]:22", None),
        ("ProxyJump=none", None),
        ("StrictHostKeyChecking=accept-new", None),
        ("UserKnownHostsFile=/etc/kvmcluster/known_hosts", None),
        ("ConnectTimeout=5", None),
        ("ServerAliveInterval=10", None),
        ("ServerAliveCountMax=3", None),
        ("IdentitiesOnly=yes", None),
        ("HostKeyAlias=node06", None),
        ("CheckHostIP=no", None),
        ("User=nagios", None),
    ],
)
def test_allowed_options_in_either_form_and_any_case(option, canonical):
    assert validate_option(option) == (canonical or option)


@pytest.mark.parametrize(
    "option",
    ["ProxyJump=a b", "ProxyJump=a,,b", "ProxyJump=a:0", "User=root;id", "HostKeyAlias=-x"]
    + ["StrictHostKeyChecking=ask", "UserKnownHostsFile=relative", "IdentityFile=/a/../etc/x"]
    + ["Port=", "=22", "Port= 22", "Port=22\t", "ConnectTimeout=1e3", "Port=²", "Port=٢٢"]
    + ["Port=" + "9" * 5000],
)
def test_values_are_validated(option):
    with pytest.raises(SourceError):
        validate_option(option)


def test_every_allowed_name_is_a_real_ssh_option():
    import subprocess

    for name in ALLOWED:
        done = subprocess.run(["ssh", "-G", "-o", f"{name}=x", "localhost"], capture_output=True)
        assert b"Bad configuration option" not in done.stderr, name


@pytest.mark.real
@pytest.mark.skipif(not ROOT_SSHD, reason="needs root, openssh-server and openssh-client")
def test_allowed_options_still_reach_a_real_sshd(tmp_path):
    from tests.test_ssh import Sshd

    (tmp_path / "sshd").mkdir()
    server = Sshd(tmp_path / "sshd")
    try:
        options = [
            "--ssh",
            "127.0.0.1",
            "--ssh-option",
            f"port {server.port}",  # the `Key value` form, lower case
            "--ssh-option",
            "user=root",
            "--ssh-option",
            f"IdentityFile={server.dir / 'user_key'}",
            "--ssh-option",
            f"USERKNOWNHOSTSFILE={server.dir / 'known_hosts'}",
            "--ssh-option",
            "StrictHostKeyChecking=yes",
            "--ssh-option",
            "ConnectTimeout=5",
            "--ssh-option",
            "ServerAliveInterval=5",
            "--ssh-option",
            "IdentitiesOnly=yes",
            "--ssh-option",
            "CheckHostIP=no",
        ]
        run = run_plugin("check_drbd", *options)
        assert run.returncode == 2, run.stdout
        assert run.first_line.startswith("DRBD CRITICAL - drbd0 StandAlone")
        # HostKeyAlias: the known_hosts entry is looked up under the alias
        alias = server.dir / "alias_known_hosts"
        key = " ".join((server.dir / "host_key.pub").read_text().split()[:2])
        alias.write_text(f"node06-hA {key}\n")
        options[options.index(f"USERKNOWNHOSTSFILE={server.dir / 'known_hosts'}")] = (
            f"UserKnownHostsFile={alias}"
        )
        run = run_plugin("check_drbd", *options, "--ssh-option", "HostKeyAlias=node06-hA")
        assert run.returncode == 2, run.stdout
    finally:
        server.stop()
