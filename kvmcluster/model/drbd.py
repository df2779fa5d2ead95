"""One DRBD model for /proc/drbd (8.x), `drbdsetup status --json` and `drbdsetup events2`.

resource -> devices (local volumes) and connections (one per peer) -> peer devices (per volume).
Sizes and counters are in bytes; `None` means the source does not report the value.
"""

from __future__ import annotations

from kvmcluster.model.record import factory, record

# Replication states (DRBD 9 `replication`, DRBD 8 `cs:` while connected) that mean a
# resync or online verify is running.
RESYNC_STATES = frozenset(
    {
        "StartingSyncS",
        "StartingSyncT",
        "WFBitMapS",
        "WFBitMapT",
        "WFSyncUUID",
        "SyncSource",
        "SyncTarget",
        "PausedSyncS",
        "PausedSyncT",
        "VerifyS",
        "VerifyT",
        "Ahead",
        "Behind",
    }
)
REPLICATION_STATES = RESYNC_STATES | {"Established", "Off"}


@record
class PeerDevice:
    """One volume as seen on one peer connection."""

    volume: int
    replication: str
    peer_disk: str
    peer_client: bool = False  # peer is intentionally diskless
    out_of_sync: int | None = None
    resync_done_percent: float | None = None
    in_sync_percent: float | None = None
    eta_seconds: int | None = None
    resync_speed: int | None = None  # bytes per second of a running resync, when given
    stalled: bool = False
    resync_suspended: str = "no"
    sent: int | None = None
    received: int | None = None
    pending: int | None = None
    unacked: int | None = None

    @property
    def resyncing(self) -> bool:
        return self.replication in RESYNC_STATES


@record
class Connection:
    """The link to one peer node."""

    state: str
    peer_role: str = "Unknown"
    peer_name: str | None = None
    peer_node_id: int | None = None
    peer_devices: list[PeerDevice] = factory(list)

    @property
    def connected(self) -> bool:
        return self.state == "Connected"


@record
class Device:
    """One local volume of a resource (a /dev/drbdN minor)."""

    volume: int
    minor: int | None
    disk: str
    client: bool = False  # intentionally diskless (DRBD 9 client)
    quorum: bool | None = None
    size: int | None = None
    read: int | None = None
    written: int | None = None
    local_pending: int | None = None
    app_pending: int | None = None


@record
class Resource:
    name: str
    role: str
    devices: list[Device] = factory(list)
    connections: list[Connection] = factory(list)
    suspended: tuple[str, ...] = ()  # why I/O is suspended: user, no-data, fencing, quorum

    @property
    def minors(self) -> list[int]:
        return [d.minor for d in self.devices if d.minor is not None]


@record
class DrbdStatus:
    """What one source said about the node's DRBD state."""

    source: str  # a description for messages: "/proc/drbd", "drbdsetup status --json" ...
    loaded: bool = True  # False: no /proc/drbd, the kernel module is not loaded
    version: str | None = None
    resources: list[Resource] = factory(list)
    unconfigured_minors: list[int] = factory(list)

    @property
    def is_drbd9_without_resources(self) -> bool:
        """/proc/drbd of DRBD 9 lists no resources: the state must come from drbdsetup."""
        return bool(self.version and self.version.startswith("9")) and not self.resources


@record
class ConfiguredResource:
    """A resource as written in drbd.conf (for names of minors and 'configured but not up')."""

    name: str
    minors: list[int] = factory(list)
    hosts: list[str] = factory(list)


@record
class BackingDevice:
    """A resource's backing disk on this host, as drbd.conf gives it (the LVM check)."""

    resource: str
    minor: int | None
    disk: str
    dual_primary: bool
