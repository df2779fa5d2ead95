"""DRBD states from the inputs admins have: the text of `drbdadm status` / `drbdsetup status
--verbose --statistics` as pasted, `drbdsetup events2` as a stream, and /proc/drbd of 8.3
(delay_probe:, the `stalled` line) with the cause of a paused resync."""

from __future__ import annotations

import pytest

from kvmcluster.errors import ParseError
from kvmcluster.parsers.drbd_events import parse_events2
from kvmcluster.parsers.drbd_proc import parse_proc_drbd
from kvmcluster.parsers.drbd_status import parse_status_text
from tests.plugin_runner import FIXTURES, fixture, run_plugin

KIB = 1024


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


def peers(resource):
    return {c.peer_name: c for c in resource.connections}


class TestStatusText:
    def test_three_peers_one_connecting(self):
        (home,) = parse_status_text(
            text("drbdadm-status_9-three-nodes-one-connecting.txt")
        ).resources
        assert (home.name, home.role, home.devices[0].disk) == ("home", "Secondary", "UpToDate")
        conns = peers(home)
        assert list(conns) == ["nina", "nino", "nono"]
        assert (conns["nina"].state, conns["nina"].peer_role) == ("Connected", "Secondary")
        # the guide's older `disk:` of a peer volume is its peer disk
        assert conns["nino"].peer_devices[0].peer_disk == "UpToDate"
        assert conns["nono"].state == "Connecting" and conns["nono"].peer_devices == []

    def test_verbose_statistics_with_lines_broken_for_readability(self):
        status = parse_status_text(text("drbdsetup-status-verbose-statistics_9-lines-broken.txt"))
        (home,) = status.resources
        device = home.devices[0]
        assert (device.minor, device.size, device.written) == (0, 1048412 * KIB, 1048412 * KIB)
        assert (device.local_pending, device.app_pending) == (0, 0)
        conns = peers(home)
        assert [(c.peer_node_id, c.state) for c in conns.values()] == [
            (0, "Connected"),
            (2, "Connected"),
            (3, "Connecting"),
        ]
        nina = conns["nina"].peer_devices[0]
        assert (nina.replication, nina.peer_disk, nina.received) == (
            "Established",
            "UpToDate",
            1048412 * KIB,
        )
        assert nina.out_of_sync == 0 and nina.resync_suspended == "no"

    def test_sync_target_with_done(self):
        (res,) = parse_status_text(text("drbdadm-status_9-sync-target.txt")).resources
        peer = res.connections[0].peer_devices[0]
        assert (res.devices[0].disk, peer.replication, peer.resync_done_percent) == (
            "Inconsistent",
            "SyncTarget",
            0.08,
        )
        assert peer.resyncing

    def test_standalone_outdated_without_quorum(self):
        (res,) = parse_status_text(
            text("drbdadm-status_9-standalone-outdated-no-quorum.txt")
        ).resources
        assert (res.devices[0].disk, res.devices[0].quorum) == ("Outdated", False)
        conns = peers(res)
        assert conns["m10c27"].state == "StandAlone"
        assert conns["m13c9"].peer_role == "Primary"
        assert conns["m13c9"].peer_devices[0].peer_disk == "Diskless"

    def test_diskless_primary_and_healthy(self):
        (res,) = parse_status_text(text("drbdadm-status_9-diskless-primary.txt")).resources
        assert (res.role, res.devices[0].disk, res.devices[0].client) == (
            "Primary",
            "Diskless",
            False,
        )
        (ok,) = parse_status_text(text("drbdadm-status_9-ok.txt")).resources
        assert ok.connections[0].peer_devices[0].replication == "Established"
        (new,) = parse_status_text(text("drbdadm-status_9-inconsistent-connecting.txt")).resources
        assert (new.devices[0].disk, new.connections[0].state) == ("Inconsistent", "Connecting")

    def test_suspended_io_colours_and_several_resources(self):
        pasted = (
            "\x1b[1mr0\x1b[0m role:\x1b[1;36mPrimary\x1b[0m suspended:quorum\n"
            "  disk:UpToDate quorum:no\n  peer connection:Connecting\n\n"
            "r1 role:Secondary\n  volume:0 disk:UpToDate\n  volume:1 disk:Diskless client:yes\n"
            "  node-id:2 connection:StandAlone\n"
        )
        r0, r1 = parse_status_text(pasted).resources
        assert (r0.role, r0.suspended, r0.devices[0].quorum) == ("Primary", ("quorum",), False)
        assert [(d.volume, d.disk, d.client) for d in r1.devices] == [
            (0, "UpToDate", False),
            (1, "Diskless", True),
        ]
        assert (r1.connections[0].peer_name, r1.connections[0].peer_node_id) == (None, 2)

    def test_no_resources(self):
        assert parse_status_text("# No currently configured DRBD found.\n").resources == []

    @pytest.mark.parametrize(
        "pasted",
        [
            "",
            "  disk:UpToDate\n",
            "r0: No such resource\n",
            "r0 role:Primary\n  peer role:Secondary\n",  # no disk: line
            "r0 role:Primary\n  disk:UpToDate\n  peer role:Secondary\n"
            "    peer-disk:UpToDate done:101\n",
            "r0 role:Primary\n  volume:" + "9" * 30 + " disk:UpToDate\n",
            "role:Primary\n  disk:UpToDate\n",
            "r0 role:Primary\n  disk:UpToDate\n  peer role:Secondary\n  volume:1 disk:UpToDate\n",
            "r0 role:Primary garbage\n  disk:UpToDate\n",
        ],
    )
    def test_other_text_is_a_parse_error(self, pasted):
        with pytest.raises(ParseError):
            parse_status_text(pasted)


