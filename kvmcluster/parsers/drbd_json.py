"""DRBD 9 `drbdsetup status --json --statistics`.

Sizes and counters are printed in KiB; `estimated-seconds-to-finish` is 987654321 when
drbdsetup cannot estimate.

Numbers are bounded without a cost per value: NaN and Infinity are refused by the decoder's
hook (called for those literals only), integers by Python's digit limit and int() (1e400 is
inf: OverflowError), percentages (two per peer device) one by one; nesting deeper than the
decoder's recursion limit is a ParseError too.
"""

from __future__ import annotations

import json

from kvmcluster.errors import ParseError
from kvmcluster.model.drbd import Connection, Device, DrbdStatus, PeerDevice, Resource
from kvmcluster.parsers.values import KIB, MAX_SECONDS, parser, reason_of

_NO_ESTIMATE = 987654321


@parser("drbdsetup status --json")
def parse_status_json(text: str, source: str = "drbdsetup status --json") -> DrbdStatus:
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise ParseError(source, f"not JSON: {reason_of(exc)}") from None
        raise ParseError(source, f"not JSON ({exc})") from None
    except RecursionError:
        raise ParseError(source, "not JSON: nested too deeply") from None
    if not isinstance(data, list):
        raise ParseError(source, "expected a JSON list of resources")
    status = DrbdStatus(source=source)
    for index, item in enumerate(data):
        try:
            status.resources.append(_resource(item))
        except (LookupError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            what = item.get("name", f"#{index}") if isinstance(item, dict) else f"#{index}"
            raise ParseError(source, f"resource {what}: missing or bad field {exc}") from None
    return status


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number drbdsetup prints")


def _percent(value) -> float:
    number = float(value)
    if not 0 <= number <= 100:  # also nan and inf given as strings
        raise ValueError(f"percentage {str(value)[:40]} not from 0 to 100")
    return number


def _eta(value) -> int | None:
    seconds = int(value)
    if seconds == _NO_ESTIMATE:
        return None
    if not 0 <= seconds <= MAX_SECONDS:
        raise ValueError(f"estimated-seconds-to-finish {str(value)[:40]} is not an estimate")
    return seconds


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
        resync_done_percent=None if (v := get("percent-resync-done")) is None else _percent(v),
        in_sync_percent=None if (v := get("percent-in-sync")) is None else _percent(v),
        eta_seconds=None if eta is None else _eta(eta),
        resync_suspended=str(get("resync-suspended", "no")),
        sent=None if (v := get("sent")) is None else int(v) * KIB,
        received=None if (v := get("received")) is None else int(v) * KIB,
        pending=None if (v := get("pending")) is None else int(v),
        unacked=None if (v := get("unacked")) is None else int(v),
    )
