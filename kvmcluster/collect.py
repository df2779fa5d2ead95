"""`kvmcluster collect`: every input the checks use, captured with timeouts into one archive,
with a manifest of what could not be captured and why."""

from __future__ import annotations

import contextlib
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
from kvmcluster.sources.node import Node
from kvmcluster.sources.privileged import DMESG_ARGV, allowed_argvs, cat_argv

DRBD_VERSION_ARGV = ["drbdadm", "--version"]

COMMANDS = [
    (c.DRBD_JSON, drbd.STATUS_JSON_ARGV),
    (c.DRBD_EVENTS, drbd.EVENTS2_ARGV),
    (c.CMAN_STATUS, cluster.CMAN_STATUS_ARGV),
    (c.CMAN_NODES, cluster.CMAN_NODES_ARGV),
    (c.CLUSTAT, cluster.CLUSTAT_ARGV),
    (c.CRM_MON, cluster.CRM_MON_ARGV),
    (c.CIB, cluster.CIB_ARGV),
    (c.QUORUMTOOL, cluster.QUORUMTOOL_ARGV),
    (c.CFGTOOL, cluster.CFGTOOL_ARGV),
    (c.FENCE_TOOL, cluster.FENCE_TOOL_ARGV),
    (c.DLM_TOOL, cluster.DLM_TOOL_ARGV),
    (c.PS, PS_ARGV),
    (c.VGS, lvm.VGS_ARGV),
    (c.PVS, lvm.PVS_ARGV),
    (c.LVS, lvm.LVS_ARGV),
    (c.LVMCONFIG, LVMCONFIG_ARGV),
    (c.DRBD_VERSION, DRBD_VERSION_ARGV),  # utils and kernel module versions (no root needed)
    (c.KERNEL_LOG, DMESG_ARGV),  # the kernel's DRBD lines (split brain, handshake)
]
FILES = [
    (c.PROC_DRBD, "/proc/drbd"),
    (c.UPTIME, "/proc/uptime"),
    (c.CLUSTER_CONF, "/etc/cluster/cluster.conf"),
    (c.DRBD_CONF, "/etc/drbd.conf"),
    (c.COROSYNC_CONF, "/etc/corosync/corosync.conf"),
]
PER_COMMAND_TIMEOUT = 15.0


def _write(directory: str, name: str, text: str, entry: dict | None, redact: bool) -> None:
    """A capture file: secrets replaced (unless --no-redact), created 0600, never through a
    link or over a file already there (O_EXCL|O_NOFOLLOW)."""
    if redact:
        from kvmcluster.redact import redact as redacted

        text, count = redacted(name, text)
        if count and entry is not None:
            entry["redacted"] = count
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with os.fdopen(os.open(os.path.join(directory, name), flags, 0o600), "w") as out:
        out.write(text)


