"""The three DRBD sources give one model: parser tests assert that model."""

from __future__ import annotations

import pytest

from kvmcluster.errors import ParseError
from kvmcluster.parsers.drbd_events import parse_events2
from kvmcluster.parsers.drbd_json import parse_status_json
from kvmcluster.parsers.drbd_proc import parse_proc_drbd
from tests.plugin_runner import FIXTURES

KIB = 1024


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


def by_name(status):
    return {r.name: r for r in status.resources}


class TestProcDrbd:
    def test_84_dual_primary_has_three_connected_resources_with_counters(self):
        status = parse_proc_drbd(text("proc-drbd_84-dual-primary-ok.txt"))
        assert status.version == "8.4.11-1"
        assert [r.name for r in status.resources] == ["drbd0", "drbd1", "drbd2"]
        r0 = status.resources[0]
        assert (r0.role, r0.devices[0].disk, r0.devices[0].minor) == ("Primary", "UpToDate", 0)
        conn = r0.connections[0]
        assert (conn.state, conn.peer_role) == ("Connected", "Primary")
        peer = conn.peer_devices[0]
        assert (peer.replication, peer.peer_disk) == ("Established", "UpToDate")
        assert peer.sent == 1048576 * KIB and peer.received == 524288 * KIB
        assert r0.devices[0].read == 2097152 * KIB and peer.out_of_sync == 0

    def test_80_uses_st_and_has_no_oos_counter(self):
        status = parse_proc_drbd(text("proc-drbd_80-ok.txt"))
        r0 = status.resources[0]
        assert (r0.role, r0.connections[0].peer_role) == ("Primary", "Secondary")
        assert r0.connections[0].peer_devices[0].out_of_sync is None

    def test_83_srcversion_header_is_accepted(self):
        status = parse_proc_drbd(text("proc-drbd_83-srcversion-ok.txt"))
        assert status.version == "8.3.11" and len(status.resources) == 2

    def test_standalone_without_protocol_letter(self):
        r0 = parse_proc_drbd(text("proc-drbd_84-standalone-split-brain.txt")).resources[0]
        assert r0.connections[0].state == "StandAlone"
        assert r0.connections[0].peer_role == "Unknown"
        assert r0.connections[0].peer_devices[0].peer_disk == "DUnknown"

    def test_sync_target_progress_eta_from_tab_indented_lines(self):
        r1 = by_name(parse_proc_drbd(text("proc-drbd_84-sync-target.txt")))["drbd1"]
        peer = r1.connections[0].peer_devices[0]
        assert peer.replication == "SyncTarget" and peer.resyncing
        assert peer.resync_done_percent == 24.5
        assert peer.eta_seconds == 5 * 60 + 12
        assert r1.connections[0].state == "Connected"

    def test_sync_source_progress_from_space_indented_lines(self):
        peer = parse_proc_drbd(text("proc-drbd_83-sync-source-space-indented.txt")).resources[0]
        peer = peer.connections[0].peer_devices[0]
        assert (peer.replication, peer.resync_done_percent, peer.eta_seconds) == (
            "SyncSource",
            11.5,
            343,
        )

    def test_stalled_paused_sync(self):
        peer = parse_proc_drbd(text("proc-drbd_84-paused-sync-stalled.txt")).resources[0]
        peer = peer.connections[0].peer_devices[0]
        assert peer.replication == "PausedSyncT" and peer.stalled
        assert peer.resync_done_percent == 0.4

    def test_verify_progress(self):
        peer = parse_proc_drbd(text("proc-drbd_84-verify.txt")).resources[0]
        assert peer.connections[0].peer_devices[0].resync_done_percent == 41.2

    def test_unconfigured_minors_and_blank_lines(self):
        status = parse_proc_drbd(text("proc-drbd_84-unconfigured-gaps.txt"))
        assert [r.minors for r in status.resources] == [[0], [4]]
        assert status.unconfigured_minors == [1]

    def test_suspended_flag(self):
        r0 = parse_proc_drbd(text("proc-drbd_84-suspended-io.txt")).resources[0]
        assert r0.suspended == ("io",)

    def test_drbd9_proc_lists_no_resources(self):
        status = parse_proc_drbd(text("proc-drbd_9-version-only.txt"))
        assert status.is_drbd9_without_resources

    @pytest.mark.parametrize(
        "content, reason",
        [
            ("", "no 'version:' line"),
            ("hello world\n", "unexpected line"),
            (" 0: cs:Connected ro:Prim\n", "cannot read roles"),
        ],
    )
    def test_bad_input_raises_parse_error(self, content, reason):
        with pytest.raises(ParseError, match=reason):
            parse_proc_drbd(content, "x")

    def test_truncated_capture_names_the_line(self):
        with pytest.raises(ParseError, match=r"x:3: minor 0"):
            parse_proc_drbd(text("proc-drbd_84-truncated.txt"), "x")


