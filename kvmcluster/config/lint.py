"""Cross-file checks of an existing cluster's config files, with file:line where possible."""

from __future__ import annotations

import os

from kvmcluster.errors import ParseError
from kvmcluster.model.record import factory, record
from kvmcluster.model.vms import same_node

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "schemas", "cluster.rng")
FAKE_FENCE_AGENTS = {"fence_fake", "fence_manual", "fence_ack_manual"}
# after-sb-* policies that throw away data written on a node that was (or is) Primary
UNSAFE_AFTER_SB = {
    "after-sb-0pri": {
        "discard-younger-primary",
        "discard-older-primary",
        "discard-least-changes",
        "discard-local",
        "discard-remote",
    },
    "after-sb-1pri": {"discard-secondary", "consensus", "violently-as0p"},
    "after-sb-2pri": {"violently-as0p"},
}


@record
class LintFinding:
    severity: str  # "error" or "warning"
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


@record
class LintContext:
    findings: list[LintFinding] = factory(list)
    cluster_nodes: list[str] = factory(list)
    fence_agents: dict[str, str] = factory(dict)  # device name -> agent
    cluster_conf: str = ""
    dual_primary: list[str] = factory(list)  # DRBD resources with allow-two-primaries
    drbd_conf: str = ""

    def error(self, file: str, line: int | None, message: str) -> None:
        self.findings.append(LintFinding("error", file, line, message))

    def warning(self, file: str, line: int | None, message: str) -> None:
        self.findings.append(LintFinding("warning", file, line, message))


# --- cluster.conf -------------------------------------------------------------------------


def lint_cluster_conf(ctx: LintContext, path: str, text: str) -> None:
    from lxml import etree

    from kvmcluster.parsers.cluster_conf import parse_cluster_conf_tree

    ctx.cluster_conf = path
    recovered = False
    try:
        root = parse_cluster_conf_tree(text, path)
    except ParseError as exc:
        ctx.error(path, exc.line, exc.reason)
        # go on with what lxml can recover, so the other defects are reported too (the
        # schema is not checked on a recovered tree: its errors would be the recovery's)
        parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
        try:
            root = etree.fromstring(text.encode("utf-8"), parser)
        except etree.XMLSyntaxError:  # nothing to recover
            return
        if root is None:
            return
        recovered = True
    schema = etree.RelaxNG(etree.parse(SCHEMA))
    if not recovered and not schema.validate(etree.ElementTree(root)):
        for entry in schema.error_log:
            ctx.error(path, entry.line or None, f"schema: {entry.message}")
    if not root.get("config_version"):
        ctx.error(path, root.sourceline, "<cluster> has no config_version")
    nodes = root.findall("clusternodes/clusternode")
    ctx.cluster_nodes = [n.get("name", "") for n in nodes]
    cman = root.find("cman")
    if cman is not None and cman.get("two_node") == "1":
        if cman.get("expected_votes") != "1":
            ctx.error(path, cman.sourceline, 'two_node="1" needs expected_votes="1"')
        if len(nodes) != 2:
            ctx.error(path, cman.sourceline, f'two_node="1" with {len(nodes)} nodes')
    for device in root.iterfind("fencedevices/fencedevice"):
        ctx.fence_agents[device.get("name", "")] = device.get("agent", "")
        if device.get("agent") in FAKE_FENCE_AGENTS:
            ctx.warning(
                path,
                device.sourceline,
                f"fence device {device.get('name')} uses {device.get('agent')}, which reports "
                "success without fencing anything",
            )
    for node in nodes:
        devices = node.findall("fence/method/device")
        if not devices:
            ctx.error(path, node.sourceline, f"node {node.get('name')} has no fence method")
        for device in devices:
            if device.get("name") not in ctx.fence_agents:
                ctx.error(
                    path,
                    device.sourceline,
                    f"node {node.get('name')} fences with unknown device {device.get('name')}",
                )
    domains = {}
    for domain in root.iterfind("rm/failoverdomains/failoverdomain"):
        domains[domain.get("name", "")] = domain
        for member in domain.iterfind("failoverdomainnode"):
            name = member.get("name", "")
            if not any(same_node(name, n) for n in ctx.cluster_nodes):
                ctx.error(
                    path,
                    member.sourceline,
                    f"failover domain {domain.get('name')} names {name}, which is not a cluster "
                    f"node ({', '.join(ctx.cluster_nodes)})",
                )
    rm = root.find("rm")
    for service in rm.iter("vm", "service") if rm is not None else []:
        domain = service.get("domain")
        if domain and domain not in domains:
            ctx.error(
                path,
                service.sourceline,
                f"{service.tag} {service.get('name')} uses failover domain {domain}, "
                "which does not exist",
            )


