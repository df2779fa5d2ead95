"""The cluster description (TOML): one file from which every config file is generated.

load_description() refuses a bad description with every problem found, each as
`FILE: KEY: reason`.
"""

from __future__ import annotations

import ipaddress
import re

from kvmcluster.errors import KvmclusterError
from kvmcluster.model.record import factory, record

# Fence agents that cannot fence: they report success without touching the node.
FAKE_FENCE_AGENTS = {"fence_fake", "fence_manual", "fence_ack_manual", "none", ""}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class DescriptionError(KvmclusterError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@record
class Node:
    name: str
    node_id: int
    admin_address: str = ""
    # The interconnect: cman/corosync talk and VMs migrate over it; the node name must
    # resolve to it (default: the node's address on the first DRBD resource).
    cluster_address: str = ""
    fence: dict[str, str] = factory(dict)  # per-node fence parameters (ipaddr, port ...)


@record
class DrbdResource:
    name: str
    minor: int
    port: int
    disks: dict[str, str]  # node -> backing device
    addresses: dict[str, str]  # node -> replication address
    protocol: str = "C"
    dual_primary: bool = True
    resync_rate: str = ""


@record
class Drbd:
    version: str = "8.4"  # "8.4" or "9"
    protocol: str = "C"
    resync_rate: str = "110M"
    dual_primary: bool = True
    resources: list[DrbdResource] = factory(list)


@record
class VolumeGroup:
    name: str
    drbd_resource: str
    home: str = "shared"  # a node name, or "shared" (images, templates)


@record
class Vm:
    name: str
    home: str
    vg: str
    autostart: bool = True
    migrate: str = "live"
    recovery: str = "relocate"


@record
class Fencing:
    agent: str = ""
    params: dict[str, str] = factory(dict)
    allow_dual_primary_without_fencing: bool = False

    @property
    def real(self) -> bool:
        return self.agent not in FAKE_FENCE_AGENTS


MONITORING_CHECKS = (
    "drbd", "cluster", "daemons", "lvm", "lint", "services", "vm_alloc", "cluster_view"
)  # fmt: skip
MONITORING_MODES = ("agent", "nrpe", "ssh")


@record
class Monitoring:
    checks: list[str] = factory(lambda: list(MONITORING_CHECKS))
    drbd_oos_critical: str = ""
    nrpe: bool = False  # the same as mode = "nrpe" (older descriptions)
    mode: str = "agent"  # how Icinga reaches the nodes: agent, nrpe or ssh
    ssh_user: str = "nagios"  # mode = "ssh": the user the checks log in as
    via: str = ""  # the node that runs the cluster checks (default: the first node)


@record
class ClusterDescription:
    source: str
    name: str
    stack: str  # "cman" or "pacemaker"
    config_version: int = 1
    nodes: list[Node] = factory(list)
    drbd: Drbd = factory(Drbd)
    volume_groups: list[VolumeGroup] = factory(list)
    vms: list[Vm] = factory(list)
    fencing: Fencing = factory(Fencing)
    monitoring: Monitoring = factory(Monitoring)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def vg_of_node(self, node: str) -> str | None:
        return next((vg.name for vg in self.volume_groups if vg.home == node), None)


class _Reader:
    """Typed access to a TOML table that records every problem with its key path."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[str] = []

    def problem(self, key: str, reason: str) -> None:
        self.problems.append(f"{self.source}: {key}: {reason}")

    def table(self, data: dict, path: str, allowed: set[str]) -> dict:
        if not isinstance(data, dict):
            self.problem(path, f"expected a table, got {type(data).__name__}")
            return {}
        for key in data:
            if key not in allowed:
                self.problem(
                    f"{path}.{key}" if path else key,
                    f"unknown key (allowed: {', '.join(sorted(allowed))})",
                )
        return data

    def get(self, data: dict, key: str, path: str, kind, default=..., check=None):
        full = f"{path}.{key}" if path else key
        if key not in data:
            if default is ...:
                self.problem(full, "missing")
                return None
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.problem(full, f"expected {names}, got {type(value).__name__} {value!r}")
            return None if default is ... else default
        if check is not None:
            reason = check(value)
            if reason:
                self.problem(full, reason)
        return value

    def array_of_tables(self, data: dict, key: str) -> list[tuple[str, dict]]:
        items = data.get(key, [])
        if not isinstance(items, list):
            self.problem(key, "expected an array of tables ([[" + key + "]])")
            return []
        return [(f"{key}[{index}]", item) for index, item in enumerate(items)]


def _name(value: str) -> str | None:
    return None if NAME_RE.match(value) else "not a valid name (letters, digits, . _ -)"


def _address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "not an IP address"
    return None


def _one_of(*choices):
    def check(value):
        return None if value in choices else f"must be one of {', '.join(map(str, choices))}"

    return check


def _positive(value: int) -> str | None:
    if value < 0:
        return "must not be negative"
    return None if value < 2**63 else "out of range (a number below 2**63)"


def parse_description(data: dict, source: str) -> ClusterDescription:
    r = _Reader(source)
    r.table(data, "", {"cluster", "nodes", "drbd", "volume_groups", "vms", "fencing", "monitoring"})
    cluster = r.table(data.get("cluster", {}), "cluster", {"name", "stack", "config_version"})
    if "cluster" not in data:
        r.problem("cluster", "missing")
    description = ClusterDescription(
        source,
        r.get(cluster, "name", "cluster", str, check=_name) or "",
        r.get(cluster, "stack", "cluster", str, check=_one_of("cman", "pacemaker")) or "cman",
        r.get(cluster, "config_version", "cluster", int, 1, check=_positive),
    )
    node_keys = {"name", "node_id", "admin_address", "cluster_address", "fence"}
    for path, item in r.array_of_tables(data, "nodes"):
        table = r.table(item, path, node_keys)
        fence = r.get(table, "fence", path, dict, {})
        node = Node(
            r.get(table, "name", path, str, check=_name) or "",
            r.get(table, "node_id", path, int, len(description.nodes) + 1, check=_positive),
            r.get(table, "admin_address", path, str, "", check=_address),
            r.get(table, "cluster_address", path, str, "", check=_address),
            {str(k): str(v) for k, v in fence.items()},
        )
        description.nodes.append(node)
    if not description.nodes:
        r.problem("nodes", "at least one [[nodes]] table is needed")
    names = [n.name for n in description.nodes]
    _unique(r, "nodes", "name", names)
    _unique(r, "nodes", "node_id", [n.node_id for n in description.nodes])

    drbd_table = r.table(
        data.get("drbd", {}),
        "drbd",
        {"version", "protocol", "resync_rate", "dual_primary", "resources"},
    )
    drbd = Drbd(
        r.get(drbd_table, "version", "drbd", str, "8.4", check=_one_of("8.4", "9")),
        r.get(drbd_table, "protocol", "drbd", str, "C", check=_one_of("A", "B", "C")),
        r.get(drbd_table, "resync_rate", "drbd", str, "110M"),
        r.get(drbd_table, "dual_primary", "drbd", bool, True),
    )
    resource_keys = {
        "name",
        "minor",
        "port",
        "disks",
        "addresses",
        "protocol",
        "dual_primary",
        "resync_rate",
    }
    for path, item in r.array_of_tables(drbd_table, "resources"):
        path = f"drbd.{path}"
        table = r.table(item, path, resource_keys)
        disks = r.get(table, "disks", path, dict, {})
        addresses = r.get(table, "addresses", path, dict, {})
        for label, per_node in (("disks", disks), ("addresses", addresses)):
            for node in names:
                if node not in per_node:
                    r.problem(f"{path}.{label}", f"no entry for node {node}")
            for node in per_node:
                if node not in names:
                    r.problem(f"{path}.{label}.{node}", "not a node of [[nodes]]")
        for node, address in addresses.items():
            reason = _address(str(address))
            if reason:
                r.problem(f"{path}.addresses.{node}", reason)
        drbd.resources.append(
            DrbdResource(
                r.get(table, "name", path, str, check=_name) or "",
                r.get(table, "minor", path, int, check=_positive),
                r.get(table, "port", path, int, 7788, check=_positive),
                {str(k): str(v) for k, v in disks.items()},
                {str(k): str(v) for k, v in addresses.items()},
                r.get(table, "protocol", path, str, drbd.protocol, check=_one_of("A", "B", "C")),
                r.get(table, "dual_primary", path, bool, drbd.dual_primary),
                r.get(table, "resync_rate", path, str, drbd.resync_rate),
            )
        )
    description.drbd = drbd
    _unique(r, "drbd.resources", "name", [d.name for d in drbd.resources])
    _unique(r, "drbd.resources", "minor", [d.minor for d in drbd.resources])
    endpoints = [
        (f"drbd.resources[{index}].addresses.{node}", f"{address}:{d.port}")
        for index, d in enumerate(drbd.resources)
        for node, address in d.addresses.items()
    ]
    _unique(
        r,
        "drbd.resources",
        "address:port",
        [value for _, value in endpoints],
        [key for key, _ in endpoints],
    )

    drbd_names = [d.name for d in drbd.resources]
    for path, item in r.array_of_tables(data, "volume_groups"):
        table = r.table(item, path, {"name", "drbd_resource", "home"})
        vg = VolumeGroup(
            r.get(table, "name", path, str, check=_name) or "",
            r.get(table, "drbd_resource", path, str) or "",
            r.get(table, "home", path, str, "shared"),
        )
        if vg.drbd_resource and vg.drbd_resource not in drbd_names:
            r.problem(f"{path}.drbd_resource", f"no DRBD resource named {vg.drbd_resource!r}")
        if vg.home != "shared" and vg.home not in names:
            r.problem(f"{path}.home", f"{vg.home!r} is not a node (nor 'shared')")
        description.volume_groups.append(vg)
    _unique(r, "volume_groups", "name", [v.name for v in description.volume_groups])
    _unique(
        r, "volume_groups", "drbd_resource", [v.drbd_resource for v in description.volume_groups]
    )

    vg_names = {v.name: v for v in description.volume_groups}
    for path, item in r.array_of_tables(data, "vms"):
        table = r.table(item, path, {"name", "home", "vg", "autostart", "migrate", "recovery"})
        vm = Vm(
            r.get(table, "name", path, str, check=_name) or "",
            r.get(table, "home", path, str) or "",
            r.get(table, "vg", path, str, ""),
            r.get(table, "autostart", path, bool, True),
            r.get(table, "migrate", path, str, "live", check=_one_of("live", "pause")),
            r.get(
                table,
                "recovery",
                path,
                str,
                "relocate",
                check=_one_of("relocate", "restart", "disable"),
            ),
        )
        if vm.home and vm.home not in names:
            r.problem(f"{path}.home", f"{vm.home!r} is not a node")
        vg = vg_names.get(vm.vg)
        if vm.vg and vg is None:
            r.problem(f"{path}.vg", f"no volume group named {vm.vg!r}")
        elif vg is not None and vg.home not in ("shared", vm.home):
            r.problem(f"{path}.vg", f"{vm.vg} belongs to {vg.home}, not to the VM's home {vm.home}")
        description.vms.append(vm)
    _unique(r, "vms", "name", [v.name for v in description.vms])

    fencing_table = r.table(
        data.get("fencing", {}),
        "fencing",
        {"agent", "params", "allow_dual_primary_without_fencing"},
    )
    description.fencing = Fencing(
        r.get(fencing_table, "agent", "fencing", str, ""),
        {str(k): str(v) for k, v in r.get(fencing_table, "params", "fencing", dict, {}).items()},
        r.get(fencing_table, "allow_dual_primary_without_fencing", "fencing", bool, False),
    )
    dual = [d.name for d in drbd.resources if d.dual_primary]
    if (
        dual
        and not description.fencing.real
        and not description.fencing.allow_dual_primary_without_fencing
    ):
        agent = description.fencing.agent or "none"
        r.problem(
            "fencing.agent",
            f"dual-primary DRBD ({', '.join(dual)}) needs a fence agent that really fences, "
            f"not {agent!r}; set fencing.allow_dual_primary_without_fencing = true to accept "
            "the risk of a split brain corrupting every VM disk",
        )
    monitoring_table = r.table(
        data.get("monitoring", {}),
        "monitoring",
        {"checks", "drbd_oos_critical", "nrpe", "mode", "ssh_user", "via"},
    )
    nrpe = r.get(monitoring_table, "nrpe", "monitoring", bool, False)
    description.monitoring = Monitoring(
        r.get(monitoring_table, "checks", "monitoring", list, Monitoring().checks),
        r.get(monitoring_table, "drbd_oos_critical", "monitoring", str, ""),
        nrpe,
        r.get(
            monitoring_table,
            "mode",
            "monitoring",
            str,
            "nrpe" if nrpe else "agent",
            check=_one_of(*MONITORING_MODES),
        ),
        r.get(monitoring_table, "ssh_user", "monitoring", str, "nagios", check=_name),
        r.get(monitoring_table, "via", "monitoring", str, ""),
    )
    for check in description.monitoring.checks:
        if check not in MONITORING_CHECKS:
            r.problem(
                "monitoring.checks",
                f"unknown check {check!r} (known: {', '.join(MONITORING_CHECKS)})",
            )
    if nrpe and description.monitoring.mode != "nrpe":
        r.problem("monitoring.nrpe", f"contradicts mode = {description.monitoring.mode!r}")
    if description.monitoring.via and description.monitoring.via not in names:
        r.problem("monitoring.via", f"{description.monitoring.via!r} is not a node")
    for node in description.nodes:
        if not node.cluster_address:
            first = drbd.resources[0].addresses.get(node.name, "") if drbd.resources else ""
            node.cluster_address = first or node.admin_address
        if not node.cluster_address:
            r.problem("nodes", f"{node.name}: no cluster_address, admin_address or DRBD address")
    if r.problems:
        raise DescriptionError(r.problems)
    return description


def _unique(r: _Reader, table: str, key: str, values: list, keys: list[str] | None = None) -> None:
    """Each value that repeats an earlier one is a problem named by its entry's index:
    `drbd.resources[2].minor: duplicate 1 (as drbd.resources[1])`."""
    seen: dict = {}
    for index, value in enumerate(values):
        if value in (None, ""):
            continue
        where = keys[index] if keys else f"{table}[{index}].{key}"
        if value in seen:
            r.problem(where, f"duplicate {value!r} (as {seen[value]})")
        else:
            seen[value] = where


def load_description(path: str) -> ClusterDescription:
    from kvmcluster.sources.files import read_text

    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib

    text = read_text(path, "description")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DescriptionError([f"{path}: {exc}"]) from None
    except ValueError:  # a number of more than 4300 digits (Python's int limit)
        raise DescriptionError([f"{path}: not TOML: a number of thousands of digits"]) from None
    except RecursionError:  # arrays or inline tables nested thousands deep
        raise DescriptionError([f"{path}: not TOML: nested too deeply"]) from None
    return parse_description(data, path)
