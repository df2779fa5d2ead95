"""Domains as the hypervisors see them, through libvirt-python's read-only connections.

Each hypervisor is read in a worker thread so that an unreachable qemu+ssh:// host cannot
hold the plugin past its -t budget: libvirt calls block in C, where no signal gets in. Any
failure inside the thread (a libvirt error, an answer that does not decode or parse) becomes
that node's error: UNKNOWN for the node, never a traceback.

A node is read with one `getAllDomainStats(STATE)` call (every domain, its state and state
reason) instead of one state() per domain, then the XML of each active domain (its disks),
four XMLDesc() calls in flight on the one connection when there are more than 8. Block
stats (`VIR_DOMAIN_STATS_BLOCK`, which carry the disk paths) are not used: libvirtd asks each
qemu for them over its monitor, which costs more than the XML round trips they would save
(docs/benchmarks.md, "libvirt: one call per node"), and they carry no disk type, no device
kind (disk or CD-ROM) and no network source. Daemons without the stats call (libvirt before
1.2.8) are read per domain, state() and XMLDesc(), as before.
"""

from __future__ import annotations

import threading

from kvmcluster.model.vms import DOMAIN_STATES, HypervisorDomain, HypervisorView
from kvmcluster.runtime.command import Deadline

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


# virDomainDiskErrorCode
_DISK_ERRORS = {1: "I/O error", 2: "no space left"}


def _details(libvirt, connection, domain, record: HypervisorDomain, pools: dict) -> None:
    """What the rules need beyond the XML, asked only where it applies (nothing for the usual
    running VM on block devices): the disks that failed under a VM paused by an I/O error
    (virDomainGetDiskErrors), and the device of each storage-pool volume it runs on."""
    if record.state == "paused" and record.reason == "ioerror":
        try:
            errors = domain.diskErrors()
        except libvirt.libvirtError:
            errors = {}
        record.disk_errors = {str(t): _DISK_ERRORS.get(c, "error") for t, c in errors.items() if c}
    for disk in record.disks:
        if disk.type == "volume" and "/" in disk.source:
            disk.path = _volume_path(libvirt, connection, disk.source, pools)


def _volume_path(libvirt, connection, source: str, pools: dict) -> str:
    """pool/volume -> the volume's path (/dev/VG/LV for a logical pool); "" when libvirt
    cannot say (the pool inactive or gone): the disk is then not checked against a VG."""
    pool_name, _, volume = source.partition("/")
    try:
        pool = pools.get(pool_name)
        if pool is None:
            pool = pools[pool_name] = connection.storagePoolLookupByName(pool_name)
        return pool.storageVolLookupByName(volume).path()
    except libvirt.libvirtError:
        return ""


def _domain(node: str, name: str, state_code: int, reason_code: int) -> HypervisorDomain:
    state = DOMAIN_STATES.get(state_code, "nostate")
    reason = _REASONS.get(state, {}).get(reason_code, "")
    return HypervisorDomain(node, name, state, reason=reason)


_IN_FLIGHT = 4  # XMLDesc calls at once on one connection (libvirtd serves 5 per client)
_SEQUENTIAL = 8  # up to this many, one at a time: the threads would cost more than they save


def _xml_of_all(domains: list) -> list[str]:
    """XMLDesc of each domain, a few calls in flight at once: the round trips overlap. Daemon
    threads: one stuck in a frozen libvirtd must not hold the plugin's exit."""
    if len(domains) <= _SEQUENTIAL:
        return [domain.XMLDesc(0) for domain in domains]
    results: list = [None] * len(domains)
    failures: list[BaseException] = []

    def work(start: int) -> None:
        try:
            for index in range(start, len(domains), _IN_FLIGHT):
                if failures:
                    return
                results[index] = domains[index].XMLDesc(0)
        except BaseException as exc:  # handed to the node's reader thread
            failures.append(exc)

    workers = [
        threading.Thread(target=work, args=(start,), daemon=True)
        for start in range(min(_IN_FLIGHT, len(domains)))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]
    return results


def _read_bulk(libvirt, connection, view: HypervisorView) -> bool:
    """Read the node with the stats call; False when the daemon lacks it."""
    from kvmcluster.parsers.libvirt_xml import domain_disks

    try:
        records = connection.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG):
            return False
        raise
    found = []
    active = []
    for domain, stats in records:
        record = _domain(
            view.node, domain.name(), stats.get("state.state", 0), stats.get("state.reason", 0)
        )
        found.append(record)
        if record.active:  # only a running VM's disks are checked
            active.append((domain, record))
    pools: dict = {}
    for (domain, record), xml in zip(active, _xml_of_all([domain for domain, _ in active])):
        record.disks = domain_disks(xml)
        _details(libvirt, connection, domain, record, pools)
    view.domains.extend(found)
    return True


def _read_each(libvirt, connection, view: HypervisorView) -> None:
    """One state() and, for an active domain, one XMLDesc() per domain."""
    from kvmcluster.parsers.libvirt_xml import domain_disks

    pools: dict = {}
    for domain in connection.listAllDomains():
        state, reason = domain.state()
        found = _domain(view.node, domain.name(), state, reason)
        if found.active:
            found.disks = domain_disks(domain.XMLDesc(0))
            _details(libvirt, connection, domain, found, pools)
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


def read_hypervisors(
    targets: list[tuple[str, str]], deadline: Deadline | None = None
) -> list[HypervisorView]:
    """Read every (node, uri) in parallel within the check's deadline."""
    from kvmcluster.sources.libvirt_import import import_libvirt

    import_libvirt()  # not installed: one UNKNOWN line saying what to install (helper F)
    views = [HypervisorView(node, uri) for node, uri in targets]
    threads = [threading.Thread(target=_read, args=(v,), daemon=True) for v in views]
    for thread in threads:
        thread.start()
    answered = []
    for view, thread in zip(views, threads):
        budget = (deadline or Deadline()).remaining()
        thread.join(budget)
        if thread.is_alive():  # left behind: a daemon thread dies with the process
            view = HypervisorView(
                view.node, view.uri, error=f"no answer within {budget:.1f}s (the -t timeout)"
            )
        answered.append(view)
    return answered
