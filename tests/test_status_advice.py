"""kvmcluster status prints kvmcluster.advice for its findings: the split brain with the VGs and
VMs on the resource and the DRBD version of the node, the VM running twice, the start order
after a reboot with DRBD first, clusvcadm for failed, stopped and failed-over services. Every
drbdadm line runs with the real drbdadm of its version in dry-run mode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests import drbd_dry_run as dry
from tests.plugin_runner import REPO, fixture, run_plugin

CAPTURES = REPO / "examples" / "captures"
N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"
VM199 = "aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr"


def _advice(capture: Path, area: str) -> tuple[int, list[str]]:
    run = run_plugin("kvmcluster", "status", "--json", "--from", str(capture))
    document = json.loads(run.stdout)
    (found,) = [a for a in document["areas"] if a["name"] == area]
    return run.returncode, found["advice"]


def _screen(capture: Path) -> list[str]:
    run = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    return run.stdout.splitlines()


def _commands(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("#")]


def _position(lines: list[str], start: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(start))


def _copy(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    capture = tmp_path / name
    shutil.copytree(CAPTURES / "healthy", capture)
    for target, source in files.items():
        shutil.copy(fixture(source), capture / target)
    return capture


def test_split_brain_advice_frees_lvm_before_drbd_and_uses_the_84_form():
    code, lines = _advice(CAPTURES / "split-brain", "drbd")
    assert code == 2
    assert lines[0].startswith(f"# split brain on drbd0: {N05} is the victim")
    commands = _commands(lines)
    order = [
        "vgchange -aln volimages",  # volimages is the VG on /dev/drbd0 (the capture's pvs)
        "drbdadm disconnect drbd0",
        "drbdadm secondary drbd0",
        "drbdadm connect --discard-my-data drbd0",  # /proc/drbd says 8.4.11
        "drbdadm connect drbd0",
        "drbdadm wait-connect drbd0",
        "drbdadm primary drbd0",
        "vgchange -aly volimages",
    ]
    positions = [_position(commands, step) for step in order]
    assert positions == sorted(positions)
    assert "drbdadm -- --discard-my-data connect drbd0" not in commands  # the 8.3 form
    assert lines[lines.index("drbdadm connect drbd0") - 1].startswith(f"# on {N06}")


def test_the_screen_shows_the_steps_one_per_line_under_next():
    screen = _screen(CAPTURES / "split-brain")
    start = _position(screen, "    next: # split brain on drbd0")
    assert screen[start + 1] == f"          # on {N05}: deactivate the volume groups (here only)"
    assert "          drbdadm secondary drbd0" in screen[start:]
    assert not any("8.4: drbdadm -- --discard-my-data" in line for line in screen)


def test_a_vm_of_the_victim_on_the_resource_restarts_on_the_survivor_first(tmp_path):
    """The VM on volnode05 (drbd1): with drbd1 in split brain it leaves node05 first."""
    capture = tmp_path / "sb-drbd1"
    shutil.copytree(CAPTURES / "split-brain", capture)
    proc = (capture / "proc-drbd.txt").read_text()
    proc = proc.replace(" 1: cs:SyncSource ro:Primary/Primary ds:UpToDate/Inconsistent",
                        " 1: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown  ")  # fmt: skip
    (capture / "proc-drbd.txt").write_text(proc)
    _, lines = _advice(capture, "drbd")
    commands = _commands(lines)
    vm = "aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr"
    restart = f"clusvcadm -r vm:{vm} -m {N06}"
    assert _position(commands, restart) < _position(commands, "vgchange -aln volnode05")
    assert _position(commands, "vgchange -aln volnode05") < _position(
        commands, "drbdadm secondary drbd1"
    )


def test_a_failed_over_vm_gets_the_clusvcadm_failback():
    _, lines = _advice(CAPTURES / "split-brain", "vm_alloc")
    assert _commands(lines) == [f"clusvcadm -M vm:{VM199} -m {N06}"]


def test_failed_disabled_and_stopped_services_get_clusvcadm(tmp_path):
    capture = _copy(tmp_path, "svc", {"clustat.xml": "clustat-x_411-qdisk-services-in-trouble.xml"})
    code, lines = _advice(capture, "services")
    assert code == 2
    commands = _commands(lines)
    assert commands[:2] == ["clusvcadm -d vm:db01", "clusvcadm -e vm:db01"]
    assert "clusvcadm -e vm:test01" in commands and "clusvcadm -e vm:web03" in commands


def _after_reboot(tmp_path: Path) -> Path:
    return _copy(
        tmp_path,
        "reboot",
        {
            "ps.txt": "ps_rhcs-node-after-reboot.txt",
            "uptime.txt": "proc-uptime_42-minutes.txt",
            "proc-drbd.txt": "proc-drbd_84-no-resources.txt",
        },
    )


def test_after_a_reboot_drbd_comes_up_and_in_sync_before_the_stack(tmp_path):
    code, lines = _advice(_after_reboot(tmp_path), "daemons")
    assert code == 2
    commands = _commands(lines)
    order = [
        "modprobe drbd",
        "drbdadm up drbd0",
        "drbdadm up drbd2",
        "drbdadm wait-connect drbd0",
        "service cman start",
        "drbdadm primary drbd0",
        "service clvmd start",
        "vgchange -aly volimages volnode05 volnode06",
        "service rgmanager start",
    ]
    positions = [_position(commands, step) for step in order]
    assert positions == sorted(positions)
    assert not any("libvirt-guests" in line for line in commands)


@pytest.mark.real
@pytest.mark.skipif(dry.front_end("8.4") is None, reason="drbd-utils (drbdadm-84)")
def test_every_drbdadm_line_status_prints_runs_with_the_84_drbdadm(tmp_path):
    """The version the capture's /proc/drbd gives (8.4.11), its own drbd.conf."""
    lines = _advice(CAPTURES / "split-brain", "drbd")[1]
    lines += _advice(_after_reboot(tmp_path), "daemons")[1]
    conf = str(CAPTURES / "split-brain" / "drbd.conf")
    checked = 0
    for node, line in dry.lines_by_node(lines, [N05, N06], N05):
        for args in dry.drbdadm_calls([line]):
            proc = dry.dry_run("8.4", conf, node, args)
            assert proc.returncode == 0, f"{line!r} on {node}: {proc.stderr}"
            checked += 1
    assert checked >= 15


