"""Live process list (psutil), uptime, init system and boot-time service state of this node."""

from __future__ import annotations

import os

from kvmcluster.model.daemons import ProcessInfo

SUBSYS_DIR = "/var/lock/subsys"

_PSUTIL_STATES = {
    "running": "R",
    "sleeping": "S",
    "disk-sleep": "D",
    "stopped": "T",
    "tracing-stop": "t",
    "zombie": "Z",
    "dead": "X",
    "idle": "I",
}


def live_processes(node) -> list[ProcessInfo]:
    if node.remote:
        from kvmcluster.parsers.ps import PS_ARGV, parse_ps

        return parse_ps(node.run(PS_ARGV).stdout, f"{node.name}: ps")
    import psutil

    processes = []
    for proc in psutil.process_iter(["pid", "ppid", "status", "name", "cmdline"]):
        info = proc.info
        processes.append(
            ProcessInfo(
                info["pid"],
                info["ppid"] or 0,
                _PSUTIL_STATES.get(info["status"] or "", "?"),
                list(info["cmdline"] or []),
                info["name"] or "",
            )
        )
    return processes


def live_uptime(node) -> float:
    if node.remote:
        from kvmcluster.parsers.ps import parse_uptime

        return parse_uptime(node.read("/proc/uptime") or "", f"{node.name}:/proc/uptime")
    import time

    import psutil

    return max(0.0, time.time() - psutil.boot_time())


def uses_systemd(node, processes: list[ProcessInfo] | None = None) -> bool:
    """systemd manages services: live, the sd_booted() test; on a capture, PID 1's name."""
    if processes is None:
        return node.exists("/run/systemd/system")
    return any(p.pid == 1 and p.name == "systemd" for p in processes)


def service_started(node, service: str, systemd: bool, subsys_dir: str = SUBSYS_DIR) -> bool:
    """Whether a boot-time service (one that leaves no process) was started: systemd's unit
    state, or the lock file a SysV init script touches in /var/lock/subsys."""
    if systemd:
        result = node.run(["systemctl", "is-active", f"{service}.service"], ok_codes=None)
        return result.stdout.strip() == "active"
    return node.exists(os.path.join(subsys_dir, service))
