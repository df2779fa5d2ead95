"""The text of `drbdadm status` / `drbdsetup status [--verbose] [--statistics]` (DRBD 9), as
admins paste it: into the model of `drbdsetup status --json`.

    home role:Secondary                          resource (column 0), its own more at 4
      volume:0 disk:UpToDate                     device (column 2), more at 6
      nina role:Secondary                        connection (column 2: the peer's name, or
        volume:0 peer-disk:UpToDate                node-id: without one), peer device at 4
      nono connection:Connecting

drbdsetup prints `connection:` only when not Connected and `replication:` only beyond
Established (--verbose prints both), `volume:` only with several volumes, and wraps long
lines at the indentation of their record (drbdsetup.c, wrap_printf). A line indented deeper
than a record's first line continues it; lines broken by hand for readability too. Colour
codes (a copy from a terminal) are ignored; a peer volume's `disk:` (the user guide's older
examples) is its peer disk.
"""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.drbd import Connection, Device, DrbdStatus, PeerDevice, Resource
from kvmcluster.parsers.values import KIB, MAX_SECONDS, integer, parser, percent

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NO_RESOURCES = ("# No currently configured DRBD found.", "No currently configured DRBD found.")
_NO_SUCH = re.compile(r"^(\S+): No such resource\s*$")


def _words(text: str, source: str, lineno: int) -> dict[str, str]:
    fields = {}
    for word in text.split():
        key, sep, value = word.partition(":")  # addresses hold colons: ipv4:10.0.0.1:7789
        if not sep or not key:
            raise ParseError(source, f"expected key:value, got {word[:40]!r}", lineno)
        fields[key] = value
    return fields


@parser("drbdadm status")
def parse_status_text(text: str, source: str = "drbdadm status") -> DrbdStatus:
    text = _ANSI.sub("", text)
    lines = [(n, line.rstrip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    status = DrbdStatus(source=source)
    if not lines:
        raise ParseError(source, "empty: no drbdadm status output")
    if len(lines) == 1 and lines[0][1].strip() in _NO_RESOURCES:
        return status
    base = min(len(line) - len(line.lstrip()) for _, line in lines)
    records: list[list] = []  # [kind, start column, first line number, head word, fields]
    for lineno, line in lines:
        column = len(line) - len(line.lstrip()) - base
        body = line.strip()
        if m := _NO_SUCH.match(body):
            raise ParseError(
                source, f"drbdsetup says there is no resource {m.group(1)[:60]!r}", lineno
            )
        kind = _kind(records, column, body)
        if kind is None:  # deeper than the record it follows: more of it
            if not records:
                raise ParseError(
                    source, f"a continuation before any resource: {body[:60]!r}", lineno
                )
            records[-1][4].update(_words(body, source, lineno))
            continue
        head, _, rest = body.partition(" ")
        if kind in ("resource", "connection") and ":" not in head:
            records.append([kind, column, lineno, head, _words(rest, source, lineno)])
        elif kind == "resource":
            raise ParseError(
                source, f"a resource line must start with its name: {body[:60]!r}", lineno
            )
        else:
            records.append([kind, column, lineno, "", _words(body, source, lineno)])
    _build(status, records, source)
    return status


def _kind(records: list, column: int, body: str) -> str | None:
    """What a line at this column starts, None when it continues the record before it."""
    if column == 0:
        return "resource"
    previous = records[-1] if records else None
    if previous is None:
        return None
    if column <= 2:
        head = body.split(None, 1)[0]
        if ":" not in head or head.startswith("node-id:"):
            return "connection"
        return "device"
    if column <= 4 and previous[0] in ("connection", "peer-device"):
        return "peer-device"
    return None


def _build(status: DrbdStatus, records: list, source: str) -> None:
    resource = connection = None
    for kind, _column, lineno, head, fields in records:
        if kind == "resource":
            suspended = fields.get("suspended", "no")
            resource = Resource(
                head,
                fields.get("role", "Unknown"),
                suspended=() if suspended == "no" else tuple(suspended.split(",")),
            )
            status.resources.append(resource)
            connection = None
        elif kind == "device":
            if connection is not None:
                raise ParseError(source, "a local volume after the peer connections", lineno)
            resource.devices.append(_device(fields, source, lineno))
        elif kind == "connection":
            connection = Connection(
                fields.get("connection", "Connected"),
                peer_role=fields.get("role", "Unknown"),
                peer_name=head or None,
                peer_node_id=_opt(fields, "node-id", source, lineno),
            )
            resource.connections.append(connection)
        else:
            connection.peer_devices.append(_peer_device(fields, connection, source, lineno))
    for resource in status.resources:
        if not resource.devices:
            raise ParseError(source, f"resource {resource.name!r}: no disk: line")


def _opt(fields: dict, key: str, source: str, lineno: int) -> int | None:
    value = fields.get(key)
    return None if value is None else integer(value, source, lineno, key)


def _kib(fields: dict, key: str, source: str, lineno: int) -> int | None:
    value = _opt(fields, key, source, lineno)
    return None if value is None else value * KIB


def _device(fields: dict, source: str, lineno: int) -> Device:
    if "disk" not in fields:
        raise ParseError(source, "a volume line without disk:", lineno)
    quorum = fields.get("quorum")
    return Device(
        _opt(fields, "volume", source, lineno) or 0,
        _opt(fields, "minor", source, lineno),
        fields["disk"],
        client=fields.get("client") == "yes",
        quorum=None if quorum is None else quorum == "yes",
        size=_kib(fields, "size", source, lineno),
        read=_kib(fields, "read", source, lineno),
        written=_kib(fields, "written", source, lineno),
        local_pending=_opt(fields, "lower-pending", source, lineno),
        app_pending=_opt(fields, "upper-pending", source, lineno),
    )


def _peer_device(fields: dict, connection: Connection, source: str, lineno: int) -> PeerDevice:
    done = fields.get("done")
    eta = fields.get("eta")
    default_replication = "Established" if connection.state == "Connected" else "Off"
    return PeerDevice(
        _opt(fields, "volume", source, lineno) or 0,
        fields.get("replication", default_replication),
        fields.get("peer-disk", fields.get("disk", "DUnknown")),
        peer_client=fields.get("peer-client") == "yes",
        out_of_sync=_kib(fields, "out-of-sync", source, lineno),
        resync_done_percent=None if done is None else percent(done, source, lineno, "done"),
        eta_seconds=None if eta in (None, "nan") else _eta(eta, source, lineno),
        resync_suspended=fields.get("resync-suspended", "no"),
        sent=_kib(fields, "sent", source, lineno),
        received=_kib(fields, "received", source, lineno),
        pending=_opt(fields, "pending", source, lineno),
        unacked=_opt(fields, "unacked", source, lineno),
    )


def _eta(value: str, source: str, lineno: int) -> int:
    seconds = integer(value, source, lineno, "eta")
    if seconds > MAX_SECONDS:
        raise ParseError(source, f"eta:{value[:20]} is not an estimate", lineno)
    return seconds
