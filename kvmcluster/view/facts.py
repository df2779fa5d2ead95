"""A node's capture read into NodeFacts for the correlation rules (kvmcluster.rules.correlate).

Each input is read with the parser the single-node checks use; one that is missing leaves its
fact None, one that does not parse leaves it None too and says why in `NodeFacts.unread`
(nothing raises out of here). Data only: no state is decided, and no text of a capture is
kept (configuration files are reduced to digests)."""

from __future__ import annotations

import hashlib
import os

from kvmcluster import capture as c
from kvmcluster.errors import KvmclusterError
from kvmcluster.model.cluster_view import ConfigDigest, NodeFacts

LVM_SETTINGS = ("devices/filter", "devices/global_filter", "global/locking_type",
                "global/use_lvmlockd")  # fmt: skip
MAX_CONFIG_LINES = 100_000


def facts_from_capture(cap, name: str) -> NodeFacts:
    """The facts of one node from its capture (kvmcluster.capture.Capture): data only."""
    facts = NodeFacts(name=name)
    facts.stack = _stack(cap)
    for what, read in _READERS:
        try:
            read(cap, facts)
        except KvmclusterError as exc:
            facts.unread[what] = str(exc)
        except Exception as exc:  # a defect of a reader must not end the whole cluster view
            facts.unread[what] = f"{what}: cannot be read ({type(exc).__name__})"
    return facts


def _text(cap, file_name: str) -> str | None:
    from kvmcluster.sources.files import read_text

    path = cap.file(file_name)
    return read_text(path, file_name) if path else None


def _stack(cap) -> str:
    """The one stack detector (sources.cluster.detect_stack) on the capture's node, as status
    asks it: "cman", "pacemaker" (votequorum alone counts as Pacemaker's) or ""."""
    from kvmcluster.sources.cluster import detect_stack
    from kvmcluster.status import _capture_node

    stack = detect_stack(_capture_node(cap, None)) or ""
    return "pacemaker" if stack == "corosync" else stack


# --- DRBD ---------------------------------------------------------------------------------


def _drbd(cap, facts: NodeFacts) -> None:
    from kvmcluster.model.drbd import DrbdStatus
    from kvmcluster.sources.drbd import load_drbd_status

    proc = cap.file(c.PROC_DRBD)
    if not proc and "no such file" in (cap.failed(c.PROC_DRBD) or ""):
        facts.drbd = DrbdStatus(source=c.PROC_DRBD, loaded=False)
        return
    version = None
    if proc:
        try:
            facts.drbd = load_drbd_status(None, proc_file=proc)
            return
        except KvmclusterError:
            if not (cap.file(c.DRBD_JSON) or cap.file(c.DRBD_EVENTS)):
                raise
        from kvmcluster.parsers.drbd_proc import parse_proc_drbd

        try:
            version = parse_proc_drbd(_text(cap, c.PROC_DRBD), c.PROC_DRBD).version
        except KvmclusterError:
            version = None
    if cap.file(c.DRBD_JSON):
        facts.drbd = load_drbd_status(None, json_file=cap.file(c.DRBD_JSON))
    elif cap.file(c.DRBD_EVENTS):
        facts.drbd = load_drbd_status(None, events_file=cap.file(c.DRBD_EVENTS))
    if facts.drbd is not None and version:
        facts.drbd.version = version


def _drbd_conf(cap, facts: NodeFacts) -> None:
    from kvmcluster.parsers.drbd_conf import backing_devices, configured_resources
    from kvmcluster.sources.drbd_conf import read_drbd_conf

    path = cap.file(c.DRBD_CONF)
    if not path:
        return
    texts = [_text(cap, c.DRBD_CONF)]
    folder = os.path.join(cap.dir, "drbd.d")
    if os.path.isdir(folder):  # a local capture's drbd.d/ (links refused by Capture)
        entries = sorted(os.listdir(folder))
        for entry in [e for e in entries if e.endswith(".conf")] + [
            e for e in entries if e.endswith(".res")
        ]:
            texts.append(_text(cap, os.path.join("drbd.d", entry)) or "")
    # as a remote capture has them: `cat /etc/drbd.conf /etc/drbd.d/*.conf /etc/drbd.d/*.res`
    # (sources.drbd.REMOTE_DRBD_CONF_ARGV), so a local node and a remote one compare alike
    facts.configs[c.DRBD_CONF] = _digest("".join(texts))
    config = read_drbd_conf(path)  # includes followed inside the capture only
    names = {facts.name, facts.name.split(".", 1)[0]}
    facts.drbd_configured = configured_resources(config, names) or configured_resources(
        config, set()
    )
    facts.drbd_backing = backing_devices(config, names)


def _drbd_version(cap, facts: NodeFacts) -> None:
    from kvmcluster.parsers.drbd_version import parse_drbd_version

    text = _text(cap, c.DRBD_VERSION)
    if text is not None:
        facts.drbd_utils_version, facts.drbd_kernel_version = parse_drbd_version(
            text, c.DRBD_VERSION
        )


def _kernel_log(cap, facts: NodeFacts) -> None:
    from kvmcluster.parsers.kernel_log import parse_kernel_log

    text = _text(cap, c.KERNEL_LOG)
    if text is not None:
        facts.split_brain_lines = parse_kernel_log(text, c.KERNEL_LOG)


# --- LVM ----------------------------------------------------------------------------------


def _pvs(cap, facts: NodeFacts) -> None:
    from kvmcluster.parsers.lvm import parse_pvs

    text = _text(cap, c.PVS)
    if text is not None:
        facts.pvs = parse_pvs(text, c.PVS)


