"""Domains as the hypervisors see them, through libvirt-python's read-only connections.

Each hypervisor is read in a worker thread so that an unreachable qemu+ssh:// host cannot
hold the plugin past its -t budget: libvirt calls block in C, where no signal gets in.
"""

from __future__ import annotations

import threading

from kvmcluster.model.vms import HypervisorDomain, HypervisorView
from kvmcluster.runtime.command import remaining
from kvmcluster.sources.libvirt_import import import_libvirt

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


def _read(view: HypervisorView) -> None:
    import libvirt

    from kvmcluster.parsers.libvirt_xml import domain_disks

    libvirt.registerErrorHandler(lambda *args: None, None)
    try:
        connection = libvirt.openReadOnly(view.uri)
        try:
            for domain in connection.listAllDomains():
                found = HypervisorDomain(
                    view.node, domain.name(), _STATES.get(domain.state()[0], "nostate")
                )
                if found.active:  # only a running VM's disks are checked
                    found.disks = domain_disks(domain.XMLDesc(0))
                view.domains.append(found)
        finally:
            connection.close()
    except libvirt.libvirtError as exc:
        view.error = str(exc).strip() or "libvirt error"
        view.domains.clear()


def read_hypervisors(targets: list[tuple[str, str]]) -> list[HypervisorView]:
    """Read every (node, uri) in parallel within the check's deadline."""
    import_libvirt()  # not installed: one UNKNOWN line saying what to install
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
