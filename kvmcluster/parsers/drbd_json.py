"""DRBD 9 `drbdsetup status --json --statistics`.

Sizes and counters are printed in KiB; `estimated-seconds-to-finish` is 987654321 when
drbdsetup cannot estimate.
"""

from __future__ import annotations

import json

from kvmcluster.errors import ParseError
from kvmcluster.model.drbd import Connection, Device, DrbdStatus, PeerDevice, Resource
from kvmcluster.parsers.values import KIB

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
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            what = item.get("name", f"#{index}") if isinstance(item, dict) else f"#{index}"
            raise ParseError(source, f"resource {what}: missing or bad field {exc}") from None
    return status


_SUSPEND_KEYS = (
    ("user", "suspended-user"),
    ("no-data", "suspended-no-data"),
    ("fencing", "suspended-fencing"),
    ("quorum", "suspended-quorum"),
)
_SUSPEND_FLAGS = tuple(key for _, key in _SUSPEND_KEYS)


def _suspend_reasons(item: dict) -> tuple[str, ...]:
    get = item.get
    if get("suspended") is not True and not any(map(get, _SUSPEND_FLAGS)):
        return ()  # the common case
    reasons = tuple(reason for reason, key in _SUSPEND_KEYS if get(key) is True)
    return reasons or ("io",)


# These run for every volume of every resource, every minute: one `get` per optional field,
# `v` holding it in turn (None when drbdsetup did not print it).


def _resource(item: dict) -> Resource:
    get = item.get
    return Resource(
        str(item["name"]),
        str(item["role"]),
        devices=[_device(d) for d in get("devices", ())],
        connections=[_connection(c) for c in get("connections", ())],
        suspended=_suspend_reasons(item),
    )


def _device(d: dict) -> Device:
    get = d.get
    return Device(
        int(d["volume"]),
        None if (v := get("minor")) is None else int(v),
        str(d["disk-state"]),
        client=bool(get("client", False)),
        quorum=get("quorum"),
        size=None if (v := get("size")) is None else int(v) * KIB,
        read=None if (v := get("read")) is None else int(v) * KIB,
        written=None if (v := get("written")) is None else int(v) * KIB,
        local_pending=None if (v := get("lower-pending")) is None else int(v),
        app_pending=None if (v := get("upper-pending")) is None else int(v),
    )


def _connection(c: dict) -> Connection:
    get = c.get
    return Connection(
        str(c["connection-state"]),
        peer_role=str(get("peer-role", "Unknown")),
        peer_name=get("name"),
        peer_node_id=None if (v := get("peer-node-id")) is None else int(v),
        peer_devices=[_peer_device(p) for p in get("peer_devices", ())],
    )


def _peer_device(p: dict) -> PeerDevice:
    get = p.get
    eta = get("estimated-seconds-to-finish")
    return PeerDevice(
        int(p["volume"]),
        str(p["replication-state"]),
        str(p["peer-disk-state"]),
        bool(get("peer-client", False)),
        out_of_sync=None if (v := get("out-of-sync")) is None else int(v) * KIB,
        resync_done_percent=None if (v := get("percent-resync-done")) is None else float(v),
        in_sync_percent=None if (v := get("percent-in-sync")) is None else float(v),
        eta_seconds=None if eta is None or int(eta) == _NO_ESTIMATE else int(eta),
        resync_suspended=str(get("resync-suspended", "no")),
        sent=None if (v := get("sent")) is None else int(v) * KIB,
        received=None if (v := get("received")) is None else int(v) * KIB,
        pending=None if (v := get("pending")) is None else int(v),
        unacked=None if (v := get("unacked")) is None else int(v),
    )
