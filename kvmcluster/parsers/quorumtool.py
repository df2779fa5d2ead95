"""`corosync-quorumtool -s` of corosync 2 and 3, with or without a Qdevice column."""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.cluster import ClusterNode, ClusterStatus
from kvmcluster.parsers.values import integer, is_count, parser

NOT_RUNNING = ("Cannot initialize CMAP service", "Cannot initialize QUORUM service")
_MEMBER_HEADER = re.compile(r"^\s*Nodeid\s+Votes\s+(Qdevice\s+)?Name\s*$")


@parser("corosync-quorumtool -s")
def parse_quorumtool(text: str, source: str = "corosync-quorumtool -s") -> ClusterStatus:
    for message in NOT_RUNNING:
        if message in text:
            return ClusterStatus("corosync", source, running=False, error=message)
    fields: dict[str, str] = {}
    nodes: list[ClusterNode] = []
    in_members = False
    has_qdevice_column = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or set(line.strip()) == {"-"}:
            continue
        header = _MEMBER_HEADER.match(line)
        if header:
            in_members, has_qdevice_column = True, bool(header.group(1))
            continue
        if in_members:
            nodes.append(_member(line, has_qdevice_column, source, lineno))
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
        elif line.strip() not in (
            "Quorum information",
            "Votequorum information",
            "Membership information",
        ):
            raise ParseError(source, f"unexpected line {line.strip()[:60]!r}", lineno)
    if "Quorate" not in fields:
        raise ParseError(source, "no 'Quorate:' line: not corosync-quorumtool -s output")
    quorum = fields.get("Quorum", "")
    return ClusterStatus(
        "corosync",
        source,
        quorate=fields["Quorate"].lower() == "yes",
        activity_blocked="Activity blocked" in quorum,
        expected_votes=_number(fields.get("Expected votes"), source),
        total_votes=_number(fields.get("Total votes"), source),
        quorum_votes=_number(quorum, source),
        flags=fields.get("Flags", "").split(),
        member_count=_number(fields.get("Nodes"), source),
        nodes=nodes,
    )


def _number(value: str | None, source: str) -> int | None:
    if not value:
        return None
    m = re.match(r"(\d+)", value)
    if not m:
        raise ParseError(source, f"expected a number, got {value[:30]!r}")
    return integer(m.group(1), source)


_QDEVICE_VOTES = re.compile(r"\(votes (\d+)\)\s*$")


def _member(line: str, qdevice_column: bool, source: str, lineno: int) -> ClusterNode:
    words = line.split()
    local = "(local)" in words
    words = [w for w in words if w != "(local)"]
    if len(words) < 3 or not is_count(words[0]) or not is_count(words[1]):
        raise ParseError(source, f"not a membership row: {line.strip()[:60]!r}", lineno)
    node_id, votes = int(words[0]), int(words[1])
    if node_id == 0:
        # The quorum device row: `0  1  Qdevice`, or `0  0  Qdevice (votes 1)` when this
        # node's qdevice does not cast its vote. Never a node.
        rest = line.split(None, 2)[2]
        would = _QDEVICE_VOTES.search(rest)
        name = rest[: would.start()].strip() if would else rest.strip()
        return ClusterNode(
            name or "Qdevice",
            0,
            member=votes > 0,
            votes=votes,
            qdisk=True,
            qdevice_votes=int(would.group(1)) if would else votes,
        )
    flags = words[2].split(",") if qdevice_column and len(words) > 3 else []
    return ClusterNode(
        words[-1], node_id, member=True, local=local, votes=votes, qdevice_flags=flags
    )
