"""DRBD 9 `drbdsetup status --json --statistics`.

Sizes and counters are printed in KiB; `estimated-seconds-to-finish` is 987654321 when
drbdsetup cannot estimate.
"""

from __future__ import annotations

import json

from kvmcluster.errors import ParseError
from kvmcluster.model.drbd import Connection, Device, DrbdStatus, PeerDevice, Resource
from kvmcluster.parsers.values import kib, opt_int

_NO_ESTIMATE = 987654321


def parse_status_json(text: str, source: str = "drbdsetup status --json") -> DrbdStatus:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ParseError(source, f"not JSON ({exc})") from None
    if not isinstance(data, list):
        raise ParseError(source, "expected a JSON list of resources")
    status = DrbdStatus(source=source)
    for index, item in enumerate(data):
        try:
            status.resources.append(_resource(item))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            what = item.get("name", f"#{index}") if isinstance(item, dict) else f"#{index}"
            raise ParseError(source, f"resource {what}: missing or bad field {exc}") from None
    return status


def _suspend_reasons(item: dict) -> tuple[str, ...]:
    reasons = tuple(
        reason
        for reason, key in (
            ("user", "suspended-user"),
            ("no-data", "suspended-no-data"),
            ("fencing", "suspended-fencing"),
            ("quorum", "suspended-quorum"),
        )
        if item.get(key) is True
    )
    if not reasons and item.get("suspended") is True:
        return ("io",)
    return reasons


def _resource(item: dict) -> Resource:
    return Resource(
        name=str(item["name"]),
        role=str(item["role"]),
        suspended=_suspend_reasons(item),
        devices=[_device(d) for d in item.get("devices", [])],
        connections=[_connection(c) for c in item.get("connections", [])],
    )


def _device(d: dict) -> Device:
    return Device(
        volume=int(d["volume"]),
        minor=opt_int(d, "minor"),
        disk=str(d["disk-state"]),
        client=bool(d.get("client", False)),
        quorum=d.get("quorum"),
        size=kib(d, "size"),
        read=kib(d, "read"),
        written=kib(d, "written"),
        local_pending=opt_int(d, "lower-pending"),
        app_pending=opt_int(d, "upper-pending"),
    )


def _connection(c: dict) -> Connection:
    return Connection(
        state=str(c["connection-state"]),
        peer_role=str(c.get("peer-role", "Unknown")),
        peer_name=c.get("name"),
        peer_node_id=opt_int(c, "peer-node-id"),
        peer_devices=[_peer_device(p) for p in c.get("peer_devices", [])],
    )


def _peer_device(p: dict) -> PeerDevice:
    eta = p.get("estimated-seconds-to-finish")
    done = p.get("percent-resync-done")
    return PeerDevice(
        volume=int(p["volume"]),
        replication=str(p["replication-state"]),
        peer_disk=str(p["peer-disk-state"]),
        peer_client=bool(p.get("peer-client", False)),
        out_of_sync=kib(p, "out-of-sync"),
        in_sync_percent=float(p["percent-in-sync"]) if "percent-in-sync" in p else None,
        resync_done_percent=float(done) if done is not None else None,
        eta_seconds=int(eta) if eta is not None and int(eta) != _NO_ESTIMATE else None,
        resync_suspended=str(p.get("resync-suspended", "no")),
        sent=kib(p, "sent"),
        received=kib(p, "received"),
        pending=opt_int(p, "pending"),
        unacked=opt_int(p, "unacked"),
    )
