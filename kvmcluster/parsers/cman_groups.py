"""cman 3 (RHEL 6) groups: `fence_tool ls`, `dlm_tool ls`, `group_tool ls` (and `-n`, `-g1`).

`group_tool ls` of cman 3 runs `fence_tool ls`, `dlm_tool ls` and `gfs_control ls` one after
the other, so one parser reads all three, in any order, and the groupd table of cluster 2 and
of `group_tool ls -g1` (`type level name id state` rows, each followed by `[members]`):

    fence domain                      dlm lockspaces
    member count  2                   name          clvmd
    victim count  1                   id            0x4104eefa
    victim now    0                   flags         0x00000004 kern_stop
    master nodeid 1                   change        member 2 joined 1 remove 0 failed 0 seq 1,1
    wait state    fencing             members       1 2
    members       1 2                 new change    member 1 joined 0 remove 1 failed 1 seq 2,2
                                      new status    wait_messages 0 wait_condition 1 fencing
                                      new members   1

The layout is that of fence/fence_tool/fence_tool.c, group/dlm_controld's dlm_tool and
group/tool/main.c of the cluster project (3.0); cluster 3.0.0's fence_tool has no `wait state`.
"""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.cluster import ClusterGroup, GroupsStatus
from kvmcluster.parsers.values import integer, parser

# What the tools print when their daemon does not answer (stdout or stderr, as captured).
NOT_RUNNING = (
    "can't communicate with fenced",
    "fenced not running",
    "can't connect to cman",
    "dlm_controld not running",
    "can't communicate with dlm_controld",
    "groupd not running",
)
_SECTIONS = {"fence domain": "fence", "dlm lockspaces": "dlm", "gfs mountgroups": "gfs"}
# Longest first: "new change" before "change", "new members" before "members".
_KEYS = (
    "member count",
    "victim count",
    "victim now",
    "master nodeid",
    "wait state",
    "new members",
    "new change",
    "new status",
    "members",
    "change",
    "name",
    "id",
    "flags",
)
_CHANGE = re.compile(
    r"^member (\d+) joined (\d+) remove (\d+) failed (\d+) seq (\d+),(\d+)\s*$"
)  # fmt: skip
_NEW_STATUS = re.compile(r"^wait_messages (\d+) wait_condition (\d+)\s*(\S*)\s*$")
_NODE_LINE = re.compile(r"^nodeid (\d+) .*$")
_FENCE_NODE = re.compile(
    r"^nodeid (\d+) member (-?\d+) victim (\d+) last fence master (\d+) how \S+\s*$"
)
_GROUPD_HEADER = re.compile(r"^type\s+level\s+name\s+id\s+state\b")
_GROUPD_ROW = re.compile(r"^(fence|dlm|gfs|user)\s+(\d+)\s+(\S+)\s+([0-9a-fA-F]{8})\s+(.*?)\s*$")
_GROUPD_MEMBERS = re.compile(r"^\[([\d ]*)\]\s*$")
_SKIP = re.compile(r"^(groupd compatibility mode \S+.*|Run 'group_tool ls -g\d' .*|all nodes)$")
# dlm_tool's wait_condition numbers (condition_str): 0 none.
_CONDITIONS = {"1": "fencing", "2": "quorum", "3": "fs", "4": "pending"}


@parser("group_tool ls")
def parse_groups(text: str, source: str = "group_tool ls") -> GroupsStatus:
    """Any of fence_tool ls, dlm_tool ls, gfs_control ls, group_tool ls (both modes)."""
    status = GroupsStatus(source)
    lowered = text.lower()
    for message in NOT_RUNNING:
        if message in lowered:
            status.running, status.error = False, _first_line_with(text, message)
            return status
    kind = None
    group: ClusterGroup | None = None
    recognised = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line in _SECTIONS:
            kind, recognised = _SECTIONS[line], True
            group = ClusterGroup("fence", "default") if kind == "fence" else None
            if group is not None:
                status.groups.append(group)
            continue
        if _SKIP.match(line):
            continue
        if _GROUPD_HEADER.match(line):
            kind, group, recognised = "groupd", None, True
            continue
        if kind == "groupd":
            group = _groupd_line(status, group, line, source, lineno)
            continue
        if kind is None:
            raise ParseError(
                source, f"not fence_tool/dlm_tool/group_tool ls output: {line[:60]!r}", lineno
            )
        if line.startswith("nodeid "):
            _node_line(group, line, source, lineno)
            continue
        key, value = _key_value(line, source, lineno)
        if key == "name":
            if kind == "fence":
                raise ParseError(source, "a 'name' line in the fence domain section", lineno)
            group = ClusterGroup(kind, value)
            status.groups.append(group)
            continue
        if group is None:
            raise ParseError(source, f"{key!r} before the lockspace's 'name' line", lineno)
        _apply(group, key, value, source, lineno)
    if not recognised and text.strip():
        raise ParseError(source, "no 'fence domain', 'dlm lockspaces' or groupd table")
    return status


