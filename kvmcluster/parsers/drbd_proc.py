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
from kvmcluster.parsers.values import (
    DATA_ERRORS,
    MAX_DIGITS,
    MAX_SECONDS,
    integer,
    parser,
    percent,
    reason_of,
)

KIB = 1024

_VERSION = re.compile(r"^version:\s*(\S+)")
_HEADER = re.compile(r"^(GIT-hash|srcversion|Transports|built-in)\b")
# A configured minor: number, connection state, roles, disk states, I/O flags.
_MINOR_LINE = re.compile(
    r"^\s*(\d+):\s+cs:(\S+)\s+(?:ro|st):(\w+)/(\w+)\s+ds:(\w+)/(\w+)"
    r"(?:\s+[ABC])?(?:\s+([rs][-\w]*))?\s*$"
)
# Any other minor line: its number and connection state.
_MINOR = re.compile(r"^\s*(\d+):\s+cs:(\S+)")
# A configured minor and its counters line, as 8.3/8.4 print them: the usual case, in one match.
# Numbers of at most 20 digits (2**64 has 20): a longer one is read, and refused, line by line.
_USUAL_MINOR = re.compile(
    r" *(\d{1,20}): cs:(\w+) ro:(\w+)/(\w+) ds:(\w+)/(\w+) [ABC] ([-\w]+)\n"
    r" +ns:(\d{1,20}) nr:(\d{1,20}) dw:(\d{1,20}) dr:(\d{1,20}) al:\d+ bm:\d+ lo:(\d{1,20})"
    r" pe:(\d{1,20}) ua:(\d{1,20}) ap:(\d{1,20}) ep:\d+ wo:\w oos:(\d{1,20})(?:\n|\Z)"
)
_USED_COUNTERS = ("ns", "nr", "dw", "dr", "lo", "pe", "ua", "ap", "oos")
_COUNTER = re.compile(r"(\w+):(\S*)")
# 8.3.8/8.3.9 add ` delay_probe: N` (SyncSource) or ` queue_delay: N.N ms` (SyncTarget).
_PROGRESS = re.compile(
    r"^\s*\[[=>.]*\]\s+(sync'ed|verified):\s*([\d.]+)%\s+\((\d+)/(\d+)\)([KM])"
    r"(?:\s+delay_probe:\s+\d+|\s+queue_delay:\s+[\d.]+ ms)?\s*$"
)
# DRBD up to 8.3.9 prints `stalled` instead of the finish: line when the resync made no
# progress for 20 seconds.
_STALLED = re.compile(r"^\s*stalled\s*$")
# The resync flags of the I/O state (2nd to 4th): a resync paused by a resync-after
# dependency ('a'), by the peer ('p'), by the user here ('u'); DRBD 9's words for them.
_PAUSE_FLAGS = ((1, "a", "dependency"), (2, "p", "peer"), (3, "u", "user"))
_FINISH = re.compile(
    r"^\s*finish:\s+(\d+):(\d\d):(\d\d)\s+speed:\s+([\d,]+)\s+\(([\d,]+)\)"
    r"(?:\s+want:\s+[\d,]+)?\s*K/sec(\s+\(stalled\))?\s*$"
)
# Extra lines some versions print with proc_details or during online verify.
_DETAIL = re.compile(r"^\s+(resync:|act_log:|\d+% sector pos:|blocked on activity log)")


@parser("/proc/drbd")
def parse_proc_drbd(text: str, source: str = "/proc/drbd") -> DrbdStatus:
    status = DrbdStatus(source=source)
    current: Resource | None = None
    seen_version = False
    lineno, pos, end = 0, 0, len(text)
    try:  # free until raised: what the checks below did not foresee still names file and line
        while pos < end:
            # A configured minor and its counters in the usual 8.3/8.4 shape: both lines in one
            # match. This loop runs for every minor, every minute, on every node.
            if m := _USUAL_MINOR.match(text, pos):
                minor, cs, role, peer_role, disk, peer_disk, flags, *counters = m.groups()
                current = _resource(status, minor, cs, role, peer_role, disk, peer_disk, flags)
                _set_counters(current, *map(int, counters))
                lineno, pos = lineno + 2, m.end()
                continue
            newline = text.find("\n", pos)
            newline = end if newline < 0 else newline
            line, pos, lineno = text[pos:newline].rstrip("\r"), newline + 1, lineno + 1
            stripped = line.lstrip()
            if not stripped:  # DRBD prints a blank line for each missing minor
                continue
            if stripped.startswith("ns:") and current is not None:
                _apply_counters(current, stripped, source, lineno)
            elif stripped[0].isdigit() and (m := _MINOR_LINE.match(line)):
                _check_digits(m.group(1), source, lineno)
                current = _resource(status, *m.groups())
            elif stripped[0].isdigit() and (m := _MINOR.match(line)):
                current = _other_minor(m, status, source, lineno)
            elif m := _VERSION.match(line):
                status.version = m.group(1)
                seen_version = True
            elif _HEADER.match(line):
                continue
            elif current is None:
                raise ParseError(source, f"unexpected line {stripped[:60]!r}", lineno)
            elif m := _PROGRESS.match(line):
                _apply_progress(current, m, source, lineno)
            elif m := _FINISH.match(line):
                _apply_finish(current, m, source, lineno)
            elif _STALLED.match(line):
                current.connections[0].peer_devices[0].stalled = True
            elif not _DETAIL.match(line):
                raise ParseError(source, f"unexpected line {stripped[:60]!r}", lineno)
    except DATA_ERRORS as exc:
        raise ParseError(source, reason_of(exc), lineno or None) from None
    if not seen_version:
        raise ParseError(source, "no 'version:' line: this is not /proc/drbd output")
    return status


