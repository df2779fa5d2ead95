"""/etc/hosts: address -> names, with line numbers."""

from __future__ import annotations

from kvmcluster.model.record import record
from kvmcluster.parsers.values import parser


@record
class HostsEntry:
    line: int
    address: str
    names: list[str]


@parser("/etc/hosts")
def parse_hosts(text: str) -> list[HostsEntry]:
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if len(words) >= 2:
            entries.append(HostsEntry(lineno, words[0], words[1:]))
    return entries