def _first_line_with(text: str, message: str) -> str:
    for line in text.splitlines():
        if message in line.lower():
            return line.strip()[:200]
    return message


def _key_value(line: str, source: str, lineno: int) -> tuple[str, str]:
    for key in _KEYS:
        if line == key or (line.startswith(key) and line[len(key)] in " \t"):
            return key, line[len(key) :].strip()
    raise ParseError(source, f"unexpected line {line[:60]!r}", lineno)


def _ids(value: str, source: str, lineno: int) -> list[int]:
    return [integer(word, source, lineno, "node id") for word in value.split()]


def _apply(group: ClusterGroup, key: str, value: str, source: str, lineno: int) -> None:
    if key == "member count":
        integer(value, source, lineno, key)
    elif key == "victim count":
        group.victims = integer(value, source, lineno, key)
    elif key == "victim now":
        group.victim_now = integer(value, source, lineno, key)
    elif key == "master nodeid":
        group.master_nodeid = integer(value, source, lineno, key)
    elif key == "wait state":
        group.wait = "" if value == "none" else value
    elif key == "members":
        group.members = [] if value == "error" else _ids(value, source, lineno)
    elif key == "flags":
        hex_flags, _, names = value.partition(" ")
        if not re.fullmatch(r"0x[0-9a-fA-F]{1,8}", hex_flags):
            raise ParseError(source, f"flags: not a hex number: {hex_flags[:20]!r}", lineno)
        group.flags = [f for f in names.replace(",", " ").split() if f]
    elif key == "change":
        if not _CHANGE.match(value):
            raise ParseError(source, f"change: unexpected {value[:60]!r}", lineno)
    elif key == "new change":
        m = _CHANGE.match(value)
        if not m:
            raise ParseError(source, f"new change: unexpected {value[:60]!r}", lineno)
        group.changing = True
        group.failed = integer(m.group(4), source, lineno, "failed")
    elif key == "new status":
        m = _NEW_STATUS.match(value)
        if not m:
            raise ParseError(source, f"new status: unexpected {value[:60]!r}", lineno)
        group.changing = True
        condition = _CONDITIONS.get(m.group(2), m.group(3) or "")
        if not condition and m.group(1) != "0":
            condition = "messages"
        group.wait = condition
    elif key == "new members":
        group.new_members = [] if value == "error" else _ids(value, source, lineno)
    # id: nothing the rules need


def _node_line(group: ClusterGroup | None, line: str, source: str, lineno: int) -> None:
    """`-n`: one `nodeid N ...` line per node; the fence domain's name its victims."""
    if group is None or not _NODE_LINE.match(line):
        raise ParseError(source, f"unexpected line {line[:60]!r}", lineno)
    m = _FENCE_NODE.match(line)
    if group.kind == "fence" and m and m.group(3) != "0":
        group.victim_ids.append(integer(m.group(1), source, lineno, "node id"))


def _groupd_line(status: GroupsStatus, group, line: str, source: str, lineno: int):
    """cluster 2 / group_tool ls -g1: a `type level name id state` row, then `[members]`."""
    m = _GROUPD_MEMBERS.match(line)
    if m:
        if group is None:
            raise ParseError(source, "a member list before its group", lineno)
        group.members = _ids(m.group(1), source, lineno)
        return group
    m = _GROUPD_ROW.match(line)
    if not m:
        raise ParseError(source, f"not a group_tool row: {line[:60]!r}", lineno)
    kind, _level, name, _gid, state = m.groups()
    event = state.split()[0] if state else "none"
    group = ClusterGroup(kind, name, wait="" if event == "none" else event)
    status.groups.append(group)
    return group