def _pacemaker_capture(tmp_path: Path) -> Path:
    """A capture of a Pacemaker node: the seed's CIB with a VM whose stop failed, crm_mon
    rendered from it by the real crm_mon (CIB_file)."""
    import os
    import subprocess

    capture = tmp_path / "pcmk"
    capture.mkdir()
    shutil.copy(fixture("cib_seed-vm-monitor-failed.xml"), capture / "cib.xml")
    rendered = subprocess.run(
        ["crm_mon", "--output-as=xml", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CIB_file": str(capture / "cib.xml")},
    )
    assert rendered.returncode == 0, rendered.stderr
    (capture / "crm-mon.xml").write_text(rendered.stdout)
    (capture / "hostname.txt").write_text("node05\n")
    return capture


@pytest.mark.real
@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("crm_mon", "pcs")), reason="pacemaker-cli-utils, pcs"
)
def test_a_failed_pacemaker_vm_gets_pcs_lines_the_real_pcs_accepts(tmp_path):
    capture = _pacemaker_capture(tmp_path)
    code, lines = _advice(capture, "services")
    assert code == 2
    pcs_lines = [line for line in _commands(lines) if line.startswith("pcs ")]
    assert pcs_lines == ["pcs resource cleanup vm-aquarius199"], lines
    for line in pcs_lines:
        accepted, output = dry.pcs_run(capture / "cib.xml", line)
        assert accepted, f"{line}: {output}"