# --- drbd.conf ----------------------------------------------------------------------------


def _statement(section, keyword):
    return next((c for c in section.children or [] if c.keyword == keyword), None)


def lint_drbd_conf(ctx: LintContext, path: str, hosts_names: dict[str, tuple[str, int]] | None):
    from kvmcluster.parsers.drbd_conf import is_dual_primary, resource_setting
    from kvmcluster.sources.drbd_conf import read_drbd_conf

    ctx.drbd_conf = path
    try:
        config = read_drbd_conf(path)
    except ParseError as exc:
        ctx.error(exc.source, exc.line, exc.reason)
        return
    endpoints: dict[str, tuple[str, int]] = {}
    # settings inherited from `common` apply to many resources: one finding per line
    grouped: dict[tuple[str, str, int | None, str], list[str]] = {}

    def setting(resource, section: str, keyword: str):
        return resource_setting(config, resource, section, keyword)

    for resource in config.resources():
        name = resource.args[0] if resource.args else "?"
        if is_dual_primary(config, resource):
            ctx.dual_primary.append(name)
            fencing = setting(resource, "disk", "fencing") or setting(resource, "net", "fencing")
            policy = fencing.args[0] if fencing is not None and fencing.args else "dont-care"
            if policy == "dont-care":
                where = (fencing.file, fencing.line) if fencing else (path, resource.line)
                grouped.setdefault(("error", *where, "fencing"), []).append(name)
            for keyword, unsafe in UNSAFE_AFTER_SB.items():
                policy_node = setting(resource, "net", keyword)
                if policy_node is not None and policy_node.args and policy_node.args[0] in unsafe:
                    what = f"{keyword} {policy_node.args[0]}"
                    key = ("warning", policy_node.file, policy_node.line, what)
                    grouped.setdefault(key, []).append(name)
        for on in resource.sections("on"):
            host = on.args[0] if on.args else "?"
            if ctx.cluster_nodes and not any(host == n for n in ctx.cluster_nodes):
                ctx.error(
                    on.file,
                    on.line,
                    f"resource {name}: 'on {host}' is not a cluster node name "
                    f"({', '.join(ctx.cluster_nodes)}): DRBD and the cluster must use the same",
                )
            if hosts_names is not None and host not in hosts_names:
                ctx.error(
                    on.file, on.line, f"resource {name}: host {host} is not in the hosts file"
                )
            address = _statement(on, "address")
            if address is not None and address.args:
                endpoint = address.args[-1]
                if endpoint in endpoints:
                    other, line = endpoints[endpoint]
                    ctx.error(
                        address.file,
                        address.line,
                        f"resource {name}: address {endpoint} is also used by {other} "
                        f"(line {line})",
                    )
                endpoints[endpoint] = (f"{name} on {host}", address.line)
    for (severity, file, line, what), names in grouped.items():
        label = "resource " + names[0] if len(names) == 1 else "resources " + ", ".join(names)
        if what == "fencing":
            message = (
                f"{label}: dual-primary (allow-two-primaries) with fencing dont-care: after a "
                "split both nodes keep writing the same disks"
            )
        else:
            message = (
                f"{label}: {what} discards the data of a node that was Primary "
                "(use disconnect and recover by hand)"
            )
        (ctx.error if severity == "error" else ctx.warning)(file, line, message)


# --- hosts, corosync.conf, cross-file -----------------------------------------------------


def lint_hosts(ctx: LintContext, path: str, text: str) -> dict[str, tuple[str, int]]:
    from kvmcluster.parsers.hosts import parse_hosts

    entries = parse_hosts(text)
    names: dict[str, tuple[str, int]] = {}
    for entry in entries:
        for name in entry.names:
            names.setdefault(name, (entry.address, entry.line))
    for node in ctx.cluster_nodes:
        lines = [e for e in entries if node in e.names]
        if not lines:
            ctx.error(path, None, f"cluster node {node} is not in the hosts file")
            continue
        for entry in lines:
            if entry.names[0] != node and not entry.address.startswith("127."):
                ctx.error(
                    path,
                    entry.line,
                    f"{node} is not the first name on its line ({entry.address} "
                    f'{" ".join(entry.names)}): cman then fails with "Cannot find node name in '
                    'cluster.conf"',
                )
    return names


