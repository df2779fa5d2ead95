"""The monitoring part of `kvmcluster generate`: Icinga 2 objects for a cluster description
(monitoring/icinga-hosts.conf; monitoring/icinga-zones.conf in agent mode,
monitoring/nrpe.cfg in NRPE mode), for icinga/commands.conf
and icinga/services.conf.

Each node is a Host with its deployment mode (agent: an Endpoint and a Zone per node, the
checks run there through command_endpoint; nrpe; ssh: the plugins run on the monitoring host
and read the node over SSH); the cluster is one more Host whose cluster-wide checks run once,
through the `via` node, and are silenced while that node has lost quorum.
"""

from __future__ import annotations

import json

from kvmcluster.config.description import ClusterDescription

# description [monitoring] checks -> service names of icinga/services.conf
SERVICES = {
    "drbd": "drbd",
    "cluster": "cluster-quorum",
    "daemons": "cluster-daemons",
    "lvm": "cluster-lvm",
    "lint": "cluster-config-lint",
    "services": "cluster-services",
    "vm_alloc": "vm-alloc",
    "cluster_view": "cluster-view",
}
NODE_CHECKS = ("drbd", "cluster", "daemons", "lvm", "lint")
CLUSTER_CHECKS = ("services", "vm_alloc", "cluster_view")


def _s(value: str) -> str:
    return json.dumps(value)  # a JSON string is an Icinga 2 string literal


def _array(values: list[str], indent: str = "\t") -> str:
    if not values:
        return "[ ]"
    if sum(len(v) for v in values) < 60:
        return "[ " + ", ".join(_s(v) for v in values) + " ]"
    inner = ",\n".join(f"{indent}\t{_s(v)}" for v in values)
    return f"[\n{inner},\n{indent}]"


def _via(desc: ClusterDescription) -> str:
    return desc.monitoring.via or desc.nodes[0].name


def _role(desc: ClusterDescription) -> str:
    return "dual-primary" if any(r.dual_primary for r in desc.drbd.resources) else "any"


def _vm_alloc_args(desc: ClusterDescription) -> tuple[list[str], list[str]]:
    vgs = [f"{n.name}={desc.vg_of_node(n.name)}" for n in desc.nodes if desc.vg_of_node(n.name)]
    libvirt = [
        f"{n.name}=qemu+ssh://{desc.monitoring.ssh_user}@{n.name}/system" for n in desc.nodes
    ]
    return vgs, libvirt


def icinga_hosts(desc: ClusterDescription, header: str) -> str:
    mon = desc.monitoring
    mode = mon.mode
    checks = [c for c in mon.checks if c in SERVICES]
    node_checks = [SERVICES[c] for c in checks if c in NODE_CHECKS]
    cluster_checks = [SERVICES[c] for c in checks if c in CLUSTER_CHECKS]
    if mode == "nrpe":  # check_kvmcluster reads the peers over SSH itself: not through NRPE
        cluster_checks = [c for c in cluster_checks if c != "cluster-view"]
    out = [
        f"/* {header}",
        " * Needs icinga/constants.conf, commands.conf and services.conf of kvmcluster.",
        f" * Deployment mode: {mode}. Place it in zones.d/ZONE/ of the master or satellite zone",
        " * that schedules the checks (or include it from icinga2.conf). */",
        "",
    ]
    resources = [res.name for res in desc.drbd.resources]
    for node in desc.nodes:
        address = node.admin_address or node.cluster_address
        out += [
            f"object Host {_s(node.name)} {{",
            '\tcheck_command = "hostalive"',
            f"\taddress = {_s(address)}",
            "\tzone = ZoneName",
            "\tvars.kvmcluster_node = true",
            f"\tvars.kvmcluster_mode = {_s(mode)}",
            f"\tvars.kvmcluster_checks = {_array(node_checks)}",
        ]
        if mode == "ssh":
            out.append(f"\tvars.kvmcluster_ssh = {_s(f'{mon.ssh_user}@{address}')}")
        if mode != "nrpe":
            if resources:
                out.append(f"\tvars.drbd_resources = {_array(resources)}")
            out.append(f"\tvars.kvmcluster_drbd_role = {_s(_role(desc))}")
            if mon.drbd_oos_critical:
                out.append(f"\tvars.kvmcluster_drbd_oos_critical = {_s(mon.drbd_oos_critical)}")
        out += ["}", ""]
    if cluster_checks:
        vgs, libvirt = _vm_alloc_args(desc)
        via = _via(desc)
        out += [
            f"/* The cluster {desc.name}: its cluster-wide checks run once, on {via}. */",
            f"object Host {_s(desc.name)} {{",
            '\tcheck_command = "dummy"',
            "\tzone = ZoneName",
            f"\tvars.dummy_text = {_s(f'cluster {desc.name}: see its services')}",
            "\tvars.kvmcluster_cluster = true",
            f"\tvars.kvmcluster_via = {_s(via)}",
            f"\tvars.kvmcluster_checks = {_array(cluster_checks)}",
        ]
        if mode != "nrpe":
            out += [
                f"\tvars.kvmcluster_vm_alloc_vg = {_array(vgs)}",
                f"\tvars.kvmcluster_vm_alloc_libvirt = {_array(libvirt)}",
            ]
        if "cluster-view" in cluster_checks:  # every node by its admin address, as ssh_user
            view_nodes = [
                f"{n.name}={mon.ssh_user}@{n.admin_address or n.cluster_address}"
                for n in desc.nodes
            ]
            out.append(f"\tvars.kvmcluster_cluster_view_node = {_array(view_nodes)}")
        out += ["}", ""]
    return "\n".join(out)