class TestStatusJson:
    def test_ok_resources_devices_and_peers(self):
        status = parse_status_json(text("drbdsetup-status-json_9-ok.json"))
        assert [r.name for r in status.resources] == ["volimages", "volnode05", "volnode06"]
        r = status.resources[1]
        assert r.devices[0].minor == 1 and r.devices[0].size == 20970844 * KIB
        assert r.connections[0].peer_name == "node06" and r.connections[0].peer_node_id == 1
        assert r.connections[0].peer_devices[0].in_sync_percent == 100.0

    def test_three_nodes_two_connections(self):
        r = parse_status_json(text("drbdsetup-status-json_9-three-nodes-ok.json")).resources[0]
        assert [(c.peer_name, c.peer_role) for c in r.connections] == [
            ("node06", "Primary"),
            ("node07", "Secondary"),
        ]

    def test_sync_details(self):
        r = by_name(parse_status_json(text("drbdsetup-status-json_9-sync-target.json")))
        peer = r["volnode05"].connections[0].peer_devices[0]
        assert peer.replication == "SyncTarget"
        assert peer.resync_done_percent == 24.4 and peer.eta_seconds == 312
        assert peer.out_of_sync == 15853568 * KIB

    def test_quorum_and_suspension(self):
        r = parse_status_json(text("drbdsetup-status-json_9-quorum-lost.json")).resources[0]
        assert r.devices[0].quorum is False and r.suspended == ("io",)

    def test_intentional_diskless(self):
        r = parse_status_json(text("drbdsetup-status-json_9-diskless-client.json")).resources[0]
        assert r.devices[0].disk == "Diskless" and r.devices[0].client is True

    def test_older_drbdsetup_suspend_reasons(self):
        doc = (
            '[{"name": "r0", "role": "Primary", "suspended": true, "suspended-quorum": true,'
            ' "devices": [], "connections": []}]'
        )
        assert parse_status_json(doc).resources[0].suspended == ("quorum",)

    @pytest.mark.parametrize(
        "content, reason",
        [
            ("", "not JSON"),
            ("{}", "JSON list"),
            ('[{"role": "Primary"}]', "missing or bad"),
            (  # 1e400 decodes as float infinity: no byte count
                '[{"name": "r0", "role": "Primary", "devices": [{"volume": 0, "size": 1e400,'
                ' "disk-state": "UpToDate"}]}]',
                "resource r0: missing or bad field",
            ),
        ],
    )
    def test_bad_input(self, content, reason):
        with pytest.raises(ParseError, match=reason):
            parse_status_json(content, "x")


class TestEvents2:
    def test_same_model_as_json_for_healthy_resources(self):
        status = parse_events2(text("drbdsetup-events2_9-ok.txt"))
        r = by_name(status)["volnode05"]
        assert r.role == "Primary" and r.devices[0].minor == 1
        assert r.connections[0].peer_name == "node06"
        assert r.connections[0].peer_devices[0].replication == "Established"

    def test_timestamps_and_done_percent(self):
        r = parse_events2(text("drbdsetup-events2_9-timestamps-sync-source.txt")).resources[0]
        peer = r.connections[0].peer_devices[0]
        assert peer.replication == "SyncSource" and peer.resync_done_percent == 61.25

    def test_84_kernel_without_peer_node_ids(self):
        status = by_name(parse_events2(text("drbdsetup-events2_84-kernel-wfconnection.txt")))
        assert status["drbd0"].connections[0].state == "WFConnection"
        assert status["drbd1"].connections[0].peer_devices[0].peer_disk == "UpToDate"

    def test_suspended_reasons_and_quorum(self):
        r = parse_events2(text("drbdsetup-events2_9-quorum-suspended.txt")).resources[0]
        assert r.suspended == ("quorum",) and r.devices[0].quorum is False
        assert len(r.connections) == 2

    def test_values_split_on_first_colon_only(self):
        doc = (
            "exists resource name:r0 role:Secondary suspended:no\n"
            "exists path name:r0 peer-node-id:1 conn-name:b local:ipv4:10.0.0.1:7789\n"
            "exists connection name:r0 peer-node-id:1 conn-name:b connection:Connected"
            " role:Primary\n"
        )
        assert parse_events2(doc).resources[0].connections[0].peer_role == "Primary"

    def test_change_and_destroy_events_apply_in_order(self):
        doc = (
            "exists resource name:r0 role:Secondary suspended:no\n"
            "exists resource name:r1 role:Secondary suspended:no\n"
            "exists -\n"
            "change resource name:r0 role:Primary\n"
            "destroy resource name:r1\n"
        )
        status = parse_events2(doc)
        assert [(r.name, r.role) for r in status.resources] == [("r0", "Primary")]

    @pytest.mark.parametrize("content", ["", "garbage line\n", "exists resource role:Primary\n"])
    def test_bad_input(self, content):
        with pytest.raises(ParseError):
            parse_events2(content, "x")
