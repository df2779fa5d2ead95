"""`drbdsetup events2 --now --statistics` (DRBD 9 and 8.4.6+ kernels), with or without
`--timestamps`. Later `change`/`destroy` lines of a longer capture are applied in order.

A stream (`drbdsetup events2` left running: the `exists` block, `exists -`, then `create`,
`change` and `destroy` lines as they come) is folded to its final state. `--diff` values
(`role:Secondary->Primary`) count by their new side; colour codes of a terminal copy are
ignored; lines broken for readability (the user guide's examples: the rest of a line
indented on the next) are joined."""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.drbd import Connection, Device, DrbdStatus, PeerDevice, Resource
from kvmcluster.parsers.values import MAX_SECONDS, kib, opt_int, parser

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+(?:[+-]\d\d:?\d\d|Z)?\s+")
_EVENTS = {"exists", "create", "change", "destroy", "call", "response"}
_OBJECTS = {"resource", "connection", "device", "peer-device", "path", "helper", "-"}


def _fields(words: list[str], source: str, lineno: int) -> dict[str, str]:
    fields = {}
    for word in words:
        key, sep, value = word.partition(":")  # values such as addresses hold colons
        if not sep or not key:
            raise ParseError(source, f"expected key:value, got {word[:40]!r}", lineno)
        if "->" in value:  # --diff: old->new
            value = value.rpartition("->")[2]
        fields[key] = value
    return fields


@parser("drbdsetup events2")
def parse_events2(text: str, source: str = "drbdsetup events2") -> DrbdStatus:
    resources: dict[str, dict] = {}
    connections: dict[tuple, dict] = {}
    devices: dict[tuple, dict] = {}
    peer_devices: dict[tuple, dict] = {}
    seen_any = False
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    for lineno, line in _joined_lines(text):
        words = line.split()
        if len(words) < 2 or words[0] not in _EVENTS or words[1] not in _OBJECTS:
            raise ParseError(source, f"not an events2 line: {line[:60]!r}", lineno)
        seen_any = True
        event, obj = words[0], words[1]
        if obj in ("-", "path", "helper") or event in ("call", "response"):
            continue
        fields = _fields(words[2:], source, lineno)
        name = fields.get("name")
        if name is None:
            raise ParseError(source, f"{obj} event without name:", lineno)
        peer = fields.get("peer-node-id") or fields.get("conn-name") or ""
        volume = fields.get("volume", "0")
        table, key = {
            "resource": (resources, name),
            "connection": (connections, (name, peer)),
            "device": (devices, (name, volume)),
            "peer-device": (peer_devices, (name, peer, volume)),
        }[obj]
        if event == "destroy":
            table.pop(key, None)
        else:
            table.setdefault(key, {}).update(fields)
    if not seen_any:
        raise ParseError(source, "no events2 lines")
    try:
        return _build(source, resources, connections, devices, peer_devices)
    except (KeyError, ValueError, OverflowError) as exc:
        raise ParseError(source, f"missing or bad field {exc}") from None


def _joined_lines(text: str):
    """(line number, line without timestamp) per event; an indented line continues the one
    before it (events2 itself never indents)."""
    pending: tuple[int, str] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if raw[0] in " \t" and pending is not None:
            pending = (pending[0], f"{pending[1]} {raw.strip()}")
            continue
        if pending is not None:
            yield pending
        pending = (lineno, _TIMESTAMP.sub("", raw.strip()))
    if pending is not None:
        yield pending


def _eta(value: str | None) -> int | None:
    """events2 --statistics `eta:` (seconds, `nan` when drbdsetup cannot estimate)."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    seconds = int(value)
    return seconds if seconds <= MAX_SECONDS else None


def _percent(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 100:  # also nan and inf
        raise ValueError(f"done:{value[:40]} is not a percentage")
    return number


def _yes(fields: dict, key: str) -> bool:
    return fields.get(key) == "yes"


def _build(source, resources, connections, devices, peer_devices) -> DrbdStatus:
    status = DrbdStatus(source=source)
    for name, r in resources.items():
        suspended = r.get("suspended", "no")
        resource = Resource(
            name=name,
            role=r.get("role", "Unknown"),
            suspended=() if suspended == "no" else tuple(suspended.split(",")),
        )
        for (res_name, volume), d in sorted(devices.items(), key=lambda kv: int(kv[0][1])):
            if res_name != name:
                continue
            quorum = d.get("quorum")
            resource.devices.append(
                Device(
                    volume=int(volume),
                    minor=opt_int(d, "minor"),
                    disk=d.get("disk", "DUnknown"),
                    client=_yes(d, "client"),
                    quorum=None if quorum is None else quorum == "yes",
                    size=kib(d, "size"),
                    read=kib(d, "read"),
                    written=kib(d, "written"),
                    local_pending=opt_int(d, "lower-pending"),
                    app_pending=opt_int(d, "upper-pending"),
                )
            )
        for (res_name, peer), c in connections.items():
            if res_name != name:
                continue
            connection = Connection(
                state=c.get("connection", "Unknown"),
                peer_role=c.get("role", "Unknown"),
                peer_name=c.get("conn-name"),
                peer_node_id=opt_int(c, "peer-node-id"),
            )
            for (pd_res, pd_peer, volume), p in sorted(
                peer_devices.items(), key=lambda kv: int(kv[0][2])
            ):
                if pd_res != name or pd_peer != peer:
                    continue
                done = p.get("done")
                connection.peer_devices.append(
                    PeerDevice(
                        volume=int(volume),
                        replication=p.get("replication", "Off"),
                        peer_disk=p.get("peer-disk", "DUnknown"),
                        peer_client=_yes(p, "peer-client"),
                        out_of_sync=kib(p, "out-of-sync"),
                        resync_done_percent=_percent(done) if done is not None else None,
                        eta_seconds=_eta(p.get("eta")),
                        resync_suspended=p.get("resync-suspended", "no"),
                        sent=kib(p, "sent"),
                        received=kib(p, "received"),
                        pending=opt_int(p, "pending"),
                        unacked=opt_int(p, "unacked"),
                    )
                )
            resource.connections.append(connection)
        status.resources.append(resource)
    return status
