"""VMs as the cluster configures them, as the cluster runs them, and as the hypervisors see
them: the three views check_vm_alloc compares."""

from __future__ import annotations

from kvmcluster.model.record import factory, record


def short(node: str) -> str:
    return node.split(".", 1)[0]


def same_node(a: str | None, b: str | None) -> bool:
    """node05 and node05.c01.cloud.agarik.com are the same host."""
    if not a or not b:
        return False
    return a == b or short(a) == short(b)


@record
class FailoverDomain:
    name: str
    ordered: bool = False
    restricted: bool = False
    nofailback: bool = False
    nodes: list[tuple[str, int]] = factory(list)  # (node, priority); lower = preferred
    line: int | None = None

    def ranked(self) -> list[str]:
        """Nodes, most preferred first (all equal when the domain is not ordered)."""
        return [n for n, _ in sorted(self.nodes, key=lambda np: np[1] if self.ordered else 0)]


@record
class ManagedVM:
    """A VM (or service) under cluster control, with where it should run."""

    name: str
    kind: str = "vm"  # "vm" or "service" (rgmanager), "primitive" (Pacemaker)
    resource: str = ""  # the cluster's name for it: vm:NAME, or the Pacemaker resource id
    domain: str | None = None  # failover domain name (rgmanager)
    autostart: bool = True
    exclusive: bool = False
    recovery: str = ""
    preferred: list[str] = factory(list)  # most preferred first
    ordered: bool = False
    restricted: bool = False
    nofailback: bool = False
    line: int | None = None


@record
class ClusterConfig:
    source: str
    name: str = ""
    nodes: list[str] = factory(list)
    domains: dict[str, FailoverDomain] = factory(dict)
    vms: list[ManagedVM] = factory(list)
    errors: list[str] = factory(list)  # the config's own defects (unknown domain ...)


@record
class Disk:
    target: str
    source: str  # block device path, file path, or protocol:name for network disks
    type: str  # "block", "file", "network", "volume"
    path: str = ""  # a storage-pool volume (pool/volume): its device, as libvirt resolves it


# virDomainState numbers (libvirt's state() and getAllDomainStats, a test-driver file's
# <test:runstate>) -> the names the model uses
DOMAIN_STATES = {
    0: "nostate",
    1: "running",
    2: "blocked",
    3: "paused",
    4: "shutdown",
    5: "shutoff",
    6: "crashed",
    7: "pmsuspended",
}


@record
class HypervisorDomain:
    node: str
    name: str
    state: str  # running, blocked, paused, shutdown, shutoff, crashed, pmsuspended, nostate
    disks: list[Disk] = factory(list)  # of active domains only: the disks a VM runs on
    reason: str = ""  # why paused/shut off/crashed, as libvirt says (ioerror, panicked ...)
    disk_errors: dict[str, str] = factory(dict)  # target -> "I/O error", "no space" (libvirt)

    @property
    def active(self) -> bool:
        return self.state not in ("shutoff", "crashed", "nostate")


@record
class HypervisorView:
    node: str
    uri: str
    domains: list[HypervisorDomain] = factory(list)
    error: str = ""  # libvirt unreachable: the error


def vg_of(device: str) -> str | None:
    """The volume group of an LV path: /dev/VG/LV or /dev/mapper/VG-LV (dashes doubled)."""
    parts = device.split("/")
    if len(parts) == 4 and parts[1] == "dev" and parts[2] not in ("mapper", "disk", "drbd"):
        return parts[2]
    if len(parts) == 4 and parts[2] == "mapper":
        name = parts[3].replace("--", "\0")
        if "-" in name:
            return name.split("-", 1)[0].replace("\0", "-")
    return None
