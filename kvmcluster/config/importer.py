"""An existing cluster's files (cluster.conf, drbd.conf, hosts) -> a description (TOML)."""

from __future__ import annotations

import re

from kvmcluster.config.description import FAKE_FENCE_AGENTS
from kvmcluster.errors import KvmclusterError, ParseError
from kvmcluster.model.findings import printable
from kvmcluster.parsers.drbd_conf import ConfNode, DrbdConfig
from kvmcluster.parsers.values import is_count

_MINOR = re.compile(r"^/dev/drbd([0-9]{1,20})$")


class ImportError_(KvmclusterError):
    pass


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _table(lines: list[str], header: str, values: dict) -> None:
    lines.append(header)
    for key, value in values.items():
        if value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    lines.append("")


def _number(element, name: str, default: str, source: str) -> int:
    """A whole-number attribute of cluster.conf (config_version, nodeid), or a ParseError
    naming its line."""
    value = (element.get(name) or default).strip()
    if not is_count(value):
        reason = f"<{element.tag} {name}={value[:40]!r}>: not a whole number"
        raise ParseError(source, reason, element.sourceline)
    return int(value)


def _drbd_setting(resource: ConfNode, common: ConfNode | None, section: str, keyword: str):
    for scope in (resource, common):
        for block in [c for c in (scope.children or []) if c.keyword == section] if scope else []:
            for child in block.children or []:
                if child.keyword == keyword:
                    return child
    return None


