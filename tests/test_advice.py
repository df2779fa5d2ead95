"""kvmcluster.advice: the commands an admin types at 3 a.m., valid for the DRBD version in use
(the real drbdadm 8.3, 8.4 and 9 front ends in dry-run mode) and the stack (the real pcs on a
CIB built by pcs-setup.sh), in an order that works."""

from __future__ import annotations

import shutil

import pytest

from kvmcluster import advice
from tests import drbd_dry_run as dry
from tests.plugin_runner import REPO, fixture, run_plugin

N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"
VM = "aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr"


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    out = tmp_path_factory.mktemp("h21-advice") / "out"
    run = run_plugin(
        "kvmcluster", "generate", str(REPO / "examples/seed-cluster.toml"), "-o", str(out)
    )
    assert run.returncode == 0, run.stderr
    return out


def _commands(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("#")]


def _index(lines: list[str], start: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(start))


def _dry_run_all(version: str, conf: str, lines: list[str], default: str) -> int:
    checked = 0
    for node, line in dry.lines_by_node(lines, [N05, N06], default):
        for args in dry.drbdadm_calls([line]):
            proc = dry.dry_run(version, conf, node, args)
            assert proc.returncode == 0, f"{version}: {line!r} on {node}: {proc.stderr}"
            checked += 1
    return checked


def test_split_brain_steps_free_the_vms_and_lvm_before_drbd_goes_secondary():
    steps = advice.split_brain_steps("drbd0", ["volimages"], [VM], "8.4", N06, N05)
    commands = _commands(steps)
    order = [
        f"clusvcadm -r vm:{VM} -m {N05}",
        "vgchange -aln volimages",
        "drbdadm disconnect drbd0",
        "drbdadm secondary drbd0",
        "drbdadm connect --discard-my-data drbd0",
        "drbdadm connect drbd0",
        "drbdadm wait-connect drbd0",
        "drbdadm primary drbd0",
        "vgchange -aly volimages",
    ]
    positions = [_index(commands, step) for step in order]
    assert positions == sorted(positions)
    # the victim's steps are on the victim, the reconnect of the survivor on the survivor
    assert steps[steps.index("drbdadm connect drbd0") - 1].startswith(f"# on {N05}")
    assert steps[steps.index("drbdadm secondary drbd0") - 2] == f"# on {N06}"


@pytest.mark.parametrize(
    "version, discard",
    [
        ("8.3", "drbdadm -- --discard-my-data connect drbd0"),
        ("8.3.11", "drbdadm -- --discard-my-data connect drbd0"),
        ("8.4", "drbdadm connect --discard-my-data drbd0"),
        ("8.4.11", "drbdadm connect --discard-my-data drbd0"),
        ("9", "drbdadm connect --discard-my-data drbd0"),
        ("9.2.4", "drbdadm connect --discard-my-data drbd0"),
    ],
)
def test_the_discard_form_is_the_one_of_the_version(version, discard):
    assert discard in advice.split_brain_steps("drbd0", [], [], version, N06, N05)


@pytest.mark.real
@pytest.mark.skipif(dry.front_end("8.3") is None, reason="drbd-utils (drbdadm-83)")
def test_the_83_advice_runs_with_the_83_drbdadm_and_the_84_form_does_not():
    conf = fixture("etc-drbd-conf_seed-84.conf")  # the seed's drbd.conf: 8.3 syntax (syncer)
    lines = advice.split_brain_steps("drbd0", ["volimages"], [VM], "8.3", N06, N05)
    lines += advice.start_order("cman", ["drbd0", "drbd1"], ["volimages"], "8.3")
    assert _dry_run_all("8.3", conf, lines, N05) >= 10
    refused = dry.dry_run("8.3", conf, N06, ["connect", "--discard-my-data", "drbd0"])
    assert refused.returncode != 0, "the 8.4 form is not 8.3's"


@pytest.mark.real
@pytest.mark.skipif(dry.front_end("8.4") is None, reason="drbd-utils (drbdadm-84)")
def test_the_84_advice_runs_with_the_84_drbdadm(seed):
    conf = str(seed / "etc/drbd.conf")
    lines = advice.split_brain_steps("drbd1", ["volnode05"], [VM], "8.4", N06, N05)
    lines += advice.start_order("cman", ["drbd0", "drbd1", "drbd2"], ["volimages"], "8.4")
    lines += [advice.become_sync_source("drbd0", "8.4"), *advice.wait_in_sync("drbd0", "8.4")]
    assert _dry_run_all("8.4", conf, lines, N05) >= 20


@pytest.fixture(scope="module")
def pcmk(tmp_path_factory):
    out = tmp_path_factory.mktemp("h21-advice-pcmk") / "out"
    toml = str(REPO / "examples/pacemaker-cluster.toml")
    run = run_plugin("kvmcluster", "generate", toml, "-o", str(out))
    assert run.returncode == 0, run.stderr
    return out


