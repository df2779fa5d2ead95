"""The cluster view's reading: which nodes, and every node read at once.

Every node, live or captured, is read as a CAPTURE: a live node's inputs are captured by
`kvmcluster collect`'s own code (collect.collect_into) into a private temporary directory,
then the code of `status --from` runs on it (status.build_areas for the node's column,
view.facts.facts_from_capture for the correlations). The live view and the view from captures
are one model with the same rules.

Live, this node is read locally and every other node over SSH: one SshNode (one ControlMaster
connection) per node, each in its own thread under its OWN Deadline of -t seconds, so a hung
node is cut off at its deadline while the other columns are complete. A node that cannot be
read (ssh refused, host key, timeout, a name that is not a host name) is a column saying why,
never a failure of the whole view. Node names from config files are data: validated (a plain
host name; SshNode's TARGET for the host) before one is connected to, never passed as an
option.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field

from kvmcluster import capture as c
from kvmcluster.errors import KvmclusterError, SourceError

# a node's name as a column, a folder of a cluster archive and a perfdata label: plain
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")
CLUSTER_KIND = "cluster"  # the top-level MANIFEST.json of `collect --cluster` says so
COROSYNC_CONF = "/etc/corosync/corosync.conf"
JOIN_GRACE = 0.5  # seconds past a node's deadline before its thread is given up


@dataclass
class NodeSpec:
    """A node to read: over SSH when `target` is set, else this machine."""

    name: str
    target: str | None = None
    options: list[str] = field(default_factory=list)
    libvirt: list[tuple[str, str]] | None = None
    error: str = ""  # why it cannot be read at all (a bad name from a config file)


@dataclass
class NodeReading:
    """One column of the view."""

    name: str
    reachable: bool
    error: str = ""
    areas: list[dict] = field(default_factory=list)
    facts: object = None  # model.cluster_view.NodeFacts
    seconds: float = 0.0


# --- which nodes --------------------------------------------------------------------------


def node_arg(text: str) -> tuple[str, str | None]:
    """--node NAME[=[USER@]HOST[:PORT]] (argparse type): (name, target or None)."""
    import argparse

    name, sep, target = text.partition("=")
    if not NODE_NAME.match(name):
        raise argparse.ArgumentTypeError(f"not a node name: {text[:60]!r}")
    if sep:
        try:
            split_target(target)
        except SourceError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return name, target
    return name, None


def split_target(target: str) -> tuple[str, str | None]:
    """[USER@]HOST[:PORT] -> ([USER@]HOST, PORT or None), validated (SshNode's TARGET)."""
    from kvmcluster.sources.node import TARGET

    if TARGET.match(target):
        return target, None
    head, sep, port = target.rpartition(":")
    if sep and port.isascii() and port.isdigit() and 0 < int(port) < 65536 and TARGET.match(head):
        return head, port
    raise SourceError(f"--node host {target[:60]!r}: not [USER@]HOST[:PORT]")


def discover(node, sudo: bool = False) -> tuple[list[str], str]:
    """The cluster's node names as `node` (this machine, or the --ssh node) knows them:
    cluster.conf's <clusternodes>, else the CIB's <nodes>, else corosync.conf's nodelist.
    Returns (names, where they came from); SourceError when none of them names a node."""
    from kvmcluster.parsers.cluster_nodes import (
        nodes_from_cib,
        nodes_from_cluster_conf,
        nodes_from_corosync_conf,
    )
    from kvmcluster.sources.cluster import CIB_ARGV, CLUSTER_CONF

    tried = []
    text = _read_quietly(node, CLUSTER_CONF)
    if text:
        names = nodes_from_cluster_conf(text, CLUSTER_CONF)
        if names:
            return names, CLUSTER_CONF
    tried.append(CLUSTER_CONF)
    if node.which("cibadmin"):
        from kvmcluster.sources.privileged import allowed_argvs

        try:
            result = node.run(CIB_ARGV, sudo=sudo and tuple(CIB_ARGV) in allowed_argvs())
            names = nodes_from_cib(result.stdout, "cibadmin -Q")
            if names:
                return names, "the CIB (cibadmin -Q)"
        except KvmclusterError:
            pass
    tried.append("cibadmin -Q")
    text = _read_quietly(node, COROSYNC_CONF)
    if text:
        names = nodes_from_corosync_conf(text, COROSYNC_CONF)
        if names:
            return names, COROSYNC_CONF
    tried.append(COROSYNC_CONF)
    raise SourceError(
        f"no cluster nodes found in {', '.join(tried)} on {node.name}: name them with "
        "--node NAME[=[USER@]HOST] (repeatable)"
    )


def _read_quietly(node, path: str) -> str | None:
    try:
        return node.read(path)
    except KvmclusterError:
        return None


def node_specs(
    given: list[tuple[str, str | None]],
    discovered: list[str],
    options: list[str],
    libvirt: dict[str, str] | None = None,
    here: str | None = None,
) -> list[NodeSpec]:
    """What to read for each node: --node as given (NAME=HOST: over SSH to HOST; NAME alone:
    this machine when it is this host's name, else SSH to NAME), else the discovered names.
    `libvirt`: NODE=URI overrides of the node's own hypervisor."""
    from kvmcluster.model.vms import same_node
    from kvmcluster.sources.ssh_options import validate_options

    options = validate_options(options)
    here = here or os.uname().nodename
    pairs = list(given) if given else [(name, None) for name in discovered]
    specs: list[NodeSpec] = []
    seen: set[str] = set()
    for name, target in pairs:
        if not name or name in seen:
            continue
        seen.add(name)
        spec = NodeSpec(name)
        if not NODE_NAME.match(name):
            from kvmcluster.model.findings import printable

            spec.error = f"{printable(name[:60])!r} is not a host name: not read"
            specs.append(spec)
            continue
        if target is None and not same_node(name, here):
            target = name
        if target is not None:
            try:
                host, port = split_target(target)
            except SourceError as exc:
                spec.error = str(exc)
                specs.append(spec)
                continue
            spec.target = host
            spec.options = [o for o in options if not (port and o.startswith("Port="))]
            if port:
                spec.options.append(f"Port={port}")
        if libvirt and name in libvirt:
            spec.libvirt = [(name, libvirt[name])]
        specs.append(spec)
    return specs


# --- reading live nodes -------------------------------------------------------------------


def _open(spec: NodeSpec, deadline):
    from kvmcluster.sources.node import LocalNode, SshNode

    if spec.target is None:
        node = LocalNode(deadline)
    else:
        import atexit

        node = SshNode(spec.target, spec.options, deadline)
        atexit.register(node.close)  # also when the view gave up on its thread (idempotent)
    node.name = spec.name  # the column's name (SshNode names itself after the host)
    return node


def capture_live(spec: NodeSpec, directory: str, timeout: float, sudo: bool, redact: bool = True):
    """Capture one node into `directory` (created here) within its own Deadline. Returns
    (manifest or None, why it could not be read or "")."""
    from kvmcluster.collect import collect_into
    from kvmcluster.runtime.command import Deadline

    if spec.error:
        return None, spec.error
    deadline = Deadline(timeout)
    node = None
    try:
        node = _open(spec, deadline)
        if node.remote:  # one round trip that opens the shared connection, or says why not
            node.run(["true"], ok_codes=None)
        os.mkdir(directory, 0o700)
        manifest = collect_into(directory, node, sudo=sudo, libvirt=spec.libvirt, redact=redact)
    except KvmclusterError as exc:
        return None, str(exc)
    finally:
        if node is not None:
            node.close()
    if deadline.spent():
        return manifest, (
            f"no complete answer within -t {timeout:g}s (its own deadline): the node or one "
            "of its tools hangs"
        )
    reasons = [i.get("reason", "") for i in manifest["inputs"] if i.get("status") != "ok"]
    ssh_lost = [r for r in reasons if r.startswith("ssh ")]
    if ssh_lost and len(ssh_lost) == len(manifest["inputs"]):
        return manifest, ssh_lost[0]
    return manifest, ""


def _in_parallel(work, items, timeout: float) -> list:
    """work(item) for every item in its own thread; a thread still running JOIN_GRACE
    seconds after the budget gives None (its node is cut off, the others are complete)."""
    results: list = [None] * len(items)

    def run(index, item):
        try:
            results[index] = work(item)
        except Exception as exc:  # one node's failure never ends the view
            results[index] = exc

    threads = [
        threading.Thread(target=run, args=(i, item), daemon=True) for i, item in enumerate(items)
    ]
    for thread in threads:
        thread.start()
    end = time.monotonic() + timeout + JOIN_GRACE
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    return results


def read_live(
    specs: list[NodeSpec], timeout: float, sudo: bool = False, workdir: str | None = None
) -> list[NodeReading]:
    """Every node captured and read at once, each within its own -t."""
    import shutil
    import tempfile

    parent = workdir or tempfile.mkdtemp(prefix="kvmcluster-view-")
    try:

        def one(spec: NodeSpec) -> NodeReading:
            started = time.monotonic()
            directory = os.path.join(parent, spec.name)
            manifest, error = capture_live(spec, directory, timeout, sudo)
            if error or manifest is None:
                reading = unreachable(spec.name, error or "not read")
            else:
                reading = read_capture_dir(spec.name, directory, timeout)
            reading.seconds = round(time.monotonic() - started, 3)
            return reading

        results = _in_parallel(one, specs, timeout)
        return [
            _result(spec.name, result, timeout) for spec, result in zip(specs, results, strict=True)
        ]
    finally:
        if workdir is None:
            shutil.rmtree(parent, ignore_errors=True)


def _result(name: str, result, timeout: float) -> NodeReading:
    if isinstance(result, NodeReading):
        return result
    if result is None:
        return unreachable(name, f"no answer within -t {timeout:g}s (its own deadline)")
    from kvmcluster.model.findings import printable

    return unreachable(name, printable(f"internal error: {type(result).__name__}: {result}"))


def unreachable(name: str, why: str) -> NodeReading:
    from kvmcluster.model.cluster_view import NodeFacts

    return NodeReading(name, False, why, [], NodeFacts(name, reachable=False, error=why))


def read_capture(name: str, cap, timeout: float) -> NodeReading:
    """A node's column and facts from its capture: status --from's very code."""
    from kvmcluster.runtime.command import Deadline
    from kvmcluster.status import _capture_node, build_areas
    from kvmcluster.view.facts import facts_from_capture

    areas = build_areas(_capture_node(cap, Deadline(timeout)), cap)
    return NodeReading(name, True, "", areas, facts_from_capture(cap, name))


def read_capture_dir(name: str, directory: str, timeout: float) -> NodeReading:
    cap = c.Capture(directory)
    try:
        return read_capture(name, cap, timeout)
    finally:
        cap.close()


# --- reading captures ---------------------------------------------------------------------


def cluster_manifest(directory: str) -> dict | None:
    """The top-level MANIFEST.json of a `collect --cluster` capture, None for a node's."""
    path = os.path.join(directory, c.MANIFEST)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            data = json.load(handle)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and data.get("kind") == CLUSTER_KIND:
        return data
    return None


def read_captures(paths: list[str], timeout: float) -> list[NodeReading]:
    """One column per node capture; a `collect --cluster` capture gives a column per folder
    (and per node it could not read, as it says). Folder names are data: plain names only,
    folders of the archive only."""
    from kvmcluster.model.findings import printable

    readings: list[NodeReading] = []
    for path in paths:
        cap = c.Capture(path)
        try:
            manifest = cluster_manifest(cap.dir)
            if manifest is None:
                name = cap.hostname() or os.path.basename(os.path.normpath(path))
                readings.append(read_capture(name, cap, timeout))
                continue
            nodes = manifest.get("nodes")
            if not isinstance(nodes, list):
                raise SourceError(f"capture {path}: {c.MANIFEST} lists no nodes")
            for entry in nodes:
                if not isinstance(entry, dict):
                    raise SourceError(f"capture {path}: {c.MANIFEST}: a node entry is not valid")
                name = str(entry.get("name", ""))
                folder = str(entry.get("folder", ""))
                if not NODE_NAME.match(name):
                    raise SourceError(
                        f"capture {path}: {c.MANIFEST}: node name {printable(name[:60])!r} "
                        "is not a plain host name"
                    )
                if not entry.get("reachable", False):
                    readings.append(unreachable(name, printable(str(entry.get("error", "")))))
                    continue
                directory = os.path.join(cap.dir, folder)
                if not (NODE_NAME.match(folder) and os.path.isdir(directory)):
                    readings.append(unreachable(name, "its folder is not in the capture"))
                    continue
                readings.append(read_capture_dir(name, directory, timeout))
        finally:
            cap.close()
    names = [r.name for r in readings]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SourceError(
            f"two captures of node {printable(twice[0])}: give one capture per node "
            "(hostname.txt names the node)"
        )
    return readings


# --- collect --cluster --------------------------------------------------------------------


def collect_cluster(
    output: str, specs: list[NodeSpec], timeout: float, sudo: bool, redact: bool = True
) -> dict:
    """Every node captured in parallel into one archive: kvmcluster-cluster-DATE/<node>/...
    and a top-level MANIFEST.json listing each node (and why one could not be read)."""
    import tempfile

    from kvmcluster.collect import _write, _write_archive

    with tempfile.TemporaryDirectory(prefix="kvmcluster-collect-") as tmp:
        top = os.path.join(tmp, f"kvmcluster-cluster-{time.strftime('%Y%m%d-%H%M%S')}")
        os.mkdir(top, 0o700)
        manifest = {
            "version": 1,
            "kind": CLUSTER_KIND,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "redaction": "on" if redact else "off (--no-redact)",
            "nodes": [],
        }

        def one(spec: NodeSpec):
            started = time.monotonic()
            node_manifest, error = capture_live(
                spec, os.path.join(top, spec.name), timeout, sudo, redact
            )
            return node_manifest, error, round(time.monotonic() - started, 3)

        results = _in_parallel(one, specs, timeout)
        for spec, result in zip(specs, results, strict=True):
            if isinstance(result, tuple):
                node_manifest, error, seconds = result
            else:
                node_manifest, error, seconds = None, _result(spec.name, result, timeout).error, 0
            entry = {
                "name": spec.name,
                "folder": spec.name if os.path.isdir(os.path.join(top, spec.name)) else "",
                "reachable": not error,
                "error": error,
                "seconds": seconds,
            }
            if node_manifest is not None:
                entry["inputs"] = len(node_manifest["inputs"])
                entry["not_captured"] = sum(
                    1 for i in node_manifest["inputs"] if i.get("status") != "ok"
                )
            manifest["nodes"].append(entry)
        manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        _write(top, c.MANIFEST, json.dumps(manifest, indent=2) + "\n", None, False)
        _write_archive(top, output)
    return manifest