def icinga_zones(desc: ClusterDescription, header: str) -> str:
    """Agent mode: an Endpoint and a Zone per node, child zones of the scheduling zone."""
    out = [
        f"/* {header}",
        " * The agents of the cluster's nodes. Include this file from zones.conf of the master",
        " * (or satellite) that schedules their checks, never from zones.d/. */",
        "",
    ]
    for node in desc.nodes:
        out += [
            f"object Endpoint {_s(node.name)} {{",
            f"\thost = {_s(node.admin_address or node.cluster_address)}",
            "}",
            "",
            f"object Zone {_s(node.name)} {{",
            f"\tendpoints = [ {_s(node.name)} ]",
            "\tparent = ZoneName",
            "}",
            "",
        ]
    return "\n".join(out)


def nrpe_cfg(desc: ClusterDescription, header: str) -> str:
    """NRPE mode: the node's commands (dont_blame_nrpe=0: every argument fixed here)."""
    vgs, libvirt = _vm_alloc_args(desc)
    vm_alloc = " ".join([*(f"--vg {v}" for v in vgs), *(f"--libvirt {u}" for u in libvirt)])
    plugins = "/usr/lib/nagios/plugins/kvmcluster"  # as the packages install them
    oos = f" --oos-critical {desc.monitoring.drbd_oos_critical}"
    drbd = f"{plugins}/check_drbd --role {_role(desc)}"
    if desc.monitoring.drbd_oos_critical:
        drbd += oos
    stack = "cman" if desc.stack == "cman" else "pacemaker"
    lines = [
        f"# {header}",
        "# Copy to /etc/nagios/nrpe.d/kvmcluster.cfg (RHEL: /etc/nrpe.d/, plugins in",
        "# /usr/lib64/nagios/plugins/kvmcluster) on every node; install icinga/sudoers for --sudo.",
        f"command[check_kvmcluster_drbd]={drbd}",
        f"command[check_kvmcluster_cluster]={plugins}/check_cluster --sudo --stack {stack}",
        f"command[check_kvmcluster_services]={plugins}/check_cluster_services --sudo "
        f"--stack {stack}",
        f"command[check_kvmcluster_daemons]={plugins}/check_cluster_daemons",
        f"command[check_kvmcluster_vm_alloc]={plugins}/check_vm_alloc --sudo -t 20 "
        f"--stack {stack} {vm_alloc}",
        f"command[check_kvmcluster_lvm]={plugins}/check_cluster_lvm --sudo -w 10% -c 5%",
        f"command[check_kvmcluster_lint]={plugins}/kvmcluster lint",
    ]
    return "\n".join(lines) + "\n"
