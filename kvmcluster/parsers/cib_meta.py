"""Pacemaker's CIB: the meta attributes the status tools do not show, such as how many
instances of a promotable clone should be promoted (`promoted-max`, 1.1: `master-max`)."""

from __future__ import annotations

from kvmcluster.errors import ParseError
from kvmcluster.parsers.values import is_count, parser
from kvmcluster.parsers.xmltext import parse_xml

_PROMOTED_MAX = ("promoted-max", "master-max")


@parser("cibadmin -Q")
def parse_cib_promoted_max(text: str, source: str = "cibadmin -Q") -> dict[str, int]:
    """Promotable clone id -> promoted-max, for the clones that set it (1 otherwise)."""
    root = parse_xml(text, source, ("cib",))
    found: dict[str, int] = {}
    resources = root.find("configuration/resources")
    for clone in resources.iter() if resources is not None else []:
        if clone.tag not in ("clone", "master"):
            continue
        meta = {
            nv.get("name"): nv.get("value", "") for nv in clone.iterfind("meta_attributes/nvpair")
        }
        promotable = clone.tag == "master" or meta.get("promotable", "").lower() in (
            "true",
            "1",
            "yes",
        )
        value = next((meta[name] for name in _PROMOTED_MAX if name in meta), None)
        if not promotable or value is None:
            continue
        if not is_count(value):  # str.isdigit() would let a superscript digit through
            raise ParseError(source, f"clone {clone.get('id', '?')}: promoted-max {value[:20]!r}")
        found[clone.get("id", "?")] = int(value)
    return found
