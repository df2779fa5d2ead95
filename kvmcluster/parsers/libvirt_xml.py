"""A libvirt domain's XML (virDomainGetXMLDesc) -> its disks."""

from __future__ import annotations

from kvmcluster.model.vms import Disk
from kvmcluster.parsers.values import parser
from kvmcluster.parsers.xmltext import parse_xml


@parser("libvirt domain XML")
def domain_disks(xml: str, source: str = "libvirt domain XML") -> list[Disk]:
    """Malformed XML (or a DTD, which libvirt never writes) raises ParseError."""
    return disks_of(parse_xml(xml, source, ("domain",)))


def disks_of(domain) -> list[Disk]:
    """The disks of a <domain> element (ElementTree or lxml: the same calls), CD-ROMs and
    floppies left out: they hold no VM data."""
    disks = []
    for disk in domain.iterfind("devices/disk"):
        if disk.get("device", "disk") not in ("disk", "lun"):
            continue
        source_element = disk.find("source")
        target = disk.find("target")
        kind = disk.get("type", "file")
        if source_element is None:
            continue
        if kind == "network":
            path = f"{source_element.get('protocol', 'network')}:{source_element.get('name', '')}"
        elif kind == "volume":
            path = f"{source_element.get('pool', '')}/{source_element.get('volume', '')}"
        else:
            path = source_element.get("dev") or source_element.get("file") or ""
        disks.append(Disk(target.get("dev", "?") if target is not None else "?", path, kind))
    return disks