def _check_digits(number: str, source: str, lineno: int) -> None:
    if len(number) > MAX_DIGITS:
        raise ParseError(source, f"a number of more than {MAX_DIGITS} digits", lineno)


def _other_minor(m: re.Match, status: DrbdStatus, source: str, lineno: int) -> None:
    """A minor line without roles and disk states: unconfigured, or unreadable."""
    _check_digits(m.group(1), source, lineno)
    minor = int(m.group(1))
    if m.group(2) != "Unconfigured":
        raise ParseError(source, f"minor {minor}: cannot read roles and disk states", lineno)
    status.unconfigured_minors.append(minor)


def _resource(
    status: DrbdStatus,
    minor: str,
    cs: str,
    role: str,
    peer_role: str,
    disk: str,
    peer_disk: str,
    flags: str | None,
) -> Resource:
    if cs == "Connected":
        connection_state, replication = "Connected", "Established"
    elif cs in REPLICATION_STATES:
        connection_state, replication = "Connected", cs
    else:
        connection_state, replication = cs, "Off"
    peer_device = PeerDevice(0, replication, peer_disk, resync_suspended=_paused(flags))
    resource = Resource(
        f"drbd{minor}",
        role,
        devices=[Device(0, int(minor), disk)],
        connections=[Connection(connection_state, peer_role, peer_devices=[peer_device])],
        suspended=("io",) if flags and flags[0] == "s" else (),
    )
    status.resources.append(resource)
    return resource


def _paused(flags: str | None) -> str:
    """Why a resync is paused, in DRBD 9's words ("user", "peer,dependency"), or "no"."""
    if not flags or flags[1:4] in ("---", "--", "-", ""):
        return "no"
    reasons = [word for pos, char, word in _PAUSE_FLAGS if flags[pos : pos + 1] == char]
    return ",".join(sorted(reasons, key=("user", "peer", "dependency").index)) or "no"


def _apply_counters(resource: Resource, line: str, source: str, lineno: int) -> None:
    """`ns:.. nr:.. dw:.. dr:.. al:.. bm:.. lo:.. pe:.. ua:.. ap:.. [ep:.. wo:.. oos:..]` (KiB)."""
    counters = dict(_COUNTER.findall(line))
    try:
        values = [None if (v := counters.get(k)) is None else _counter(v) for k in _USED_COUNTERS]
    except ValueError as exc:
        raise ParseError(source, f"bad counter value ({exc})", lineno) from None
    _set_counters(resource, *values)


def _counter(value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS):
        raise ValueError(f"not a whole number of 1 to {MAX_DIGITS} digits: {value[:40]!r}")
    return int(value)


def _set_counters(resource: Resource, ns, nr, dw, dr, lo, pe, ua, ap, oos) -> None:
    """The counters of /proc/drbd (None: not printed), volumes in KiB, queues in requests."""
    device = resource.devices[0]
    peer = resource.connections[0].peer_devices[0]
    peer.sent = None if ns is None else ns * KIB
    peer.received = None if nr is None else nr * KIB
    device.written = None if dw is None else dw * KIB
    device.read = None if dr is None else dr * KIB
    device.local_pending, device.app_pending = lo, ap
    peer.pending, peer.unacked = pe, ua
    peer.out_of_sync = None if oos is None else oos * KIB


def _apply_progress(resource: Resource, m: re.Match, source: str, lineno: int) -> None:
    peer = resource.connections[0].peer_devices[0]
    peer.resync_done_percent = percent(m.group(2), source, lineno, f"{m.group(1)} percentage")


def _apply_finish(resource: Resource, m: re.Match, source: str, lineno: int) -> None:
    peer = resource.connections[0].peer_devices[0]
    _check_digits(m.group(1), source, lineno)
    hours, minutes, seconds = int(m.group(1)), int(m.group(2)), int(m.group(3))
    eta = hours * 3600 + minutes * 60 + seconds
    if eta > MAX_SECONDS:
        raise ParseError(source, f"finish: {m.group(1)[:20]} hours is not an estimate", lineno)
    peer.eta_seconds = eta
    speed = m.group(4).replace(",", "")  # K/sec, the current rate (the average follows)
    peer.resync_speed = integer(speed, source, lineno, "speed") * KIB
    peer.stalled = bool(m.group(6))
