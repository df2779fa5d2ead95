"""An existing cluster's files (cluster.conf, drbd.conf, hosts) -> a description (TOML)."""

from __future__ import annotations

import re

from kvmcluster.config.description import FAKE_FENCE_AGENTS
from kvmcluster.errors import KvmclusterError, ParseError
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


def import_cluster(cluster_conf_text: str, cluster_conf: str, drbd: DrbdConfig, hosts_text=None):
    from kvmcluster.parsers.cluster_conf import parse_cluster_conf, parse_cluster_conf_tree
    from kvmcluster.parsers.hosts import parse_hosts

    config = parse_cluster_conf(cluster_conf_text, cluster_conf)
    if config.errors:
        raise ImportError_(
            "fix the cluster config first (kvmcluster lint): " + "; ".join(config.errors)
        )
    root = parse_cluster_conf_tree(cluster_conf_text, cluster_conf)
    hosts = {}
    for entry in parse_hosts(hosts_text or ""):
        for name in entry.names:
            hosts.setdefault(name, entry.address)
    lines = [
        f"# imported by kvmcluster import from {cluster_conf} and drbd.conf",
        "# Check it, then: kvmcluster generate THIS.toml --output DIR --diff",
        "",
    ]
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
        if element.get("name") in hosts:
            node["cluster_address"] = hosts[element.get("name")]
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
        home = vm.preferred[0] if vm.preferred else ""
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
    _table(lines, "[fencing]", fencing)
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