def lint_corosync_conf(ctx: LintContext, path: str, text: str) -> None:
    from kvmcluster.parsers.corosync_conf import parse_corosync_conf

    try:
        root = parse_corosync_conf(text, path)
    except ParseError as exc:
        ctx.error(path, exc.line, exc.reason)
        return
    totem = root.section("totem")
    if totem is None or "cluster_name" not in totem.values:
        ctx.error(path, totem.line if totem else None, "totem has no cluster_name")
    quorum = root.section("quorum")
    if quorum is None or "provider" not in quorum.values:
        ctx.error(path, quorum.line if quorum else None, "quorum has no provider")
    nodelist = root.section("nodelist")
    nodes = nodelist.all("node") if nodelist else []
    if not nodes:
        ctx.error(path, nodelist.line if nodelist else None, "nodelist has no node")
    seen: dict[str, int] = {}
    for node in nodes:
        for key in ("nodeid", "ring0_addr"):
            value, line = node.values.get(key, ("", node.line))
            if not value:
                ctx.error(path, node.line, f"node without {key}")
            elif (key, value) in seen:
                ctx.error(path, line, f"{key} {value} also used on line {seen[(key, value)]}")
            else:
                seen[(key, value)] = line
        if ctx.cluster_nodes:
            name = node.values.get("name", ("", 0))[0]
            if name and name not in ctx.cluster_nodes:
                ctx.warning(path, node.line, f"node {name} is not in cluster.conf")
    if quorum is not None and quorum.values.get("two_node", ("0", 0))[0] == "1" and len(nodes) != 2:
        ctx.error(path, quorum.values["two_node"][1], f"two_node: 1 with {len(nodes)} nodes")


def lint_fencing(ctx: LintContext) -> None:
    """Dual-primary DRBD is only safe when the cluster can really fence."""
    if not ctx.dual_primary or not ctx.fence_agents:
        return
    fake = sorted({a for a in ctx.fence_agents.values() if a in FAKE_FENCE_AGENTS})
    if fake and len(fake) == len(set(ctx.fence_agents.values())):
        ctx.error(
            ctx.cluster_conf,
            None,
            f"dual-primary DRBD ({', '.join(ctx.dual_primary)} in {ctx.drbd_conf}) but every "
            f"fence device is {', '.join(fake)}, which cannot fence: a split brain corrupts "
            "the VM disks",
        )


# The node's own files, linted when none is given: those of them that exist.
NODE_FILES = {
    "cluster_conf": "/etc/cluster/cluster.conf",
    "drbd_conf": "/etc/drbd.conf",  # includes drbd.d/*
    "hosts": "/etc/hosts",
    "corosync_conf": "/etc/corosync/corosync.conf",
    "lvm_conf": "/etc/lvm/lvm.conf",
}


def node_files(root: str = "/") -> dict[str, str]:
    """The NODE_FILES that exist under root (a node's filesystem, or a generated tree)."""
    found = {}
    for key, path in NODE_FILES.items():
        full = os.path.join(root, path.lstrip("/"))
        if os.path.isfile(full):
            found[key] = full
    return found


def lint_files(
    cluster_conf: str | None = None,
    drbd_conf: str | None = None,
    hosts: str | None = None,
    corosync_conf: str | None = None,
    lvm_conf: str | None = None,
) -> list[LintFinding]:
    from kvmcluster.sources.files import read_text

    ctx = LintContext()

    def text_of(path: str, what: str) -> str | None:
        """The file's text; None (after an error finding) when it is empty: an empty config
        is a truncated or wrongly generated file, not a clean one."""
        text = read_text(path, what)
        if text.strip():
            return text
        ctx.error(path, None, f"{what} is empty (truncated?)")
        return None

    if cluster_conf and (text := text_of(cluster_conf, "cluster.conf")) is not None:
        lint_cluster_conf(ctx, cluster_conf, text)
    hosts_names = None
    if hosts and (text := text_of(hosts, "hosts file")) is not None:
        hosts_names = lint_hosts(ctx, hosts, text)
    if drbd_conf and text_of(drbd_conf, "drbd.conf") is not None:
        lint_drbd_conf(ctx, drbd_conf, hosts_names)
    if corosync_conf and (text := text_of(corosync_conf, "corosync.conf")) is not None:
        lint_corosync_conf(ctx, corosync_conf, text)
    if lvm_conf and (text := text_of(lvm_conf, "lvm.conf")) is not None:
        from kvmcluster.config.lint_lvm import lint_lvm_conf

        lint_lvm_conf(ctx, lvm_conf, text, drbd_conf)
    lint_fencing(ctx)
    return ctx.findings
