"""Process lists: `ps -e -o pid=,ppid=,stat=,args=` (procps on RHEL 6 and current Debian), and
/proc/uptime."""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.daemons import ProcessInfo
from kvmcluster.parsers.values import MAX_SECONDS, finite, integer, parser

PS_ARGV = ["ps", "-e", "-o", "pid=,ppid=,stat=,args="]
_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$")
_HEADER = re.compile(r"^\s*PID\s+PPID\s+STAT\s+(COMMAND|ARGS|CMD)\s*$")
_BRACKETED = re.compile(r"^\[(.+?)\](?:\s+<defunct>)?\s*$")


@parser("ps")
def parse_ps(text: str, source: str = "ps") -> list[ProcessInfo]:
    processes = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or _HEADER.match(line):
            continue
        m = _LINE.match(line)
        if not m:
            raise ParseError(source, f"not a `{' '.join(PS_ARGV)}` line: {line[:60]!r}", lineno)
        pid, ppid, stat, command = m.groups()
        pid, ppid = integer(pid, source, lineno, "pid"), integer(ppid, source, lineno, "ppid")
        command = command.strip()
        bracketed = _BRACKETED.match(command)
        if bracketed:  # kernel thread, or a zombie: "[rgmanager] <defunct>"
            processes.append(ProcessInfo(pid, ppid, stat, [], bracketed.group(1)))
        else:
            args = command.split()
            comm = args[0].rsplit("/", 1)[-1][:15] if args else ""
            processes.append(ProcessInfo(pid, ppid, stat, args, comm))
    if not processes:
        raise ParseError(source, "no processes listed")
    return processes


@parser("/proc/uptime")
def parse_uptime(text: str, source: str = "/proc/uptime") -> float:
    """Seconds since boot, from /proc/uptime ("12345.67 23456.78"): finite, 0 to a century.
    One line of two numbers and nothing else (ps output, whose first word is a pid, is not)."""
    first = text[:4097].split("\n", 1)[0]  # a huge file is not split whole
    words = first.split()
    rest = text[len(first) : len(first) + 4096]
    if len(words) != 2 or len(first) > 4096 or rest.strip() or len(text) > len(first) + 4096:
        got = f"{first[:40]!r}{' ...' if len(first) > 40 else ''}"
        raise ParseError(source, f"uptime: expected '<seconds> <idle seconds>', got {got}", 1)
    finite(words[1], source, 1, "idle seconds", 0.0, float(2**64))
    return finite(words[0], source, 1, "uptime in seconds", 0.0, MAX_SECONDS)
