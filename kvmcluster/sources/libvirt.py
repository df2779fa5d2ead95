"""Domains as the hypervisors see them, through libvirt-python's read-only connections.

Each hypervisor is read in a worker thread so that an unreachable qemu+ssh:// host cannot
hold the plugin past its -t budget: libvirt calls block in C, where no signal gets in. Any
failure inside the thread (a libvirt error, an answer that does not decode or parse) becomes
that node's error: UNKNOWN for the node, never a traceback.

A node costs a constant number of round trips, whatever its number of domains (measured in
docs/benchmarks.md, "libvirt: one call per node"):

1. `getAllDomainStats(STATE)`: every domain with its state and state reason;
2. `domainListGetStats(active domains, BLOCK)`: the disks of the running ones
   (`block.N.name` = target, `block.N.path` = source). Inactive domains are not asked for
   block stats: the daemon would open their disks to size them.

Block stats carry no disk type and no device kind (disk, cdrom, floppy), and no path for a
network disk or an empty drive, so the domain's XML is still read (one XMLDesc, as before)
for an active domain whose stats have a disk without a path, or a path outside /dev (a file
image or an ISO: local files are reported, CD-ROMs are not), or paths under /dev/shm or
/dev/hugepages (files). A path under /dev is taken as a block device. Daemons or drivers
without these calls (libvirt before 1.2.8, the NOWAIT flag before 4.5) are read per domain,
state() and XMLDesc(), as before.
"""

from __future__ import annotations

import threading

from kvmcluster.model.vms import HypervisorDomain, HypervisorView
from kvmcluster.runtime.command import remaining

_STATES = {
    0: "nostate",
    1: "running",
    2: "blocked",
    3: "paused",
    4: "shutdown",
    5: "shutoff",
    6: "crashed",
    7: "pmsuspended",
}
# state -> reason code -> name (virDomainPausedReason, ...); only the reasons a rule may use
_REASONS = {
    "paused": {
        1: "user",
        2: "migration",
        3: "save",
        4: "dump",
        5: "ioerror",
        6: "watchdog",
        7: "from snapshot",
        8: "shutting down",
        9: "snapshot",
        10: "crashed",
        11: "starting up",
        12: "postcopy",
        13: "postcopy failed",
    },
    "shutoff": {
        1: "shutdown",
        2: "destroyed",
        3: "crashed",
        4: "migrated",
        5: "saved",
        6: "failed",
        7: "from snapshot",
        8: "daemon",
    },
    "crashed": {1: "panicked"},
}
_FILE_UNDER_DEV = ("/dev/shm/", "/dev/hugepages/")


def _domain(node: str, name: str, state_code: int, reason_code: int) -> HypervisorDomain:
    state = _STATES.get(state_code, "nostate")
    reason = _REASONS.get(state, {}).get(reason_code, "")
    return HypervisorDomain(node, name, state, reason=reason)


def _disks_from_stats(stats: dict):
    """The disks of block stats, or None when only the domain's XML can tell."""
    from kvmcluster.model.vms import Disk

    count = stats.get("block.count")
    if not isinstance(count, int):
        return None  # a driver without block stats (the test driver)
    disks = []
    for index in range(count):
        path = stats.get(f"block.{index}.path")
        if not isinstance(path, str) or not path.startswith("/dev/"):
            return None  # network disk, empty drive, file image or ISO
        if path.startswith(_FILE_UNDER_DEV):
            return None
        disks.append(Disk(str(stats.get(f"block.{index}.name", "?")), path, "block"))
    return disks


def _read_bulk(libvirt, connection, view: HypervisorView) -> bool:
    """Read the node with the bulk stats calls; False when the daemon lacks them."""
    from kvmcluster.parsers.libvirt_xml import domain_disks

    unsupported = (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG)
    flags = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT  # a VM in a job does not stall us
    try:
        records = connection.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, flags)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in unsupported:
            raise
        flags = 0  # NOWAIT is unknown before libvirt 4.5, the call itself before 1.2.8
        try:
            records = connection.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, flags)
        except libvirt.libvirtError as again:
            if again.get_error_code() not in unsupported:
                raise
            return False
    found = []
    active = []
    for domain, stats in records:
        record = _domain(
            view.node, domain.name(), stats.get("state.state", 0), stats.get("state.reason", 0)
        )
        found.append(record)
        if record.active:  # only a running VM's disks are checked
            active.append((domain, record))
    if active:
        blocks = connection.domainListGetStats(
            [domain for domain, _ in active], libvirt.VIR_DOMAIN_STATS_BLOCK, flags
        )
        by_uuid = {domain.UUIDString(): stats for domain, stats in blocks}
        for domain, record in active:
            disks = _disks_from_stats(by_uuid.get(domain.UUIDString(), {}))
            record.disks = disks if disks is not None else domain_disks(domain.XMLDesc(0))
    view.domains.extend(found)
    return True


def _read_each(libvirt, connection, view: HypervisorView) -> None:
    """One state() and, for an active domain, one XMLDesc() per domain."""
    from kvmcluster.parsers.libvirt_xml import domain_disks

    for domain in connection.listAllDomains():
        state, reason = domain.state()
        found = _domain(view.node, domain.name(), state, reason)
        if found.active:
            found.disks = domain_disks(domain.XMLDesc(0))
        view.domains.append(found)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _read(view: HypervisorView) -> None:
    try:
        import libvirt
    except ImportError as exc:
        view.error = f"libvirt-python is not installed ({exc})"
        return
    libvirt.registerErrorHandler(lambda *args: None, None)
    try:
        connection = libvirt.openReadOnly(view.uri)
        try:
            if not _read_bulk(libvirt, connection, view):
                _read_each(libvirt, connection, view)
        finally:
            connection.close()
    except libvirt.libvirtError as exc:
        view.domains.clear()
        view.error = _one_line(str(exc)) or "libvirt error"
    except Exception as exc:  # an answer we cannot decode or parse: the node is unknown
        view.domains.clear()
        cause = exc.__cause__ or exc  # libvirt-python's SystemError hides a UnicodeDecodeError
        detail = _one_line(str(cause))[:200]
        view.error = f"unreadable answer ({type(cause).__name__}{': ' + detail if detail else ''})"


def read_hypervisors(targets: list[tuple[str, str]]) -> list[HypervisorView]:
    """Read every (node, uri) in parallel within the check's deadline."""
    from kvmcluster.sources.libvirt_import import import_libvirt

    import_libvirt()  # not installed: one UNKNOWN line saying what to install (helper F)
    views = [HypervisorView(node, uri) for node, uri in targets]
    threads = [threading.Thread(target=_read, args=(v,), daemon=True) for v in views]
    for thread in threads:
        thread.start()
    answered = []
    for view, thread in zip(views, threads):
        budget = remaining()
        thread.join(budget)
        if thread.is_alive():  # left behind: a daemon thread dies with the process
            view = HypervisorView(
                view.node, view.uri, error=f"no answer within {budget:.1f}s (the -t timeout)"
            )
        answered.append(view)
    return answered
