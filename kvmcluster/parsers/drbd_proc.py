"""/proc/drbd of DRBD 8.0 (`st:`), 8.3 and 8.4 (`ro:`); DRBD 9 lists only its version."""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.drbd import (
    REPLICATION_STATES,
    Connection,
    Device,
    DrbdStatus,
    PeerDevice,
    Resource,
)

KIB = 1024

_VERSION = re.compile(r"^version:\s*(\S+)")
_HEADER = re.compile(r"^(GIT-hash|srcversion|Transports|built-in)\b")
_MINOR = re.compile(r"^\s*(\d+):\s+cs:(\S+)(.*)$")
_STATE_REST = re.compile(
    r"^\s+(?:ro|st):(\w+)/(\w+)\s+ds:(\w+)/(\w+)(?:\s+([ABC]))?(?:\s+([rs][-\w]*))?\s*$"
)
_PROGRESS = re.compile(
    r"^\s*\[[=>.]*\]\s+(sync'ed|verified):\s*([\d.]+)%\s+\((\d+)/(\d+)\)([KM])\s*$"
)
_FINISH = re.compile(
    r"^\s*finish:\s+(\d+):(\d\d):(\d\d)\s+speed:\s+([\d,]+)\s+\(([\d,]+)\)"
    r"(?:\s+want:\s+[\d,]+)?\s*K/sec(\s+\(stalled\))?\s*$"
)
# Extra lines some versions print with proc_details or during online verify.
_DETAIL = re.compile(r"^\s+(resync:|act_log:|\d+% sector pos:|blocked on activity log)")


def parse_proc_drbd(text: str, source: str = "/proc/drbd") -> DrbdStatus:
    status = DrbdStatus(source=source)
    current: Resource | None = None
    seen_version = False
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if not stripped:  # DRBD prints a blank line for each missing minor
            continue
        # Cheap dispatch on the line's start first: this loop runs for every line of every
        # minor, every minute.
        if stripped.startswith("ns:") and current is not None:
            _apply_counters(current, stripped, source, lineno)
        elif stripped[0].isdigit() and (m := _MINOR.match(line)):
            current = _parse_minor(m, status, source, lineno)
        elif m := _VERSION.match(line):
            status.version = m.group(1)
            seen_version = True
        elif _HEADER.match(line):
            continue
        elif current is None:
            raise ParseError(source, f"unexpected line {stripped[:60]!r}", lineno)
        elif m := _PROGRESS.match(line):
            _apply_progress(current, m)
        elif m := _FINISH.match(line):
            _apply_finish(current, m)
        elif not _DETAIL.match(line):
            raise ParseError(source, f"unexpected line {stripped[:60]!r}", lineno)
    if not seen_version:
        raise ParseError(source, "no 'version:' line: this is not /proc/drbd output")
    return status


def _parse_minor(m: re.Match, status: DrbdStatus, source: str, lineno: int) -> Resource | None:
    minor, cs, rest = int(m.group(1)), m.group(2), m.group(3)
    if cs == "Unconfigured":
        status.unconfigured_minors.append(minor)
        return None
    state = _STATE_REST.match(rest)
    if not state:
        raise ParseError(source, f"minor {minor}: cannot read roles and disk states", lineno)
    role, peer_role, disk, peer_disk, _protocol, flags = state.groups()
    if cs in REPLICATION_STATES:
        connection_state, replication = "Connected", cs
    elif cs == "Connected":
        connection_state, replication = "Connected", "Established"
    else:
        connection_state, replication = cs, "Off"
    suspended = bool(flags) and flags[0] == "s"
    resource = Resource(
        name=f"drbd{minor}",
        role=role,
        devices=[Device(volume=0, minor=minor, disk=disk)],
        connections=[
            Connection(
                state=connection_state,
                peer_role=peer_role,
                peer_devices=[PeerDevice(volume=0, replication=replication, peer_disk=peer_disk)],
            )
        ],
        suspended=("io",) if suspended else (),
    )
    status.resources.append(resource)
    return resource


def _apply_counters(resource: Resource, line: str, source: str, lineno: int) -> None:
    """`ns:.. nr:.. dw:.. dr:.. al:.. bm:.. lo:.. pe:.. ua:.. ap:.. [ep:.. wo:.. oos:..]` (KiB)."""
    counters = {}
    for word in line.split():
        key, _, value = word.partition(":")
        counters[key] = value
    try:
        device = resource.devices[0]
        peer = resource.connections[0].peer_devices[0]
        get = counters.get
        peer.sent = int(get("ns")) * KIB if "ns" in counters else None
        peer.received = int(get("nr")) * KIB if "nr" in counters else None
        device.written = int(get("dw")) * KIB if "dw" in counters else None
        device.read = int(get("dr")) * KIB if "dr" in counters else None
        device.local_pending = int(get("lo")) if "lo" in counters else None
        peer.pending = int(get("pe")) if "pe" in counters else None
        peer.unacked = int(get("ua")) if "ua" in counters else None
        device.app_pending = int(get("ap")) if "ap" in counters else None
        peer.out_of_sync = int(get("oos")) * KIB if "oos" in counters else None
    except ValueError as exc:
        raise ParseError(source, f"bad counter value ({exc})", lineno) from None


def _apply_progress(resource: Resource, m: re.Match) -> None:
    peer = resource.connections[0].peer_devices[0]
    peer.resync_done_percent = float(m.group(2))


def _apply_finish(resource: Resource, m: re.Match) -> None:
    peer = resource.connections[0].peer_devices[0]
    hours, minutes, seconds = int(m.group(1)), int(m.group(2)), int(m.group(3))
    peer.eta_seconds = hours * 3600 + minutes * 60 + seconds
    peer.stalled = bool(m.group(6))
