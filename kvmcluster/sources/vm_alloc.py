"""Gathers check_vm_alloc's three views (config, cluster placement, hypervisors); judging
them is rules.vm_alloc's (checks.vm_alloc.build_report puts the two together)."""

from __future__ import annotations

import os

from kvmcluster.errors import ParseError, SourceError
from kvmcluster.model.record import record
from kvmcluster.sources.cluster import (
    CIB_ARGV,
    CLUSTAT_ARGV,
    CLUSTAT_HINT,
    CRM_MON_ARGV,
    refuse_if_denied,
    run_stack_tool,
)
from kvmcluster.sources.files import input_label, read_text


@record
class VmAllocInputs:
    """What check_vm_alloc judges; `config_error`: the cluster's own config did not parse
    (then nothing else is read)."""

    config: object = None
    views: list | None = None
    services: object = None
    cluster: object = None
    config_error: str = ""


def load_vm_alloc(
    node,
    stack: str,
    *,
    cluster_conf: str,
    cib_file: str | None,
    clustat_file: str | None,
    crm_mon_file: str | None,
    libvirt: list[tuple[str, str]],
    sudo: bool,
    live_cluster_conf: bool = False,
    views=None,
) -> VmAllocInputs:
    """`views`: hypervisors already read (a capture's); otherwise `libvirt` is read live."""
    from kvmcluster.sources.libvirt import read_hypervisors

    if stack == "cman":
        from kvmcluster.parsers.cluster_conf import parse_cluster_conf

        try:
            text = _read_cluster_conf(node, cluster_conf, sudo, live_cluster_conf)
            config = parse_cluster_conf(text, cluster_conf)
        except ParseError as exc:
            # the cluster's own config is broken: that is the cluster's problem, not ours
            return VmAllocInputs(config_error=str(exc))
        cluster, services = _rgmanager_placement(node, clustat_file, sudo)
    else:
        from kvmcluster.parsers.cib import parse_cib_vms

        if cib_file:
            cib_text, cib_source = read_text(cib_file, "--cib-file"), input_label(cib_file)
        else:
            cib_text, cib_source = _live_cib(node, sudo), " ".join(CIB_ARGV)
        config = parse_cib_vms(cib_text, cib_source)
        cib = (cib_text, cib_source) if cib_file else None
        cluster, services = _pacemaker_placement(node, crm_mon_file, cib, sudo)
    if views is None:
        views = read_hypervisors(libvirt, node.deadline)
    return VmAllocInputs(config, views, services, cluster)


def _read_cluster_conf(node, path: str, sudo: bool, live: bool) -> str:
    """cluster.conf is often readable by root only: with --sudo, `sudo -n cat` it. On a
    remote node (--ssh), the default path is read there."""
    from kvmcluster.sources.privileged import cat_argv

    if live and node.remote:
        if sudo:
            return node.run(cat_argv(path), sudo=True).stdout
        text = node.read(path)
        if text is None:
            raise SourceError(f"{node.name}:{path}: no such file")
        return text
    if sudo and path != "-" and os.path.exists(path) and not os.access(path, os.R_OK):
        return node.run(cat_argv(path), sudo=True).stdout
    return read_text(path, "cluster.conf")


def _rgmanager_placement(node, clustat_file: str | None, sudo: bool):
    from kvmcluster.parsers.clustat import parse_clustat

    if clustat_file:
        return parse_clustat(read_text(clustat_file, "--clustat-file"), input_label(clustat_file))
    text = run_stack_tool(
        node, CLUSTAT_ARGV, sudo, ("Could not connect to CMAN",), hint=CLUSTAT_HINT
    )
    if "Could not connect to CMAN" in text:
        return None, None
    return parse_clustat(text)


def _live_cib(node, sudo: bool) -> str:
    """cibadmin -Q; a user who may not read the cluster is told so (not "not connected")."""
    try:
        return run_stack_tool(node, CIB_ARGV, sudo, ())
    except SourceError as exc:
        if not sudo:
            said = str(exc).rpartition("): ")[2] or str(exc)
            refuse_if_denied(node, said, "cibadmin -Q")
        raise


def _pacemaker_placement(node, crm_mon_file: str | None, cib: tuple[str, str] | None, sudo: bool):
    """crm_mon's view: a captured file, crm_mon rendering the given CIB (text, label), or the
    live one."""
    from kvmcluster.parsers.crm_mon import parse_crm_mon

    if crm_mon_file:
        return parse_crm_mon(read_text(crm_mon_file, "--crm-mon-file"), input_label(crm_mon_file))
    if cib:
        return parse_crm_mon(_crm_mon_of(node, cib[0]), f"crm_mon of {cib[1]}")
    # 102 Not connected; 4 Insufficient privileges: parse_crm_mon says permission denied
    return parse_crm_mon(run_stack_tool(node, CRM_MON_ARGV, sudo, (), ok=(0, 102, 4)))


def _crm_mon_of(node, cib_text: str) -> str:
    """crm_mon of a given CIB, on this machine (the CIB is a local file or standard input,
    already read): the text is handed to crm_mon in a private temporary file."""
    import tempfile

    from kvmcluster.runtime.command import run_command

    with tempfile.TemporaryDirectory(prefix="kvmcluster-cib-") as tmp:
        path = os.path.join(tmp, "cib.xml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(cib_text)
        env = {"CIB_file": path}
        return run_command(CRM_MON_ARGV, env=env, deadline=node.deadline).stdout
