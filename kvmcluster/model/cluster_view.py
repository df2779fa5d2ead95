"""The cluster view's model: what each node's capture says (NodeFacts) and what only a view
across nodes sees (Correlation). Filled by kvmcluster.view.facts, judged by
kvmcluster.rules.correlate."""

from __future__ import annotations

from dataclasses import dataclass, field

from kvmcluster.model.cluster import ClusterStatus
from kvmcluster.model.drbd import BackingDevice, ConfiguredResource, DrbdStatus
from kvmcluster.model.findings import State
from kvmcluster.model.lvm import PhysicalVolume
from kvmcluster.model.vms import HypervisorDomain


@dataclass(frozen=True)
class ConfigDigest:
    """A configuration file as the drift rule compares it: digests only, never its text
    (secrets, and the text is untrusted). `lines` holds one short digest per line, so the
    first differing line can be named; `version` is cluster.conf's config_version."""

    digest: str
    lines: tuple[str, ...] = ()
    version: str | None = None


@dataclass(frozen=True)
class SplitBrainLine:
    """A kernel message of DRBD about a split brain: `block drbd0: Split-Brain detected but
    unresolved, dropping connection!` (8.x: the minor), `drbd r0/0 drbd0 node06: ...` or
    `drbd r0 node06: ...` (9: the resource), or the split-brain handler being called."""

    line: int  # in the captured kernel log
    minor: int | None = None
    resource: str | None = None
    resolved: bool = False  # "automatically solved" (an after-sb policy chose)
    # the handshake before it: the blocks (4 KiB) each side changed since the two were last in
    # sync, the `bits:` of its `self` and `peer` generation identifiers; None: not logged
    self_bits: int | None = None
    peer_bits: int | None = None


@dataclass
class NodeFacts:
    """One node's inputs as the correlation rules need them (parsed, never raw text).

    None means unknown (not captured, or did not parse: `unread` says why, per input)."""

    name: str
    reachable: bool = True
    error: str = ""  # why the node could not be read (reachable False)
    stack: str = ""  # "cman", "pacemaker", "" (none captured)
    drbd: DrbdStatus | None = None
    drbd_configured: list[ConfiguredResource] | None = None  # drbd.conf: this node's resources
    drbd_backing: list[BackingDevice] | None = None  # drbd.conf: backing disks, dual-primary
    pvs: list[PhysicalVolume] | None = None  # which VG sits on which /dev/drbdN
    domains: list[HypervisorDomain] | None = None  # the hypervisor of THIS node
    cluster: ClusterStatus | None = None  # membership and quorum as this node sees them
    cluster_name: str = ""  # cman's, or corosync.conf's totem cluster_name ("" unknown)
    owners: dict[str, str] | None = None  # VM name -> the node the cluster runs it on
    vm_resources: dict[str, str] = field(default_factory=dict)  # VM -> its Pacemaker resource id
    configs: dict[str, ConfigDigest] = field(default_factory=dict)  # file -> digest
    lvm_settings: dict[str, str] | None = None  # "devices/filter" -> its value, as text
    drbd_utils_version: str | None = None  # DRBDADM_VERSION of `drbdadm --version`
    drbd_kernel_version: str | None = None  # DRBD_KERNEL_VERSION, or /proc/drbd's version
    split_brain_lines: list[SplitBrainLine] | None = None  # None: no kernel log captured
    unread: dict[str, str] = field(default_factory=dict)  # input -> why it is unknown


@dataclass(frozen=True)
class Correlation:
    """A finding across nodes: a stable kind, its state, the items it names, what to do."""

    kind: str
    state: State
    reason: str  # what the nodes show together (JSON "summary")
    items: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()
    nodes: tuple[str, ...] = field(default=())
