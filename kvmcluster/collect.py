"""`kvmcluster collect`: every input the checks use, captured with timeouts into one archive,
with a manifest of what could not be captured and why."""

from __future__ import annotations

import glob
import json
import os
import tarfile
import tempfile
import time

from kvmcluster import capture as c
from kvmcluster.errors import SourceError
from kvmcluster.parsers import lvm
from kvmcluster.parsers.ps import PS_ARGV
from kvmcluster.sources import cluster, drbd
from kvmcluster.sources.drbd import REMOTE_DRBD_CONF_ARGV
from kvmcluster.sources.lvm import LVMCONFIG_ARGV
from kvmcluster.sources.node import current
from kvmcluster.sources.privileged import allowed_argvs

COMMANDS = [
    (c.DRBD_JSON, drbd.STATUS_JSON_ARGV),
    (c.DRBD_EVENTS, drbd.EVENTS2_ARGV),
    (c.CMAN_STATUS, cluster.CMAN_STATUS_ARGV),
    (c.CMAN_NODES, cluster.CMAN_NODES_ARGV),
    (c.CLUSTAT, cluster.CLUSTAT_ARGV),
    (c.CRM_MON, cluster.CRM_MON_ARGV),
    (c.CIB, cluster.CIB_ARGV),
    (c.QUORUMTOOL, cluster.QUORUMTOOL_ARGV),
    (c.PS, PS_ARGV),
    (c.VGS, lvm.VGS_ARGV),
    (c.PVS, lvm.PVS_ARGV),
    (c.LVS, lvm.LVS_ARGV),
    (c.LVMCONFIG, LVMCONFIG_ARGV),
]
FILES = [
    (c.PROC_DRBD, "/proc/drbd"),
    (c.UPTIME, "/proc/uptime"),
    (c.CLUSTER_CONF, "/etc/cluster/cluster.conf"),
    (c.DRBD_CONF, "/etc/drbd.conf"),
]
PER_COMMAND_TIMEOUT = 15.0


def _capture_command(directory: str, name: str, argv: list[str], sudo: bool) -> dict:
    started = time.monotonic()
    entry = {"file": name, "command": " ".join(argv)}
    # sudo only for what icinga/sudoers allows (ps and the drbd.conf cat need no root)
    sudo = sudo and tuple(argv) in allowed_argvs()
    try:
        result = current().run(
            argv,
            sudo=sudo,
            ok_codes=None,
            timeout=PER_COMMAND_TIMEOUT,
            env={"LVM_SUPPRESS_FD_WARNINGS": "1"},
        )
    except SourceError as exc:
        entry.update(status="missing" if "not found" in str(exc) else "failed", reason=str(exc))
    else:
        # a failing tool's words ("Cannot open connection to cman") are the state to keep
        text = result.stdout if result.returncode == 0 else result.stdout + result.stderr
        with open(os.path.join(directory, name), "w") as out:
            out.write(text)
        entry["exit_code"] = result.returncode
        entry["status"] = "ok" if result.returncode == 0 else "failed"
        if result.returncode != 0:
            entry["reason"] = result.first_error_line
    entry["seconds"] = round(time.monotonic() - started, 3)
    return entry


def _capture_file(directory: str, name: str, source: str) -> dict:
    entry = {"file": name, "source": source}
    try:
        text = current().read(source)
    except SourceError as exc:
        entry.update(status="failed", reason=str(exc))
        return entry
    if text is None:
        entry.update(status="missing", reason=f"{source}: no such file")
        return entry
    with open(os.path.join(directory, name), "w") as out:
        out.write(text)
    entry["status"] = "ok"
    return entry


def _capture_drbd_includes(directory: str) -> list[dict]:
    if current().remote:  # drbd.d arrives concatenated into drbd.conf (sources.drbd)
        return []
    entries = []
    for source in sorted(glob.glob("/etc/drbd.d/*")):
        name = os.path.join("drbd.d", os.path.basename(source))
        os.makedirs(os.path.join(directory, "drbd.d"), exist_ok=True)
        entries.append(_capture_file(directory, name, source))
    return entries


