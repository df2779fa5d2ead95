"""Pacemaker's CIB (`cibadmin -Q`, or a saved cib.xml): configuration the status tools do not
show, such as the location constraints `crm_resource --move/--ban` leave behind."""

from __future__ import annotations

from kvmcluster.model.cluster import LocationConstraint
from kvmcluster.parsers.values import parser
from kvmcluster.parsers.xmltext import parse_xml


@parser("cibadmin -Q")
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


@parser("cibadmin -Q")
def parse_cib_vms(text: str, source: str = "cibadmin -Q"):
    """VirtualDomain resources of a CIB, each with the nodes its location constraints prefer.

    The libvirt domain name is the basename of the `config` file (`.../NAME.xml`), the
    convention of the VirtualDomain agent's users.
    """
    from kvmcluster.model.vms import ClusterConfig, ManagedVM

    root = parse_xml(text, source, ("cib",))
    config = ClusterConfig(source)
    config.nodes = [n.get("uname", "") for n in root.iterfind("configuration/nodes/node")]
    scores: dict[str, list[tuple[str, float]]] = {}
    for element in root.iterfind("configuration/constraints/rsc_location"):
        if element.get("node") and not element.get("id", "").startswith("cli-"):
            scores.setdefault(element.get("rsc", ""), []).append(
                (element.get("node", ""), _score(element.get("score", "0")))
            )
    for primitive in root.iter("primitive"):
        if primitive.get("type") != "VirtualDomain":
            continue
        params = {
            nv.get("name"): nv.get("value", "")
            for nv in primitive.iterfind("instance_attributes/nvpair")
        }
        meta = {
            nv.get("name"): nv.get("value", "")
            for nv in primitive.iterfind("meta_attributes/nvpair")
        }
        rid = primitive.get("id", "")
        config_file = params.get("config", "")
        name = config_file.rsplit("/", 1)[-1].removesuffix(".xml") if config_file else rid
        preferred = [
            node for node, score in sorted(scores.get(rid, []), key=lambda ns: -ns[1]) if score > 0
        ]
        config.vms.append(
            ManagedVM(
                name,
                kind="primitive",
                resource=rid,
                autostart=meta.get("target-role", "Started").lower() != "stopped",
                preferred=preferred,
                ordered=bool(preferred),
            )
        )
    return config


def _score(value: str) -> float:
    text = value.strip().upper().lstrip("+")
    if text == "INFINITY":
        return float("inf")
    if text == "-INFINITY":
        return float("-inf")
    try:
        score = float(text)
    except ValueError:
        return 0.0
    return score if score == score else 0.0  # nan: no preference
