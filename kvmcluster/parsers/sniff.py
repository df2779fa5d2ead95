"""What does this input look like? Asked only when a parser has refused it, so that the error
says which option the file belongs to: a JSON given to `--proc-file`, pvs output given to
`--vgs-file`, a CIB given to `--cluster-conf`, ps output given to `--uptime-file`.

Pure and cheap: it reads the first few KiB only, never the whole file, and runs on the error
path (parsers.values.parser) or where a source knows it was handed the wrong thing; the good
path never calls it.
"""

from __future__ import annotations

import re

HEAD = 4096  # what is looked at: the start of the input

# kind -> (what it is, the options that take it)
KINDS: dict[str, tuple[str, str]] = {
    "drbd-json": ("`drbdsetup status --json` output", "check_drbd --json-file"),
    "json": ("JSON", ""),
    "cib": ("a Pacemaker CIB (cibadmin -Q)", "--cib-file"),
    "crm_mon": ("crm_mon XML", "--crm-mon-file"),
    "clustat": ("clustat -x XML", "--clustat-file"),
    "cluster.conf": ("a cman cluster.conf", "--cluster-conf"),
    "libvirt": ("libvirt domain XML", ""),
    "xml": ("XML", ""),
    "proc-drbd": ("/proc/drbd", "check_drbd --proc-file"),
    "drbd-events": ("`drbdsetup events2` output", "check_drbd --events-file"),
    "drbd-status": ("`drbdadm status` text", "check_drbd --status-file"),
    "drbd.conf": ("a drbd.conf", "--drbd-conf"),
    "lvm.conf": ("an lvm.conf (lvmconfig)", "--lvm-conf-file"),
    "pvs": ("pvs output", "--pvs-file"),
    "vgs": ("vgs output", "--vgs-file"),
    "lvs": ("lvs output", "--lvs-file"),
    "ps": ("ps output", "--ps-file"),
    "uptime": ("/proc/uptime", "--uptime-file"),
    "quorumtool": ("corosync-quorumtool -s output", "--quorumtool-file"),
    "cfgtool": ("corosync-cfgtool -s output", "--cfgtool-file"),
    "cman-status": ("cman_tool status output", "--cman-status-file"),
    "cman-nodes": ("cman_tool nodes output", "--cman-nodes-file"),
    "empty": ("empty", ""),
}

# the parsers' own default sources (parsers.values.parser) -> the kind they expect
EXPECTED = {
    "/proc/drbd": "proc-drbd",
    "drbdsetup status --json": "drbd-json",
    "drbdsetup events2": "drbd-events",
    "drbdadm status": "drbd-status",
    "cibadmin -Q": "cib",
    "crm_mon --output-as=xml -1": "crm_mon",
    "clustat -x": "clustat",
    "/etc/cluster/cluster.conf": "cluster.conf",
    "vgs": "vgs",
    "pvs": "pvs",
    "lvs": "lvs",
    "ps": "ps",
    "/proc/uptime": "uptime",
    "corosync-quorumtool -s": "quorumtool",
    "corosync-cfgtool -s": "cfgtool",
    "cman_tool status": "cman-status",
    "cman_tool nodes": "cman-nodes",
    "libvirt capture": "libvirt",
    "libvirt domain XML": "libvirt",
    "drbd.conf": "drbd.conf",
    "lvm.conf": "lvm.conf",
}

_ROOT = re.compile(r"<([A-Za-z_][\w.-]*)[\s>/]")
_XML_ROOTS = {
    "cib": "cib",
    "pacemaker-result": "crm_mon",
    "crm_mon": "crm_mon",
    "clustat": "clustat",
    "cluster": "cluster.conf",
    "domain": "libvirt",
    "node": "libvirt",
}
_PS_LINE = re.compile(r"^\s*\d+\s+\d+\s+[A-Za-z<+]{1,8}\s+\S")
_PV = re.compile(r"^\s*/dev/\S+\|[^|]*\|[a-z-]{3,}\|\d+\|\d+\s*$")
_VG = re.compile(r"^\s*[^|/\s]+\|[a-z-]{6}\|\d+\|\d+\|\d+\|\d+\s*$")
_LV = re.compile(r"^\s*[^|/\s]+\|[^|\s]+\|[-a-zA-Z]{10}\|\d+")
_UPTIME = re.compile(r"^\s*\d+(\.\d+)?\s+\d+(\.\d+)?\s*$")
_PROC_DRBD = re.compile(r"^(version: \d|\s*\d+: cs:)", re.M)
_EVENTS = re.compile(
    r"^(\S+T\S+ )?(exists|create|change|destroy|call) (resource|connection|device|peer-device|-)",
    re.M,
)
_DRBD_STATUS = re.compile(r"^\S+ (node-id:\d+ )?role:(Primary|Secondary|Unknown)", re.M)
_DRBD_CONF = re.compile(r"^\s*resource\s+\S+\s*\{", re.M)
_LVM_CONF = re.compile(r"^\s*(devices|activation|global|backup|log)\s*\{", re.M)


def looks_like(text: str | bytes) -> str:
    """The kind (a key of KINDS) the start of `text` looks like, "" when none is recognised."""
    if isinstance(text, bytes):
        text = text[:HEAD].decode("utf-8", "replace")
    head = text[:HEAD]
    stripped = head.lstrip("\ufeff \t\r\n")
    if not stripped:
        return "empty"
    if stripped[0] in "[{":
        if re.search(r'"(name|role|devices|connections)"\s*:', head):
            return "drbd-json"
        return "json"
    if stripped.startswith("<") and not _DRBD_STATUS.search(head):
        for m in _ROOT.finditer(stripped):
            tag = m.group(1)
            if tag.startswith(("?", "!")) or tag == "xml":
                continue
            return _XML_ROOTS.get(tag, "xml")
        return "xml"
    lines = [line for line in head.splitlines()[:20] if line.strip()]
    first = lines[0]
    if _PROC_DRBD.search(head):
        return "proc-drbd"
    if _EVENTS.search(head):
        return "drbd-events"
    if "Quorum provider" in head or "Votequorum information" in head:
        return "quorumtool"
    if "Local node ID" in head and ("LINK ID" in head or "RING ID" in head):
        return "cfgtool"
    if re.search(r"^Cluster Name:|^Config Version:|^Membership state:", head, re.M):
        return "cman-status"
    if re.match(r"^Node\s+Sts\s+Inc", first):
        return "cman-nodes"
    if _DRBD_STATUS.search(head):
        return "drbd-status"
    if _DRBD_CONF.search(head):
        return "drbd.conf"
    if _LVM_CONF.search(head):
        return "lvm.conf"
    if len(lines) == 1 and _UPTIME.match(first):
        return "uptime"
    for kind, pattern in (("pvs", _PV), ("vgs", _VG), ("lvs", _LV), ("ps", _PS_LINE)):
        sample = lines[:5]
        matched = [line for line in sample if pattern.match(line)]
        if len(matched) * 2 > len(sample):  # most of the first lines (a PV may be missing)
            return kind
    return ""


def misplaced(text: str | bytes, expected: str) -> str:
    """Words for an error: what the input looks like and the option that takes it, when it
    looks like something else than `expected` (a kind, or a parser's default source); ""
    otherwise (it looks like what was expected, or like nothing known)."""
    expected = EXPECTED.get(expected, expected)
    kind = looks_like(text)
    if not kind or kind == expected:
        return ""
    what, option = KINDS[kind]
    if kind == "empty":
        return "the input is empty"
    if option:
        return f"it looks like {what}: give it to {option}"
    return f"it looks like {what}"