def _lvm_config(cap, facts: NodeFacts) -> None:
    import json

    from kvmcluster.parsers.lvm import parse_lvm_config

    text = _text(cap, c.LVMCONFIG)
    if text is None:
        return
    config = parse_lvm_config(text, c.LVMCONFIG)
    facts.lvm_settings = {key: json.dumps(config.get(key), sort_keys=True) for key in LVM_SETTINGS}


# --- hypervisor ---------------------------------------------------------------------------


def _domains(cap, facts: NodeFacts) -> None:
    from kvmcluster.model.vms import same_node
    from kvmcluster.parsers.libvirt_capture import read_libvirt_capture

    files = cap.libvirt_files()
    if not files:
        return
    own = [(node, f) for node, f in files if same_node(node, facts.name)]
    if not own and len(files) == 1:
        own = files
    if len(own) != 1:
        facts.unread["libvirt"] = (
            f"{len(files)} libvirt files in the capture, none of node {facts.name[:80]!r}"
        )
        return
    node, file_name = own[0]
    view = read_libvirt_capture(os.path.join(cap.dir, file_name), node, file_name)
    if view.error:
        facts.unread["libvirt"] = view.error
        return
    facts.domains = view.domains


# --- the cluster manager ------------------------------------------------------------------


def _cluster(cap, facts: NodeFacts) -> None:
    from kvmcluster.model.cluster import merge_status

    parts = []
    if facts.stack == "cman":
        from kvmcluster.parsers.cman import parse_cman_nodes, parse_cman_status

        if _text(cap, c.CMAN_STATUS) is not None:
            parts.append(parse_cman_status(_text(cap, c.CMAN_STATUS), c.CMAN_STATUS))
        if _text(cap, c.CMAN_NODES) is not None:
            parts.append(parse_cman_nodes(_text(cap, c.CMAN_NODES), c.CMAN_NODES))
        if _text(cap, c.CLUSTAT) is not None:
            from kvmcluster.parsers.clustat import parse_clustat

            cluster, services = parse_clustat(_text(cap, c.CLUSTAT), c.CLUSTAT)
            parts.append(cluster)
            facts.owners = {
                s.name.split(":", 1)[1]: s.owner
                for s in services.services
                if s.kind == "vm" and s.owner and s.state == "started"
            }
    elif facts.stack == "pacemaker":
        if _text(cap, c.CRM_MON) is not None:
            from kvmcluster.parsers.crm_mon import parse_crm_mon

            cluster, services = parse_crm_mon(_text(cap, c.CRM_MON), c.CRM_MON)
            parts.append(cluster)
            if services.running:
                facts.owners = _pacemaker_owners(cap, services, facts.vm_resources)
        if _text(cap, c.QUORUMTOOL) is not None:
            from kvmcluster.parsers.quorumtool import parse_quorumtool

            parts.append(parse_quorumtool(_text(cap, c.QUORUMTOOL), c.QUORUMTOOL))
    if parts:
        facts.cluster = merge_status(parts)
        facts.cluster_name = facts.cluster.cluster_name or facts.cluster_name


def _pacemaker_owners(cap, services, resources: dict[str, str]) -> dict[str, str]:
    """VM name -> its node: a VirtualDomain's domain name from the CIB where captured (its
    resource id noted in `resources`), else the pcs-setup.sh id `vm-NAME`."""
    names: dict[str, str] = {}
    if _text(cap, c.CIB) is not None:
        from kvmcluster.parsers.cib import parse_cib_vms

        try:
            names = {vm.resource: vm.name for vm in parse_cib_vms(_text(cap, c.CIB), c.CIB).vms}
        except KvmclusterError:
            names = {}
    resources.update({vm: resource for resource, vm in names.items() if resource})
    owners = {}
    for service in services.services:
        vm = names.get(service.name) or (
            service.name[3:] if service.name.startswith("vm-") else None
        )
        if vm and len(service.nodes) == 1:
            owners[vm] = service.nodes[0]
    return owners


# --- configuration files, as digests --------------------------------------------------------


def _digest(text: str, version: str | None = None) -> ConfigDigest:
    lines = text.splitlines()[:MAX_CONFIG_LINES]
    return ConfigDigest(
        hashlib.sha256(text.encode("utf-8", "replace")).hexdigest(),
        tuple(
            hashlib.sha256(line.rstrip().encode("utf-8", "replace")).hexdigest()[:16]
            for line in lines
        ),
        version,
    )


def _configs(cap, facts: NodeFacts) -> None:
    text = _text(cap, c.COROSYNC_CONF)
    if text is not None:
        facts.configs[c.COROSYNC_CONF] = _digest(text)
        from kvmcluster.parsers.corosync_conf import parse_corosync_conf

        try:
            totem = parse_corosync_conf(text, c.COROSYNC_CONF).section("totem")
        except KvmclusterError as exc:  # still compared by its digest
            facts.unread[c.COROSYNC_CONF] = str(exc)
            totem = None
        if totem is not None and not facts.cluster_name:
            facts.cluster_name = totem.values.get("cluster_name", ("", 0))[0]
    text = _text(cap, c.CLUSTER_CONF)
    if text is not None:
        from kvmcluster.parsers.cluster_conf import parse_cluster_conf_tree

        version = None
        try:
            version = parse_cluster_conf_tree(text, c.CLUSTER_CONF).get("config_version")
        finally:  # a cluster.conf that does not parse is still compared by its digest
            facts.configs[c.CLUSTER_CONF] = _digest(text, version)


_READERS = (
    (c.PROC_DRBD, _drbd),
    (c.DRBD_CONF, _drbd_conf),
    (c.DRBD_VERSION, _drbd_version),
    (c.KERNEL_LOG, _kernel_log),
    (c.PVS, _pvs),
    (c.LVMCONFIG, _lvm_config),
    ("libvirt", _domains),
    ("cluster", _cluster),
    ("configs", _configs),
)