def _recovered(text: str, source: str, warnings: list[str]) -> str:
    """cluster.conf that is not well-formed XML (the seed's `<-- Exemple ...` comment), read
    the way libxml2 recovers it, with a warning naming the line. The recovered document keeps
    its line numbers, so the findings read on it point at the admin's file."""
    from lxml import etree

    from kvmcluster.parsers.cluster_conf import parse_cluster_conf_tree
    from kvmcluster.parsers.xmltext import refuse_dtd

    try:
        parse_cluster_conf_tree(text, source)
        return text
    except ParseError as exc:
        first = exc
    refuse_dtd(text, source)
    xml_parser = etree.XMLParser(
        recover=True,
        encoding="utf-8",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    try:
        root = etree.fromstring(text.encode("utf-8"), xml_parser)
    except (etree.XMLSyntaxError, UnicodeError):
        root = None
    if root is None or root.tag != "cluster":
        raise first
    try:  # a recovered tree can hold what libxml2 itself cannot write back (a cut character)
        recovered = etree.tostring(root, encoding="unicode")
    except (UnicodeError, ValueError):
        raise first from None
    warnings.append(
        f"{first}: read as libxml2 recovers it (what it cannot read is left out): fix the file "
        "(kvmcluster lint) and compare the imported VMs and nodes with it"
    )
    return "\n" * ((root.sourceline or 1) - 1) + recovered + "\n"


def _node_addresses(hosts_text: str | None, nodes: list[str]) -> dict[str, dict[str, str]]:
    """node -> {"cluster_address", "admin_address"} from an /etc/hosts.

    The interconnect is the line on which the cluster node name comes first (cman finds its
    own node by it); the admin address is the line of `SHORT-admin` (as generate writes it),
    else another line naming the node or its short name."""
    from kvmcluster.model.vms import short
    from kvmcluster.parsers.hosts import parse_hosts

    entries = parse_hosts(hosts_text or "")
    found: dict[str, dict[str, str]] = {}
    for node in nodes:
        names = {node, short(node)}
        first = next((e.address for e in entries if e.names[0] == node), None)
        anywhere = next((e.address for e in entries if node in e.names), None)
        cluster = first or anywhere
        admin = next(
            (e.address for e in entries if {f"{n}-admin" for n in names} & set(e.names)), None
        )
        if admin is None:
            admin = next(
                (e.address for e in entries if names & set(e.names) and e.address != cluster),
                None,
            )
        pairs = (("cluster_address", cluster), ("admin_address", admin))
        found[node] = {key: value for key, value in pairs if value}
    return found


def _home(vm, nodes: list[str], warnings: list[str]) -> str:
    """The VM's home node: the first node of its failover domain that is a cluster node; else
    the node its domain is named after (kvm_SHORT, as generate names them), with a warning."""
    from kvmcluster.model.vms import same_node, short

    for candidate in vm.preferred:
        node = next((n for n in nodes if same_node(candidate, n)), None)
        if node is not None:
            return node
    by_name = next((n for n in nodes if vm.domain == f"kvm_{short(n)}"), None)
    home = by_name or (nodes[0] if nodes else "")
    why = f"named after {home}" if by_name else "none of its nodes is a cluster node"
    warnings.append(
        f"{vm.resource}: failover domain {vm.domain or '(none)'} gives no home among the cluster "
        f"nodes; imported with home = {home!r} ({why}): check it"
    )
    return home


def import_cluster(
    cluster_conf_text: str,
    cluster_conf: str,
    drbd: DrbdConfig,
    hosts_text=None,
    admin_addresses: dict[str, str] | None = None,
    warnings: list[str] | None = None,
):
    """The description (TOML text) of an existing cluster.

    The defects of cluster.conf (failover domains naming other hosts, a broken comment) do not
    stop the import: they are appended to `warnings` (and written as comments into the TOML),
    and the description says what the cluster should be. admin_addresses (node -> IP, from
    --admin-address) win over the hosts file."""
    from kvmcluster.parsers.cluster_conf import parse_cluster_conf, parse_cluster_conf_tree

    warnings = [] if warnings is None else warnings
    cluster_conf_text = _recovered(cluster_conf_text, cluster_conf, warnings)
    config = parse_cluster_conf(cluster_conf_text, cluster_conf)
    warnings += [f"{cluster_conf}: {error}" for error in config.errors]
    root = parse_cluster_conf_tree(cluster_conf_text, cluster_conf)
    addresses = _node_addresses(hosts_text, config.nodes)
    for node, address in (admin_addresses or {}).items():
        if node not in config.nodes:
            raise ImportError_(f"--admin-address {node}: not a node of {cluster_conf}")
        addresses.setdefault(node, {})["admin_address"] = address
    lines = [
        f"# imported by kvmcluster import from {cluster_conf} and drbd.conf",
        "# Check it, then: kvmcluster generate THIS.toml --output DIR --diff",
        "",
    ]
    mark = len(lines)
    _table(
        lines,
        "[cluster]",
        {
            "name": config.name,
            "stack": "cman",
            "config_version": _number(root, "config_version", "1", cluster_conf),
        },
    )
    agents = {d.get("name"): d for d in root.iterfind("fencedevices/fencedevice")}
    agent, params = "", {}
    for element in root.iterfind("clusternodes/clusternode"):
        device = element.find("fence/method/device")
        fence = {}
        if device is not None:
            fence = {k: v for k, v in device.attrib.items() if k != "name"}
            fencedevice = agents.get(device.get("name"))
            if fencedevice is not None and not agent:
                agent = fencedevice.get("agent", "")
                params = {k: v for k, v in fencedevice.attrib.items() if k not in ("name", "agent")}
        node_id = _number(element, "nodeid", "0", cluster_conf)
        node = {"name": element.get("name"), "node_id": node_id}
        node.update(addresses.get(element.get("name"), {}))
        if "admin_address" not in node:
            where = node.get("cluster_address", "its cluster address")
            warnings.append(
                f"node {node['name']}: no admin address (--admin-address NODE=IP, or a "
                f"SHORT-admin line in --hosts): Icinga would check it on {where}"
            )
        if fence:
            node["fence"] = fence
        _table(lines, "[[nodes]]", node)
    common = next((n for n in drbd.nodes if n.keyword == "common"), None)
    version = "9" if any(_find(r, "node-id") for r in drbd.resources()) else "8.4"
    protocol = _drbd_setting(common, None, "net", "protocol") if common else None
    if protocol is None and common is not None:
        protocol = next((c for c in common.children or [] if c.keyword == "protocol"), None)
    rate = None
    if common is not None:
        rate = _drbd_setting(common, None, "syncer", "rate") or _drbd_setting(
            common, None, "disk", "resync-rate"
        )
    _table(
        lines,
        "[drbd]",
        {
            "version": version,
            "protocol": protocol.args[0] if protocol is not None and protocol.args else "C",
            "resync_rate": rate.args[0] if rate is not None and rate.args else "110M",
        },
    )
    for resource in drbd.resources():
        _table(lines, "[[drbd.resources]]", _drbd_resource(resource, common, config.nodes))
    for vm in config.vms:
        home = _home(vm, config.nodes, warnings)
        _table(
            lines,
            "[[vms]]",
            {
                "name": vm.name,
                "home": home,
                "autostart": vm.autostart,
                "migrate": _vm_attribute(root, vm.name, "migrate", "live"),
                "recovery": vm.recovery or "relocate",
            },
        )
    fencing = {"agent": agent, "params": params}
    if agent in FAKE_FENCE_AGENTS:
        lines.append(f"# {agent} cannot fence: the cluster runs dual-primary DRBD without fencing.")
        lines.append("# Replace it with a real agent and drop the next line.")
        fencing["allow_dual_primary_without_fencing"] = True
        warnings.append(
            f"{cluster_conf}: fence agent {agent or 'none'} cannot fence: imported with "
            "allow_dual_primary_without_fencing = true; replace it with a real agent"
        )
    _table(lines, "[fencing]", fencing)
    if warnings:
        notes = ["# kvmcluster import found, and imported anyway:"]
        notes += [f"# WARNING: {printable(w)}" for w in warnings]
        lines[mark:mark] = notes + [""]
    return "\n".join(lines).rstrip() + "\n"


def _find(section: ConfNode, keyword: str) -> ConfNode | None:
    for child in section.children or []:
        if child.keyword == keyword:
            return child
        if child.children is not None:
            found = _find(child, keyword)
            if found is not None:
                return found
    return None


def _vm_attribute(root, name: str, attribute: str, default: str) -> str:
    for element in root.iter("vm"):
        if element.get("name") == name:
            return element.get(attribute, default)
    return default


def _drbd_resource(resource: ConfNode, common, nodes: list[str]) -> dict:
    name = resource.args[0] if resource.args else "?"
    disks, addresses, minor, port = {}, {}, None, 7788
    for on in [c for c in resource.children or [] if c.keyword == "on" and c.children is not None]:
        host = on.args[0] if on.args else "?"
        disk, address, device = _find(on, "disk"), _find(on, "address"), _find(on, "device")
        if disk is not None and disk.args:
            disks[host] = disk.args[0]
        if address is not None and address.args:
            ip, _, port_text = address.args[-1].rpartition(":")
            addresses[host] = ip.strip("[]")
            port = int(port_text) if is_count(port_text) else port
        if device is not None and minor is None:
            for arg in device.args:
                if m := _MINOR.match(arg):
                    minor = int(m.group(1))
            if "minor" in device.args:
                after = device.args[device.args.index("minor") + 1 :]
                if not after or not is_count(after[0]):
                    reason = "device ... minor: not a whole number"
                    raise ParseError(device.file, reason, device.line)
                minor = int(after[0])
    two = _drbd_setting(resource, common, "net", "allow-two-primaries")
    dual = two is not None and (not two.args or two.args[0] != "no")
    unknown = [h for h in disks if h not in nodes]
    if unknown:
        raise ImportError_(
            f"drbd.conf resource {name}: hosts {', '.join(unknown)} are not cluster nodes"
        )
    return {
        "name": name,
        "minor": minor if minor is not None else 0,
        "port": port,
        "disks": disks,
        "addresses": addresses,
        "dual_primary": dual,
    }