def _capture_command(
    node: Node, directory: str, name: str, argv: list[str], sudo: bool, redact: bool = True
) -> dict:
    started = time.monotonic()
    entry = {"file": name, "command": " ".join(argv)}
    if node.deadline.spent():  # a hung tool took the budget: the rest is not started
        entry.update(status="failed", reason="not run: the -t budget was spent", seconds=0.0)
        return entry
    # sudo only for what icinga/sudoers allows (ps and the drbd.conf cat need no root)
    sudo = sudo and tuple(argv) in allowed_argvs()
    try:
        result = node.run(
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
        _write(directory, name, text, entry, redact)
        entry["exit_code"] = result.returncode
        entry["status"] = "ok" if result.returncode == 0 else "failed"
        if result.returncode != 0:
            entry["reason"] = result.first_error_line
    entry["seconds"] = round(time.monotonic() - started, 3)
    return entry


def _capture_file(
    node: Node, directory: str, name: str, source: str, redact: bool = True, sudo: bool = False
) -> dict:
    entry = {"file": name, "source": source}
    try:
        text = node.read(source)
    except SourceError as exc:
        if sudo and tuple(cat_argv(source)) in allowed_argvs():  # a root-only cluster.conf
            return _capture_command(node, directory, name, cat_argv(source), sudo, redact)
        entry.update(status="failed", reason=str(exc))
        return entry
    if text is None:
        entry.update(status="missing", reason=f"{source}: no such file")
        return entry
    _write(directory, name, text, entry, redact)
    entry["status"] = "ok"
    return entry


def _capture_drbd_includes(node: Node, directory: str, redact: bool = True) -> list[dict]:
    if node.remote:  # drbd.d arrives concatenated into drbd.conf (sources.drbd)
        return []
    entries = []
    for source in sorted(glob.glob("/etc/drbd.d/*")):
        name = os.path.join("drbd.d", os.path.basename(source))
        os.makedirs(os.path.join(directory, "drbd.d"), mode=0o700, exist_ok=True)
        entries.append(_capture_file(node, directory, name, source, redact))
    return entries


def _capture_libvirt(checked: Node, directory: str, node: str, uri: str) -> dict:
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
    view = read_hypervisors([(node, uri)], checked.deadline)[0]
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
    _write(directory, name, "\n".join(parts) + "\n", None, False)  # names and disks only
    entry["status"] = "ok"
    entry["domains"] = len(view.domains)
    return entry


def collect(
    output: str,
    checked: Node,
    *,
    sudo: bool = False,
    libvirt: list[tuple[str, str]] | None = None,
    vgs: list[tuple[str, str]] | None = None,
    redact: bool = True,
) -> dict:
    """Capture into `output` (mode 0600). Secrets are redacted unless `redact` is False."""
    node = checked.name
    with tempfile.TemporaryDirectory(prefix="kvmcluster-collect-") as tmp:
        directory = os.path.join(
            tmp, f"kvmcluster-{node.split('.')[0]}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        os.mkdir(directory, 0o700)
        manifest = collect_into(
            directory, checked, sudo=sudo, libvirt=libvirt, vgs=vgs, redact=redact
        )
        _write_archive(directory, output)
    return manifest


def collect_into(
    directory: str,
    checked: Node,
    *,
    sudo: bool = False,
    libvirt: list[tuple[str, str]] | None = None,
    vgs: list[tuple[str, str]] | None = None,
    redact: bool = True,
) -> dict:
    """The capture of `checked` written into `directory` (an existing, empty, private
    directory), MANIFEST.json last; returns the manifest. `status --from` reads the directory
    as it reads an unpacked archive (the cluster view reads every live node so)."""
    node = checked.name
    manifest = {
        "version": 1,
        "node": node,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        # what collect replaced by REDACTED: see kvmcluster/redact.py
        "redaction": "on" if redact else "off (--no-redact)",
        "inputs": [],
    }
    _write(directory, c.HOSTNAME, node + "\n", None, False)
    for name, source in FILES:
        if name == c.DRBD_CONF and checked.remote:
            entry = _capture_command(checked, directory, name, REMOTE_DRBD_CONF_ARGV, sudo, redact)
        else:
            entry = _capture_file(checked, directory, name, source, redact, sudo)
        manifest["inputs"].append(entry)
    manifest["inputs"] += _capture_drbd_includes(checked, directory, redact)
    for name, argv in COMMANDS:
        entry = _capture_command(checked, directory, name, argv, sudo, redact)
        manifest["inputs"].append(entry)
    for target_node, uri in libvirt or default_hypervisor(checked):
        manifest["inputs"].append(_capture_libvirt(checked, directory, target_node, uri))
    if vgs:
        _write(directory, c.VG_MAP, "".join(f"{n}={vg}\n" for n, vg in vgs), None, False)
    manifest["redacted"] = sum(entry.get("redacted", 0) for entry in manifest["inputs"])
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _write(directory, c.MANIFEST, json.dumps(manifest, indent=2) + "\n", None, False)
    return manifest


def default_hypervisor(checked: Node) -> list[tuple[str, str]]:
    """The node's own hypervisor (checks.vm_alloc.default_libvirt: qemu:///system here,
    qemu+ssh:// over SSH, its own connection), named as the node is."""
    from kvmcluster.checks.vm_alloc import default_libvirt

    default = default_libvirt(getattr(checked, "target", None), getattr(checked, "options", None))
    return [(checked.name, uri) for _, uri in default]


def _write_archive(directory: str, output: str) -> None:
    """The archive, mode 0600, written to a new file of a random name beside `output`
    (O_EXCL|O_NOFOLLOW: a link planted at a predictable `.partial` name is never followed),
    then renamed over `output` (a link there is replaced, not followed)."""
    folder = os.path.dirname(os.path.abspath(output))
    descriptor, partial = tempfile.mkstemp(
        prefix=f".{os.path.basename(output)}.", suffix=".partial", dir=folder
    )
    try:
        handle = os.fdopen(descriptor, "wb")
        with handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
            tar.add(directory, arcname=os.path.basename(directory))
        os.replace(partial, output)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
