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
_COUNTERS = re.compile(r"^\s+ns:")
_COUNTER = re.compile(r"(\w+):(\S+)")
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
        if not line.strip():  # DRBD prints a blank line for each missing minor
            continue
        if m := _VERSION.match(line):
            status.version = m.group(1)
            seen_version = True
            continue
        if _HEADER.match(line):
            continue
        if m := _MINOR.match(line):
            current = _parse_minor(m, status, source, lineno)
            continue
        if current is None:
            raise ParseError(source, f"unexpected line {line.strip()[:60]!r}", lineno)
        if _COUNTERS.match(line):
            _apply_counters(current, dict(_COUNTER.findall(line)), source, lineno)
        elif m := _PROGRESS.match(line):
            _apply_progress(current, m)
        elif m := _FINISH.match(line):
            _apply_finish(current, m)
        elif not _DETAIL.match(line):
            raise ParseError(source, f"unexpected line {line.strip()[:60]!r}", lineno)
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


def _kib(counters: dict[str, str], key: str) -> int | None:
    value = counters.get(key)
    return int(value) * KIB if value is not None else None


def _int(counters: dict[str, str], key: str) -> int | None:
    value = counters.get(key)
    return int(value) if value is not None else None


def _apply_counters(resource: Resource, counters: dict[str, str], source: str, lineno: int):
    try:
        device = resource.devices[0]
        peer = resource.connections[0].peer_devices[0]
        peer.sent = _kib(counters, "ns")
        peer.received = _kib(counters, "nr")
        device.written = _kib(counters, "dw")
        device.read = _kib(counters, "dr")
        device.local_pending = _int(counters, "lo")
        peer.pending = _int(counters, "pe")
        peer.unacked = _int(counters, "ua")
        device.app_pending = _int(counters, "ap")
        peer.out_of_sync = _kib(counters, "oos")
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