class TestEvents2Stream:
    def test_diff_values_count_by_their_new_side(self):
        (res,) = parse_events2(text("drbdsetup-events2_9-stream-diff-primary.txt")).resources
        assert (res.role, res.devices[0].disk) == ("Primary", "UpToDate")
        conn = res.connections[0]
        assert (conn.state, conn.peer_role) == ("Connected", "Secondary")
        assert conn.peer_devices[0].replication == "Established"

    def test_a_sync_started_after_the_exists_block_with_its_eta(self):
        (res,) = parse_events2(
            text("drbdsetup-events2_9-stream-statistics-sync-source.txt")
        ).resources
        peer = res.connections[0].peer_devices[0]
        assert (peer.replication, peer.peer_disk, peer.resync_done_percent) == (
            "SyncSource",
            "Inconsistent",
            37.5,
        )
        assert (peer.eta_seconds, peer.out_of_sync) == (10, 2500 * KIB)

    def test_a_connection_lost_after_the_exists_block(self):
        (res,) = parse_events2(text("drbdsetup-events2_9-stream-connection-lost.txt")).resources
        assert res.connections[0].state == "Connecting"
        assert [d.minor for d in res.devices] == [7, 8]

    def test_lines_broken_for_readability_are_joined(self):
        (res,) = parse_events2(text("drbdsetup-events2_9-two-volumes-lines-broken.txt")).resources
        assert res.connections[0].peer_role == "Secondary"
        assert [d.written for d in res.devices] == [131844 * KIB, 6634548 * KIB]
        assert [p.sent for p in res.connections[0].peer_devices] == [131844 * KIB, 6634548 * KIB]

    def test_colour_codes_of_a_terminal_copy_are_ignored(self):
        plain = text("drbdsetup-events2_9-stream-diff-primary.txt")
        coloured = plain.replace(
            "disk:DUnknown->UpToDate", "disk:\x1b[32mDUnknown->UpToDate\x1b[0m"
        )
        coloured = coloured.replace(
            "role:Secondary->Primary", "role:\x1b[1;36mSecondary->Primary\x1b[0m"
        )
        assert parse_events2(coloured) == parse_events2(plain)


