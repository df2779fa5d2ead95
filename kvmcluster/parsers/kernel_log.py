"""The kernel messages (`dmesg`, or kern.log) read for what DRBD says about split brains.

    [  141.44] block drbd0: Split-Brain detected but unresolved, dropping connection!   (8.x)
    [  141.44] block drbd0: helper command: /sbin/drbdadm split-brain minor-0            (8.x)
    drbd r0/0 drbd0 node06: Split-Brain detected, 1 primaries, automatically solved. ...  (9)

Pure: text in, SplitBrainLine records out (the minor or the resource, the line number), never
the message itself (it is untrusted)."""

from __future__ import annotations

import re
from dataclasses import replace

from kvmcluster.model.cluster_view import SplitBrainLine
from kvmcluster.parsers.values import parser

_DRBD8 = re.compile(r"\bblock drbd([0-9]{1,9}): (.*)$")
_DRBD9 = re.compile(
    r"\bdrbd ([A-Za-z0-9_.+-]{1,64})(?:/[0-9]{1,5})?(?: drbd([0-9]{1,9}))?(?: [^\s:]{1,64})?: (.*)$"
)
_SPLIT = re.compile(r"Split-Brain detected|helper command: \S*drbdadm split-brain(?!.*exit code)")
MAX_LINES = 200_000


# a connection state change into a connected or resyncing state (8.x `conn( A -> B )`, DRBD 9
# `cstate( A -> B )` and `repl( A -> B )`)
_RECONNECTED = re.compile(
    r"\b(?:conn|cstate|repl)\( ?\S+ -> (?:Connected|Established|SyncSource|SyncTarget|WFBitMapS"
    r"|WFBitMapT) ?\)"
)
_HANDSHAKE = re.compile(
    r"^(self|peer) [0-9A-Fa-f]{1,16}(?::[0-9A-Fa-f]{1,16}){1,8} bits:([0-9]{1,15})\b"
)


@parser("dmesg")
def parse_kernel_log(text: str, source: str = "dmesg") -> list[SplitBrainLine]:
    """Every DRBD split-brain message of the log, in order (a log without any: []), each with
    the changed blocks of both sides that the handshake before it printed (the `self` and
    `peer` generation identifiers' `bits:`), where the log has them."""
    found = []
    handshake: dict[tuple, dict[str, int]] = {}  # (minor, resource) -> self/peer bits
    for number, line in enumerate(text.splitlines()[:MAX_LINES], 1):
        if "plit-" not in line and "bits:" not in line and " -> " not in line:
            continue  # most lines go no further
        m8 = _DRBD8.search(line)
        m9 = None if m8 else _DRBD9.search(line)
        message = m8.group(2) if m8 else m9.group(3) if m9 else ""
        if not message:
            continue
        minor = int(m8.group(1)) if m8 else (int(m9.group(2)) if m9.group(2) else None)
        key = (minor, None if m8 else m9.group(1))
        if _RECONNECTED.search(message):  # connected again since: that split brain is over
            found = [replace(x, resolved=True) if _same(x, key) else x for x in found]
            continue
        bits = _HANDSHAKE.match(message)
        if bits:
            handshake.setdefault(key, {})[bits.group(1)] = int(bits.group(2))
            continue
        if not _SPLIT.search(message):
            continue
        seen = handshake.get(key, {})
        found.append(
            SplitBrainLine(
                number,
                minor=minor,
                resource=key[1],
                resolved="automatically solved" in message,
                self_bits=seen.get("self"),
                peer_bits=seen.get("peer"),
            )
        )
    return found


def _same(line: SplitBrainLine, key: tuple) -> bool:
    """The line is of the device or resource `key` names (DRBD 9: its resource, whose
    connection-level lines name no minor; 8.x: its minor)."""
    minor, resource = key
    return line.resource == resource if resource else line.minor == minor
