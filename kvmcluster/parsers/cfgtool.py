"""`corosync-cfgtool -s` (and `-s -b`): the links (knet, corosync 3.0 and 3.1 layouts) or rings
(corosync 2) of this node, and what each says about each peer."""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.cluster import ClusterLink, ClusterStatus, KnetPeer
from kvmcluster.parsers.values import parser

NOT_RUNNING = ("Could not initialize corosync configuration API",)
_HEADERS = ("Printing link status.", "Printing ring status.")
_LOCAL = re.compile(r"^Local node ID (\d+)(?:, transport (\S+))?$")
_LINK = re.compile(r"^(?:LINK|RING) ID (\d+)(?:\s+(\S+))?$")
_FIELD = re.compile(r"^(addr|id|status)\s*=\s*(.*)$")
# 3.1: "nodeid:          2:	connected"; 3.0.2+: "nodeid  2:	disconnected";
# 3.0.1: "nodeid  2:	link enabled:1	link connected:0"; 3.0.0: "node 1:	link enabled:1 ...",
# numbered by position in the node list from 0
_PEER = re.compile(r"^(nodeid:?|node)\s*(\d+):\s*(.+)$")
_OLD_PEER = re.compile(r"link enabled:\s*(\d)\s+link connected:\s*(\d)")
# -b (brief): one character per node, in node id order: n local, 3 enabled+connected
_BRIEF = re.compile(r"^[n0-9?d]+$")


@parser("corosync-cfgtool -s")
def parse_cfgtool(text: str, source: str = "corosync-cfgtool -s") -> ClusterStatus:
    for message in NOT_RUNNING:
        if message in text:
            return ClusterStatus("corosync", source, running=False, error=message)
    links: list[ClusterLink] = []
    local_id: int | None = None
    transport = ""
    link: ClusterLink | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line in _HEADERS or line == "status:":
            continue
        local = _LOCAL.match(line)
        if local:
            local_id, transport = int(local.group(1)), local.group(2) or ""
            continue
        header = _LINK.match(line)
        if header:
            link = ClusterLink(int(header.group(1)), transport=header.group(2) or transport)
            links.append(link)
            continue
        if link is None:
            raise ParseError(source, f"unexpected line {line[:60]!r}", lineno)
        field = _FIELD.match(line)
        if field:
            key, value = field.groups()
            if key in ("addr", "id"):
                link.address = value
            else:
                _status(link, value)
            continue
        peer = _PEER.match(line)
        if peer:
            word, number, status = peer.groups()
            node_id = int(number) if word != "node" else -(int(number) + 1)
            if node_id == local_id:
                status = "localhost"  # 3.0.1 reports this node's own link state too
            link.peers.append(KnetPeer(node_id, _peer_status(status.strip())))
            continue
        raise ParseError(source, f"unexpected line {line[:60]!r}", lineno)
    if local_id is None and not links:
        raise ParseError(source, "no 'Local node ID' and no link: not corosync-cfgtool -s output")
    return ClusterStatus("corosync", source, links=links, local_node_id=local_id)


def _peer_status(text: str) -> str:
    old = _OLD_PEER.search(text)
    if old:
        enabled, connected = old.groups()
        status = "connected" if connected == "1" else "disconnected"
        return status if enabled == "1" else f"{status} (not enabled)"
    return text


def _status(link: ClusterLink, value: str) -> None:
    link.status = value
    if "FAULTY" in value:  # corosync 2: "Marking ringid 1 interface 10.0.0.1 FAULTY"
        link.faulty = True
    elif _BRIEF.match(value) and value != "OK":
        # one character per configured node, in node id order (ids unknown here)
        for index, char in enumerate(value, 1):
            status = _BRIEF_STATUS[char] if char in _BRIEF_STATUS else _digit(char)
            link.peers.append(KnetPeer(-index, status))


_BRIEF_STATUS = {"n": "localhost", "?": "knet error", "d": "config error"}


def _digit(char: str) -> str:
    bits = int(char)
    status = "connected" if bits & 2 else "disconnected"
    return status if bits & 1 else f"{status} (not enabled)"