class TestProc83And84:
    def test_83_delay_probe_on_the_progress_line(self):
        (res,) = parse_proc_drbd(text("proc-drbd_838-sync-source-delay-probe.txt")).resources
        peer = res.connections[0].peer_devices[0]
        assert (peer.replication, peer.resync_done_percent, peer.eta_seconds) == (
            "SyncSource",
            66.2,
            5,
        )
        assert not peer.stalled and peer.resync_suspended == "no"

    def test_83_the_stalled_line_instead_of_finish(self):
        (res,) = parse_proc_drbd(text("proc-drbd_838-sync-target-stalled.txt")).resources
        peer = res.connections[0].peer_devices[0]
        assert peer.stalled and peer.eta_seconds is None and peer.resync_done_percent == 66.2

    @pytest.mark.parametrize(
        ("name", "minor", "cause"),
        [
            ("proc-drbd_84-paused-sync-stalled.txt", 0, "user"),
            ("proc-drbd_84-paused-sync-peer.txt", 0, "peer"),
            ("proc-drbd_84-paused-sync-after-dependency.txt", 1, "dependency"),
            ("proc-drbd_84-paused-sync-after-dependency.txt", 0, "no"),
        ],
    )
    def test_the_resync_flags_name_why_a_resync_is_paused(self, name, minor, cause):
        status = parse_proc_drbd(text(name))
        (res,) = [r for r in status.resources if r.minors == [minor]]
        assert res.connections[0].peer_devices[0].resync_suspended == cause

    def test_several_causes_in_drbd9_order(self):
        proc = text("proc-drbd_84-paused-sync-stalled.txt").replace("r--u--", "rapu--")
        (res,) = parse_proc_drbd(proc).resources
        assert res.connections[0].peer_devices[0].resync_suspended == "user,peer,dependency"


# --- through check_drbd: the verdict and the first line -------------------------------------


@pytest.mark.parametrize(
    ("option", "name", "code", "first_line"),
    [
        (
            "--status-file",
            "drbdadm-status_9-ok.txt",
            0,
            "DRBD OK - 1 resource Connected and UpToDate (Secondary/Primary)",
        ),
        (
            "--status-file",
            "drbdadm-status_9-sync-target.txt",
            1,
            "DRBD WARNING - postgresql SyncTarget 0.1% done",
        ),
        (
            "--status-file",
            "drbdadm-status_9-three-nodes-one-connecting.txt",
            2,
            "DRBD CRITICAL - home Connecting to nono (peer not connected)",
        ),
        (
            "--status-file",
            "drbdsetup-status-verbose-statistics_9-lines-broken.txt",
            2,
            "DRBD CRITICAL - home Connecting to nono (peer not connected)",
        ),
        (
            "--status-file",
            "drbdadm-status_9-standalone-outdated-no-quorum.txt",
            2,
            "DRBD CRITICAL - one-vm-8536-disk-0 quorum lost, StandAlone to m10c27 (possible split "
            "brain), disk Outdated, peer disk to m13c29 Diskless, peer disk to m13c9 Diskless",
        ),
        (
            "--status-file",
            "drbdadm-status_9-diskless-primary.txt",
            2,
            "DRBD CRITICAL - <resource> disk Diskless",
        ),
        (
            "--status-file",
            "drbdadm-status_9-inconsistent-connecting.txt",
            2,
            "DRBD CRITICAL - postgresql Connecting (peer not connected), disk Inconsistent, "
            "no resync running",
        ),
        (
            "--events-file",
            "drbdsetup-events2_9-stream-diff-primary.txt",
            0,
            "DRBD OK - 1 resource Connected and UpToDate (Primary/Secondary)",
        ),
        (
            "--events-file",
            "drbdsetup-events2_9-stream-statistics-sync-source.txt",
            1,
            "DRBD WARNING - some-resource SyncSource 37.5% done, ETA 0:00:10",
        ),
        (
            "--events-file",
            "drbdsetup-events2_9-stream-connection-lost.txt",
            2,
            "DRBD CRITICAL - r0 Connecting (peer not connected)",
        ),
        (
            "--events-file",
            "drbdsetup-events2_9-two-volumes-lines-broken.txt",
            0,
            "DRBD OK - 1 resource Connected and UpToDate (Secondary/Secondary)",
        ),
        (
            "--proc-file",
            "proc-drbd_838-sync-source-delay-probe.txt",
            1,
            "DRBD WARNING - drbd0 SyncSource 66.2% done, ETA 0:00:05",
        ),
        (
            "--proc-file",
            "proc-drbd_838-sync-target-stalled.txt",
            1,
            "DRBD WARNING - drbd0 SyncTarget 66.2% done (stalled)",
        ),
        (
            "--proc-file",
            "proc-drbd_84-paused-sync-stalled.txt",
            1,
            "DRBD WARNING - drbd0 PausedSyncT 0.4% done, ETA 0:19:37 (paused by the user here: "
            "drbdadm resume-sync <resource of /dev/drbd0>)",
        ),
        (
            "--proc-file",
            "proc-drbd_84-paused-sync-peer.txt",
            1,
            "DRBD WARNING - drbd0 PausedSyncS 0.4% done, ETA 0:19:37 (paused by the peer: "
            "drbdadm resume-sync <resource of /dev/drbd0> on the peer)",
        ),
        (
            "--proc-file",
            "proc-drbd_84-paused-sync-after-dependency.txt",
            1,
            "DRBD WARNING - drbd0 SyncTarget 50.0% done, ETA 0:00:10, drbd1 PausedSyncT 0.1% "
            "done, ETA 0:00:00 (waits for the resync of its resync-after resource), "
            "2 of 2 resources degraded",
        ),
    ],
)
def test_check_drbd_state_and_first_line(option, name, code, first_line):
    run = run_plugin("check_drbd", option, fixture(name))
    assert (run.returncode, run.first_line) == (code, first_line), run