@pytest.mark.real
@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pcs", "cibadmin", "drbdadm")),
    reason="pcs, pacemaker, drbd-utils",
)
def test_the_pacemaker_advice_runs_with_pcs_and_drbdadm_9(pcmk, tmp_path):
    lines = advice.split_brain_steps(
        "vmdata02", ["vg_kvm02"], ["db01"], "9", "kvm01", "kvm02", "pacemaker"
    )
    lines += advice.vm_active_twice("web01", "kvm01", ["kvm02"], "pacemaker")
    lines += advice.vm_active_twice("web01", None, ["kvm01", "kvm02"], "pacemaker")
    for state in ("failed", "stopped"):
        lines += advice.pacemaker_recovery("db01", state)
    lines += advice.pacemaker_recovery("db01", "started", "kvm01", "kvm02")
    conf = str(pcmk / "etc/drbd.conf")
    for node, line in dry.lines_by_node(lines, ["kvm01", "kvm02"], "kvm01"):
        for args in dry.drbdadm_calls([line]):
            proc = dry.dry_run("9", conf, node, args)
            assert proc.returncode == 0, f"{line!r} on {node}: {proc.stderr}"
    cib = dry.pcs_cib(tmp_path, pcmk / "pcs-setup.sh", ["kvm01", "kvm02"])
    pcs_lines = [line for line in lines if line.startswith("pcs ")]
    assert len(pcs_lines) >= 10
    for line in pcs_lines:
        accepted, output = dry.pcs_run(cib, line)
        assert accepted, f"{line}: {output}"
    # the VM stops before its VG leaves the victim, and starts again only after
    commands = _commands(lines)
    assert (
        _index(commands, "pcs resource disable vm-db01")
        < _index(commands, "pcs resource ban lvm-vg_kvm02-clone kvm01")
        < _index(commands, "pcs resource enable vm-db01")
    )


def test_the_start_order_after_a_reboot_brings_drbd_up_and_in_sync_first():
    lines = advice.start_order("cman", ["drbd0", "drbd1"], ["volimages", "volnode05"], "8.4")
    commands = _commands(lines)
    order = [
        "modprobe drbd",
        "drbdadm up drbd0",
        "drbdadm up drbd1",
        "drbdadm wait-connect drbd0",
        'until [ "$(drbdadm dstate drbd1)" = UpToDate/UpToDate ]',
        "service cman start",
        "drbdadm primary drbd0",
        "service clvmd start",
        "vgchange -aly volimages volnode05",
        "service rgmanager start",
    ]
    positions = [_index(commands, step) for step in order]
    assert positions == sorted(positions)
    assert not any("libvirt-guests" in line for line in commands)
    warned = advice.start_order("cman", ["drbd0"], [], "8.4", libvirt_guests_on_boot="start")
    assert any("ON_BOOT=start: set ON_BOOT=ignore" in line for line in warned)
    assert not any("libvirt-guests" in line for line in _commands(warned))
    single = _commands(advice.start_order("cman", ["drbd0"], [], "8.4", dual_primary=False))
    assert "drbdadm primary drbd0" not in single
    pcmk = _commands(advice.start_order("pacemaker", ["r0"], ["vg"], "9"))
    assert pcmk[0] == "systemctl start corosync" and pcmk[1].startswith("systemctl start pacemaker")


def test_a_vm_running_twice_is_stopped_where_the_cluster_does_not_own_it():
    lines = advice.vm_active_twice(VM, N05, [N06])
    assert lines[0] == (
        f"# {VM} runs on {N05}, {N06} at once; the cluster owns the copy on {N05}: stop the "
        "others now"
    )
    assert lines[1:3] == [f"# on {N06}", f"virsh destroy {VM}"]
    assert not any(f"# on {N05}" == line for line in lines), "the owner's copy keeps running"
    assert any("fsck" in line for line in lines)
    nobody = _commands(advice.vm_active_twice(VM, None, [N05, N06]))
    assert nobody == [f"virsh destroy {VM}", f"virsh destroy {VM}", f"clusvcadm -d vm:{VM}",
                      f"clusvcadm -e vm:{VM}"]  # fmt: skip


@pytest.mark.parametrize(
    "state, owner, home, migrate, expected",
    [
        ("failed", None, N05, "live", [f"clusvcadm -d vm:{VM}", f"clusvcadm -e vm:{VM} -m {N05}"]),
        ("disabled", None, N05, "live", [f"clusvcadm -e vm:{VM} -m {N05}"]),
        ("stopped", None, None, "live", [f"clusvcadm -e vm:{VM}"]),
        ("started", N06, N05, "live", [f"clusvcadm -M vm:{VM} -m {N05}"]),
        ("started", N06, N05, "pause", [f"clusvcadm -r vm:{VM} -m {N05}"]),
        ("started", N05, N05, "live", []),
        ("recovering", N05, N05, "live", []),
    ],
)
def test_rgmanager_recovery_gives_the_clusvcadm_commands(state, owner, home, migrate, expected):
    lines = advice.rgmanager_recovery(VM, state, owner, home, migrate)
    assert _commands(lines) == expected
    assert advice.rgmanager_recovery(f"vm:{VM}", state, owner, home, migrate) == lines


def test_names_are_quoted_for_the_shell():
    lines = advice.split_brain_steps("r0", ["vg"], ["a vm;reboot"], "8.4", "n2", "n1")
    assert "clusvcadm -r 'vm:a vm;reboot' -m n1" in lines


def test_a_name_from_the_cluster_cannot_start_a_line_of_its_own():
    lines = advice.split_brain_steps("r0\nreboot", ["vg"], ["vm\x1b[2J"], "8.4", "n2\n#", "n1")
    assert all("\n" not in line and "\x1b" not in line for line in lines)
    assert any(line.startswith("drbdadm disconnect 'r0\\nreboot'") for line in lines)
