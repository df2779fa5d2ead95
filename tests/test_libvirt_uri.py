"""With --ssh, the node's own hypervisor is read over qemu+ssh:// with the connection settings
the admin gave the plugin (--ssh-option Port, User, IdentityFile, StrictHostKeyChecking=no),
not a plain URI that would reach another port or key."""

from __future__ import annotations

from kvmcluster.checks.vm_alloc import default_libvirt


def test_without_ssh_it_is_this_nodes_qemu_system():
    [(_, uri)] = default_libvirt(None)
    assert uri == "qemu:///system"


def test_the_ssh_target_alone():
    assert default_libvirt("nagios@node05") == [("node05", "qemu+ssh://nagios@node05/system")]


def test_port_user_key_and_no_host_key_check_reach_the_uri():
    options = ["Port=2222", "User=root", "IdentityFile=/var/lib/nagios/.ssh/id_ed25519"]
    [(node, uri)] = default_libvirt("node05", [*options, "StrictHostKeyChecking=no"])
    assert node == "node05"
    assert uri == (
        "qemu+ssh://root@node05:2222/system?keyfile=/var/lib/nagios/.ssh/id_ed25519&no_verify=1"
    )


def test_options_libvirt_cannot_carry_are_left_to_the_ssh_config():
    [(_, uri)] = default_libvirt("node05", ["ConnectTimeout=5", "StrictHostKeyChecking=yes"])
    assert uri == "qemu+ssh://node05/system"


def test_an_ipv6_target_keeps_its_brackets_in_the_uri():
    [(node, uri)] = default_libvirt("[fe80::1]", ["Port=22"])
    assert (node, uri) == ("fe80::1", "qemu+ssh://[fe80::1]:22/system")
