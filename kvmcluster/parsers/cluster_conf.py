"""RHCS cluster.conf (parsed with lxml for line numbers): nodes, failover domains and the
<vm>/<service> resources of rgmanager."""

from __future__ import annotations

from kvmcluster.errors import ParseError
from kvmcluster.model.vms import ClusterConfig, FailoverDomain, ManagedVM, same_node
from kvmcluster.parsers.values import is_count, parser
from kvmcluster.parsers.xmltext import refuse_dtd


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("1", "yes", "true", "on")


def _priority(node, source: str) -> int:
    """<failoverdomainnode priority="N">: 1 (most preferred) when absent."""
    value = (node.get("priority", "1") or "1").strip()
    if not is_count(value):
        raise ParseError(
            source,
            f"<failoverdomainnode name={node.get('name', '')[:60]!r}>: priority {value[:40]!r} "
            "is not a number",
            node.sourceline,
        )
    return int(value)


def parse_cluster_conf_tree(text: str, source: str):
    """lxml tree of cluster.conf; not well-formed XML raises ParseError with the line.

    Parsed as data: no DTD (so no entity), nothing read from the network or another file, the
    document as the UTF-8 it was read as, libxml2's limits on depth and size (no huge_tree)."""
    from lxml import etree

    refuse_dtd(text, source)
    try:
        xml_parser = etree.XMLParser(
            encoding="utf-8",
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        return etree.fromstring(text.encode("utf-8"), xml_parser)
    except etree.XMLSyntaxError as exc:
        message = str(exc.msg).split(", line ")[0]
        raise ParseError(source, f"not well-formed XML: {message}", exc.lineno) from None
    except UnicodeError:  # a lone surrogate in a str handed in by Python code
        raise ParseError(source, "not valid UTF-8 text") from None


@parser("/etc/cluster/cluster.conf")
def parse_cluster_conf(text: str, source: str = "/etc/cluster/cluster.conf") -> ClusterConfig:
    root = parse_cluster_conf_tree(text, source)
    if root.tag != "cluster":
        raise ParseError(source, f"root element is <{root.tag}>, not <cluster>", root.sourceline)
    config = ClusterConfig(source, name=root.get("name", ""))
    config.nodes = [n.get("name", "") for n in root.iterfind("clusternodes/clusternode")]
    for element in root.iterfind("rm/failoverdomains/failoverdomain"):
        domain = FailoverDomain(
            element.get("name", ""),
            ordered=_bool(element.get("ordered")),
            restricted=_bool(element.get("restricted")),
            nofailback=_bool(element.get("nofailback")),
            nodes=[
                (n.get("name", ""), _priority(n, source))
                for n in element.iterfind("failoverdomainnode")
            ],
            line=element.sourceline,
        )
        config.domains[domain.name] = domain
        strangers = [n for n, _ in domain.nodes if not any(same_node(n, c) for c in config.nodes)]
        if strangers:
            config.errors.append(
                f"failover domain {domain.name} (line {domain.line}) names "
                f"{', '.join(strangers)}, not nodes of this cluster "
                f"({', '.join(config.nodes) or 'none'})"
            )
    rm = root.find("rm")
    for element in rm.iter("vm", "service") if rm is not None else []:
        if element.getparent().tag not in ("rm", "service"):
            continue
        name = element.get("name", "")
        vm = ManagedVM(
            name,
            kind=element.tag,
            resource=f"{element.tag}:{name}",
            domain=element.get("domain"),
            autostart=_bool(element.get("autostart"), default=True),
            exclusive=_bool(element.get("exclusive")),
            recovery=element.get("recovery", ""),
            line=element.sourceline,
        )
        domain = config.domains.get(vm.domain) if vm.domain else None
        if vm.domain and domain is None:
            config.errors.append(
                f"{vm.resource} (line {vm.line}) uses failover domain {vm.domain}, "
                "which does not exist"
            )
        if domain is not None:
            vm.preferred = domain.ranked()
            vm.ordered, vm.restricted, vm.nofailback = (
                domain.ordered,
                domain.restricted,
                domain.nofailback,
            )
        config.vms.append(vm)
    return config
