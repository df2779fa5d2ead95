"""The files of a capture (`kvmcluster collect`), read back by `kvmcluster status --from`."""

from __future__ import annotations

import os
import tempfile

from kvmcluster.errors import SourceError

PROC_DRBD = "proc-drbd.txt"
DRBD_JSON = "drbdsetup-status.json"
DRBD_EVENTS = "drbdsetup-events2.txt"
DRBD_CONF = "drbd.conf"
CMAN_STATUS = "cman-tool-status.txt"
CMAN_NODES = "cman-tool-nodes.txt"
CLUSTAT = "clustat.xml"
CLUSTER_CONF = "cluster.conf"
CRM_MON = "crm-mon.xml"
CIB = "cib.xml"
QUORUMTOOL = "corosync-quorumtool.txt"
CFGTOOL = "corosync-cfgtool.txt"
FENCE_TOOL = "fence-tool-ls.txt"  # cman 3: the fence domain
DLM_TOOL = "dlm-tool-ls.txt"  # the DLM lockspaces (clvmd, rgmanager)
PS = "ps.txt"
UPTIME = "uptime.txt"
VGS = "vgs.txt"
PVS = "pvs.txt"
LVS = "lvs.txt"
LVMCONFIG = "lvmconfig.txt"
HOSTNAME = "hostname.txt"
MANIFEST = "MANIFEST.json"
COROSYNC_CONF = "corosync.conf"  # /etc/corosync/corosync.conf
DRBD_VERSION = "drbdadm-version.txt"  # `drbdadm --version`: utils and kernel module versions
KERNEL_LOG = "dmesg.txt"  # the kernel messages (DRBD split-brain lines)
LIBVIRT_PREFIX = "libvirt-"  # libvirt-NODE.xml: the node's domains as a libvirt test driver file
VG_MAP = "vg-map.txt"  # NODE=VG lines: the volume group of each node's VMs
# Tools whose error output is itself the state ("Cannot open connection to cman", crm_mon's
# status 102 XML): their captures are read even when the command failed.
FAILURE_IS_STATE = {CMAN_STATUS, CMAN_NODES, CLUSTAT, CRM_MON, QUORUMTOOL, CFGTOOL}


class Capture:
    """A capture directory (or a .tar.gz unpacked into a temporary one)."""

    def __init__(self, path: str):
        self._temporary = None
        if os.path.isdir(path):
            self.dir = path
            _refuse_links(path)
        elif os.path.isfile(path):
            self._temporary = tempfile.TemporaryDirectory(prefix="kvmcluster-capture-")
            try:
                self.dir = _unpack(path, self._temporary.name)
            except BaseException:
                self._temporary.cleanup()
                raise
        else:
            raise SourceError(f"capture {path}: no such file or directory")
        self.path = path
        self.started: str | None = None  # MANIFEST.json's `started`: when collect ran
        self.manifest = self._read_manifest()

    def _read_manifest(self) -> dict[str, dict]:
        import json

        path = os.path.join(self.dir, MANIFEST)
        if not os.path.isfile(path):
            return {}
        try:
            with open(path) as handle:
                document = json.load(handle)
            started = document.get("started")
            self.started = started if isinstance(started, str) else None
            return {entry["file"]: entry for entry in document.get("inputs", [])}
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise SourceError(f"capture {self.path}: {MANIFEST} is not valid") from None

    def failed(self, name: str) -> str | None:
        """Why the input was not captured (None when it was, or nothing says otherwise)."""
        entry = self.manifest.get(name)
        if entry is None or entry.get("status") == "ok":
            return None
        return entry.get("reason") or entry.get("status")

    def file(self, name: str) -> str | None:
        path = os.path.join(self.dir, name)
        if self.failed(name) and name not in FAILURE_IS_STATE:
            return None
        return path if os.path.isfile(path) and os.path.getsize(path) > 0 else None

    def libvirt_files(self) -> list[tuple[str, str]]:
        """(node, file name) of every captured hypervisor."""
        found = []
        for name in sorted(os.listdir(self.dir)):
            if name.startswith(LIBVIRT_PREFIX) and name.endswith(".xml"):
                found.append((name[len(LIBVIRT_PREFIX) : -4], name))
        return found

    def libvirt_views(self):
        """The captured hypervisors, parsed here (never handed to libvirt: a capture is data)."""
        from kvmcluster.parsers.libvirt_capture import read_libvirt_capture

        return [
            read_libvirt_capture(os.path.join(self.dir, name), node, name)
            for node, name in self.libvirt_files()
        ]

    def vg_map(self) -> dict[str, str]:
        path = self.file(VG_MAP)
        if not path:
            return {}
        pairs = {}
        with open(path, encoding="utf-8", errors="replace") as handle:  # data from elsewhere
            for line in handle:
                node, sep, vg = line.strip().partition("=")
                if sep:
                    pairs[node] = vg
        return pairs

    def hostname(self) -> str:
        path = self.file(HOSTNAME)
        if not path:
            return os.path.basename(os.path.normpath(self.path))
        with open(path, encoding="utf-8", errors="replace") as handle:  # data from elsewhere
            return handle.read().strip()

    def close(self) -> None:
        if self._temporary is not None:
            self._temporary.cleanup()


def _not_a_capture(path: str) -> str:
    """One line for a file that is no archive at all (a damaged archive keeps its error):
    what it looks like (parsers.sniff), e.g. pvs output given where a capture belongs."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return ""
    if head[:2] == b"\x1f\x8b" or head[257:262] == b"ustar" or head[:3] in (b"BZh", b"\xfd7z"):
        return ""
    from kvmcluster.parsers.sniff import misplaced

    what = misplaced(head, "capture") or "its content is not recognised"
    return (
        f"capture {path}: not a capture (a directory, or the .tar.gz of kvmcluster collect): {what}"
    )


def _refuse_links(directory: str) -> None:
    """A capture directory holds regular files and directories only: a link (to /etc/shadow,
    say) would make status read, and perhaps quote, a file of this host."""
    for top, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(top, name)
            if os.path.islink(path) or not (os.path.isfile(path) or os.path.isdir(path)):
                shown = os.path.relpath(path, directory)
                raise SourceError(
                    f"capture {directory}: {shown[:80]!r} is a link or a special file: a capture "
                    "holds regular files only (links are not followed)"
                )


def _unpack(archive: str, target: str) -> str:
    from kvmcluster.archive import ArchiveRefused, unpack

    try:
        unpack(archive, target)  # every member checked from the headers first (kvmcluster.archive)
    except ArchiveRefused:
        raise
    except SourceError as exc:
        raise SourceError(_not_a_capture(archive) or str(exc)) from None
    entries = os.listdir(target)
    if len(entries) == 1 and os.path.isdir(os.path.join(target, entries[0])):
        return os.path.join(target, entries[0])
    return target