def test_a_named_resource_paused_by_the_user_names_its_resume_command():
    pasted = (
        "vm-disks role:Secondary\n  disk:Inconsistent\n  node05 role:Primary\n"
        "    replication:PausedSyncT peer-disk:UpToDate done:12.50 resync-suspended:user\n"
    )
    run = run_plugin("check_drbd", "--status-file", "-", stdin=pasted)
    assert run.returncode == 1
    assert run.first_line == (
        "DRBD WARNING - vm-disks PausedSyncT 12.5% done "
        "(paused by the user here: drbdadm resume-sync vm-disks)"
    ), run
    from kvmcluster.rules.drbd import DrbdPolicy, evaluate_resource

    (resource,) = parse_status_text(pasted).resources
    finding = evaluate_resource(resource, DrbdPolicy())
    assert (finding.kind, finding.fix) == ("drbd-resync-paused", "drbdadm resume-sync vm-disks")


def test_a_status_file_that_is_no_drbdadm_status_is_unknown_naming_it(tmp_path):
    bad = tmp_path / "status.txt"
    bad.write_text("r0 role:Primary\n  disk:UpToDate\n  peer role:Secondary\n    done:x\n")
    run = run_plugin("check_drbd", "--status-file", str(bad))
    assert run.returncode == 3
    assert run.first_line.startswith(f"DRBD UNKNOWN - cannot parse {bad}:4: done"), run


# --- check_drbd --libvirt: a resource in trouble names the VMs it carries -------------------

PVS = fixture(
    "pvs_rhel6-clustered-on-drbd.txt"
)  # drbd0 volimages, drbd1 volnode05, drbd2 volnode06


def vms_here(tmp_path, count: int = 14) -> str:
    """This node's libvirt (the real test driver): `count` VMs on volnode06, one on
    volimages, one shut off on volnode05."""
    from tests.libvirt_nodes import domain, hypervisor

    domains = [
        domain(f"vm{i:02d}", i, disks=[("block", f"/dev/volnode06/vm{i:02d}-disk0")])
        for i in range(1, count + 1)
    ]
    domains.append(domain("img01", 50, disks=[("block", "/dev/mapper/volimages-img01")]))
    domains.append(domain("off01", 51, "shutoff", disks=[("block", "/dev/volnode05/off01")]))
    return hypervisor(tmp_path, "node06", *domains)


