"""Pacemaker's CIB (`cibadmin -Q`, or a saved cib.xml): configuration the status tools do not
show, such as the location constraints `crm_resource --move/--ban` leave behind."""

from __future__ import annotations

from kvmcluster.model.cluster import LocationConstraint
from kvmcluster.parsers.xmltext import parse_xml


def parse_cib_constraints(text: str, source: str = "cibadmin -Q") -> list[LocationConstraint]:
    root = parse_xml(text, source, ("cib", "constraints"))
    constraints = root if root.tag == "constraints" else root.find("configuration/constraints")
    found = []
    for element in constraints.iterfind("rsc_location") if constraints is not None else []:
        if element.get("node"):
            found.append(
                LocationConstraint(
                    element.get("id", ""),
                    element.get("rsc", ""),
                    element.get("node", ""),
                    element.get("score", ""),
                )
            )
    return found
