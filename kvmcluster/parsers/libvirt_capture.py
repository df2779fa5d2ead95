"""A capture's `libvirt-NODE.xml` (libvirt's test-driver node file, as `kvmcluster collect`
writes it) -> the node's HypervisorView, the model the live libvirt reader fills.

The file came from another machine: it is data, never handed to libvirt (whose test driver
opens the files that `<domain file="...">` names and would expand entities). Parsed with lxml,
no DTD loaded, no entity expanded, no network, no XInclude, default size limits. A
`<domain file=...>` reference or a DTD makes the node's view unreadable (UNKNOWN, said so);
the file it names is never opened.
"""

from __future__ import annotations

from kvmcluster.errors import ParseError
from kvmcluster.model.vms import DOMAIN_STATES, HypervisorDomain, HypervisorView
from kvmcluster.parsers.libvirt_xml import disks_of
from kvmcluster.parsers.values import parser

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
RUNSTATE = f"{{{TEST_NS}}}runstate"
STATES = DOMAIN_STATES  # as <test:runstate> gives them (none: running)


def _parser():
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


@parser("libvirt capture")
def parse_libvirt_capture(data: bytes, source: str, node: str, uri: str = "") -> HypervisorView:
    """The domains of one node file; ParseError (with the line) for anything else."""
    from lxml import etree

    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if getattr(exc, "lineno", None) else None
        raise ParseError(source, f"not well-formed XML ({exc.msg})", line) from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise ParseError(source, f"not XML bytes ({exc})") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ParseError(
            source, "a DTD (<!DOCTYPE>, entity declarations): not read, never expanded", 1
        )
    if root.tag != "node":
        raise ParseError(source, f"expected a libvirt test driver <node>, got <{_tag(root)}>")
    view = HypervisorView(node, uri or source)
    seen: set[str] = set()
    for element in root.iterchildren():
        if not isinstance(element.tag, str):
            raise ParseError(source, "an entity reference: not expanded", element.sourceline)
        if element.tag != "domain":
            continue  # networks, pools, the host's CPU ...: not the VMs
        if element.get("file") is not None:
            raise ParseError(
                source,
                "<domain file=...> names a file outside the capture: not read "
                "(kvmcluster collect writes every domain inline)",
                element.sourceline,
            )
        domain = _domain(element, source, node)
        if domain.name in seen:
            raise ParseError(source, f"domain {domain.name!r} defined twice", element.sourceline)
        seen.add(domain.name)
        view.domains.append(domain)
    return view


def _tag(element) -> str:
    return str(element.tag)[:40] if isinstance(element.tag, str) else "entity"


def _text(element, source: str) -> str:
    """An element's text, refusing an unexpanded entity inside it."""
    for child in element.iterchildren():
        if not isinstance(child.tag, str):
            raise ParseError(source, "an entity reference: not expanded", child.sourceline)
    return (element.text or "").strip()


def _domain(element, source: str, node: str) -> HypervisorDomain:
    name_element = element.find("name")
    name = _text(name_element, source) if name_element is not None else ""
    if not name:
        raise ParseError(source, "a <domain> without a <name>", element.sourceline)
    state = "running"
    runstate = element.find(RUNSTATE)
    if runstate is not None:
        text = _text(runstate, source)
        if not (text.isascii() and text.isdigit() and len(text) < 3 and int(text) in STATES):
            raise ParseError(
                source, f"<test:runstate> {text[:20]!r} is not 0-7", runstate.sourceline
            )
        state = STATES[int(text)]
    found = HypervisorDomain(node, name, state)
    if found.active:  # as the live reader: only a running VM's disks are checked
        found.disks = disks_of(element)
    return found


def read_libvirt_capture(path: str, node: str, label: str) -> HypervisorView:
    """The view of one captured node; a file that cannot be read or parsed is that node's
    error (UNKNOWN for its VMs), as an unreachable libvirt would be."""
    import os

    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # a planted link is not followed
        with open(descriptor, "rb") as handle:
            data = handle.read()
        return parse_libvirt_capture(data, label, node, label)
    except ParseError as exc:
        return HypervisorView(node, label, error=str(exc))
    except OSError as exc:
        return HypervisorView(node, label, error=f"cannot read {label}: {exc.strerror}")
