"""A libvirt domain's XML (virDomainGetXMLDesc) -> its disks."""

from __future__ import annotations

from kvmcluster.model.vms import Disk


def domain_disks(xml: str) -> list[Disk]:
    from xml.etree import ElementTree

    root = ElementTree.fromstring(xml)
    disks = []
    for disk in root.iterfind("devices/disk"):
        if disk.get("device", "disk") not in ("disk", "lun"):
            continue  # cdrom, floppy: no VM data
        source = disk.find("source")
        target = disk.find("target")
        kind = disk.get("type", "file")
        if source is None:
            continue
        if kind == "network":
            path = f"{source.get('protocol', 'network')}:{source.get('name', '')}"
        elif kind == "volume":
            path = f"{source.get('pool', '')}/{source.get('volume', '')}"
        else:
            path = source.get("dev") or source.get("file") or ""
        disks.append(Disk(target.get("dev", "?") if target is not None else "?", path, kind))
    return disks