def _capture_libvirt(directory: str, node: str, uri: str) -> dict:
    """The node's domains as a libvirt test-driver node file, so that status --from reads
    them through libvirt again."""
    from kvmcluster.sources.libvirt import read_hypervisors

    name = f"{c.LIBVIRT_PREFIX}{node}.xml"
    entry = {"file": name, "source": uri}
    try:
        import libvirt  # noqa: F401
    except ImportError as exc:
        entry.update(status="missing", reason=f"libvirt-python: {exc}")
        return entry
    view = read_hypervisors([(node, uri)])[0]
    if view.error:
        entry.update(status="failed", reason=view.error)
        return entry
    states = {
        "running": None,
        "blocked": None,
        "paused": 3,
        "shutdown": None,
        "shutoff": 5,
        "crashed": 6,
        "pmsuspended": 7,
        "nostate": 5,
    }
    parts = ["<node>"]
    for number, domain in enumerate(view.domains, 1):
        from xml.sax.saxutils import escape

        disks = "".join(
            f'<disk type="{d.type}" device="disk"><source '
            f'{"dev" if d.type == "block" else "file"}="{escape(d.source)}"/>'
            f'<target dev="{escape(d.target)}"/></disk>'
            for d in domain.disks
            if d.type in ("block", "file")
        )
        state = states.get(domain.state)
        parts.append(
            '<domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0">'
            f"<name>{escape(domain.name)}</name>"
            f"<uuid>00000000-0000-0000-0000-{number:012d}</uuid><memory>1048576</memory>"
            f"<os><type>hvm</type></os><devices>{disks}</devices>"
            + (f"<test:runstate>{state}</test:runstate>" if state else "")
            + "</domain>"
        )
    parts.append("</node>")
    with open(os.path.join(directory, name), "w") as out:
        out.write("\n".join(parts) + "\n")
    entry["status"] = "ok"
    entry["domains"] = len(view.domains)
    return entry


def collect(
    output: str,
    *,
    sudo: bool = False,
    libvirt: list[tuple[str, str]] | None = None,
    vgs: list[tuple[str, str]] | None = None,
) -> dict:
    node = current().name
    with tempfile.TemporaryDirectory(prefix="kvmcluster-collect-") as tmp:
        directory = os.path.join(
            tmp, f"kvmcluster-{node.split('.')[0]}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        os.makedirs(directory)
        manifest = {
            "version": 1,
            "node": node,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "inputs": [],
        }
        with open(os.path.join(directory, c.HOSTNAME), "w") as out:
            out.write(node + "\n")
        for name, source in FILES:
            if name == c.DRBD_CONF and current().remote:
                entry = _capture_command(directory, name, REMOTE_DRBD_CONF_ARGV, sudo)
            else:
                entry = _capture_file(directory, name, source)
            manifest["inputs"].append(entry)
        manifest["inputs"] += _capture_drbd_includes(directory)
        for name, argv in COMMANDS:
            manifest["inputs"].append(_capture_command(directory, name, argv, sudo))
        from kvmcluster.checks.vm_alloc import default_libvirt

        default = default_libvirt(getattr(current(), "target", None))
        for target_node, uri in libvirt or default:
            manifest["inputs"].append(_capture_libvirt(directory, target_node, uri))
        if vgs:
            with open(os.path.join(directory, c.VG_MAP), "w") as out:
                out.writelines(f"{n}={vg}\n" for n, vg in vgs)
        manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        with open(os.path.join(directory, c.MANIFEST), "w") as out:
            json.dump(manifest, out, indent=2)
            out.write("\n")
        partial = output + ".partial"
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(directory, arcname=os.path.basename(directory))
        os.replace(partial, output)
    return manifest
