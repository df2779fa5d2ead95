"""Process lists: `ps -e -o pid=,ppid=,stat=,args=` (procps on RHEL 6 and current Debian), and
/proc/uptime."""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.daemons import ProcessInfo

PS_ARGV = ["ps", "-e", "-o", "pid=,ppid=,stat=,args="]
_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$")
_HEADER = re.compile(r"^\s*PID\s+PPID\s+STAT\s+(COMMAND|ARGS|CMD)\s*$")
_BRACKETED = re.compile(r"^\[(.+?)\](?:\s+<defunct>)?\s*$")


def parse_ps(text: str, source: str = "ps") -> list[ProcessInfo]:
    processes = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or _HEADER.match(line):
            continue
        m = _LINE.match(line)
        if not m:
            raise ParseError(source, f"not a `{' '.join(PS_ARGV)}` line: {line[:60]!r}", lineno)
        pid, ppid, stat, command = m.groups()
        command = command.strip()
        bracketed = _BRACKETED.match(command)
        if bracketed:  # kernel thread, or a zombie: "[rgmanager] <defunct>"
            processes.append(ProcessInfo(int(pid), int(ppid), stat, [], bracketed.group(1)))
        else:
            args = command.split()
            comm = args[0].rsplit("/", 1)[-1][:15] if args else ""
            processes.append(ProcessInfo(int(pid), int(ppid), stat, args, comm))
    if not processes:
        raise ParseError(source, "no processes listed")
    return processes


def parse_uptime(text: str, source: str = "/proc/uptime") -> float:
    """Seconds since boot, from /proc/uptime ("12345.67 23456.78")."""
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        raise ParseError(
            source, f"expected '<seconds> <idle seconds>', got {text[:40]!r}"
        ) from None