def drbd_with_vms(tmp_path, proc: str, uri: str, *extra: str):
    return run_plugin(
        "check_drbd", "--proc-file", proc, "--libvirt", uri, "--pvs-file", PVS, *extra
    )


def standalone_drbd2(tmp_path) -> str:
    text = (FIXTURES / "proc-drbd_84-dual-primary-ok.txt").read_text()
    old = " 2: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate C r-----"
    assert old in text
    path = tmp_path / "proc-drbd"
    path.write_text(
        text.replace(old, " 2: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----")
    )
    return str(path)


class TestVmsOnDrbd:
    def test_a_standalone_resource_counts_the_vms_on_its_vg(self, tmp_path):
        run = drbd_with_vms(tmp_path, standalone_drbd2(tmp_path), vms_here(tmp_path), "-v")
        assert (run.returncode, run.first_line) == (
            2,
            "DRBD CRITICAL - drbd2 StandAlone (possible split brain), 14 VMs on volnode06 "
            "affected, 1 of 3 resources degraded",
        ), run
        assert any("VMs on it here: vm01, vm02" in line for line in run.lines), run

    def test_a_few_vms_are_named(self, tmp_path):
        run = drbd_with_vms(tmp_path, standalone_drbd2(tmp_path), vms_here(tmp_path, 2))
        assert "2 VMs on volnode06 (vm01, vm02) affected" in run.first_line, run

    def test_secondary_under_running_vms_is_critical_with_the_command(self, tmp_path):
        run = drbd_with_vms(
            tmp_path, fixture("proc-drbd_84-primary-secondary.txt"), vms_here(tmp_path)
        )
        assert (run.returncode, run.first_line) == (
            2,
            "DRBD CRITICAL - drbd0 Secondary under 1 VM on volimages (img01) running here "
            "(their disks need it Primary: drbdadm primary drbd0)",
        ), run
        alone = run_plugin(
            "check_drbd", "--proc-file", fixture("proc-drbd_84-primary-secondary.txt")
        )
        assert alone.returncode == 0  # --role any: Secondary is fine without VMs on it

    def test_suspended_io_under_vms_says_they_hang(self, tmp_path):
        run = drbd_with_vms(tmp_path, fixture("proc-drbd_84-suspended-io.txt"), vms_here(tmp_path))
        assert run.returncode == 2
        assert run.first_line.startswith(
            "DRBD CRITICAL - drbd0 I/O suspended under 1 VM on volimages (img01): they hang, "
            "WFConnection (peer not connected)"
        ), run

    def test_diskless_under_vms(self, tmp_path):
        run = drbd_with_vms(tmp_path, fixture("proc-drbd_84-diskless.txt"), vms_here(tmp_path))
        assert run.returncode == 2
        assert "Diskless under 1 VM on volimages (img01): their I/O goes to the peer" in (
            run.first_line
        ), run

    def test_healthy_resources_with_vms_read_as_without(self, tmp_path):
        proc = fixture("proc-drbd_84-dual-primary-ok.txt")
        run = drbd_with_vms(tmp_path, proc, vms_here(tmp_path))
        alone = run_plugin("check_drbd", "--proc-file", proc)
        assert (run.returncode, run.stdout) == (alone.returncode, alone.stdout)

    def test_an_unreadable_libvirt_names_no_vm_and_changes_nothing_else(self, tmp_path):
        proc = standalone_drbd2(tmp_path)
        run = drbd_with_vms(tmp_path, proc, "test:///nonexistent/node06.xml")
        alone = run_plugin("check_drbd", "--proc-file", proc)
        assert (run.returncode, run.first_line) == (alone.returncode, alone.first_line)
