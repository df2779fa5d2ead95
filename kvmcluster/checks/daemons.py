"""check_cluster_daemons: the daemons the cluster stack needs run, once, and are not zombies."""

from __future__ import annotations

import argparse

from kvmcluster.runtime.cli import guarded_main, plugin_parser, start

NAME = "DAEMONS"

DESCRIPTION = """\
Checks that the daemons this node's cluster stack needs are running, and says how to start
what is missing, in order (the seed's clusters keep the stack out of the boot sequence, so it
is started by hand after every reboot).

profiles: rhcs       messagebus (dbus-daemon --system), libvirtd, libvirt-guests, cman
                     (corosync, fenced, dlm_controld; gfs_controld when present), clvmd,
                     rgmanager (2 processes), ricci  [default when cman_tool is installed]
          pacemaker  corosync, pacemakerd and its children (pacemaker-based, -fenced, -execd,
                     -attrd, -schedulerd, -controld; 1.1 names too), libvirtd
                     [default when pacemakerd is installed]
          libvirt    messagebus, libvirtd, libvirt-guests  [otherwise]

states: CRITICAL a daemon not running (the start commands are given);
        WARNING  a daemon running more or fewer times than it should, a zombie, a boot-time
                 service (libvirt-guests) not started;
        UNKNOWN  the process list cannot be read.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = plugin_parser(NAME, "check_cluster_daemons", DESCRIPTION)
    parser.add_argument(
        "--profile",
        choices=("auto", "rhcs", "pacemaker", "libvirt"),
        default="auto",
        help="which stack's daemons to check (default auto: see above)",
    )
    parser.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="NAME",
        help="also require this daemon (a known one such as modclusterd, or any executable "
        "name; repeatable)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="NAME",
        help="do not check this daemon, or all daemons of this service (e.g. ricci, cman; "
        "repeatable)",
    )
    parser.add_argument(
        "--ps-file",
        metavar="PATH",
        help="captured `ps -e -o pid=,ppid=,stat=,args=` instead of this node's processes",
    )
    parser.add_argument(
        "--uptime-file", metavar="PATH", help="captured /proc/uptime (with --ps-file)"
    )
    parser.add_argument(
        "--subsys-dir",
        metavar="DIR",
        default="/var/lock/subsys",
        help="where SysV init scripts record started services (default %(default)s)",
    )
    return parser


# what a process list shows of a stack that does not run (a node after a reboot: the seed's
# stack is started by hand): its tools and files in command lines, and the init of its era
_RHCS_TOOLS = {"cman_tool", "clustat", "clusvcadm", "ccs", "ccs_tool", "fence_tool", "rg_test"}
_RHCS_PATHS = ("/etc/cluster/", "/var/log/cluster/rgmanager", "/var/log/cluster/fenced")
_PACEMAKER_TOOLS = {"crm_mon", "crm_resource", "crm", "pcs", "cibadmin", "stonith_admin"}
_PACEMAKER_PATHS = ("/var/log/pacemaker", "/var/lib/pacemaker/")


def _stack_traces(processes) -> str | None:
    """rhcs or pacemaker from what the command lines mention; else rhcs on an init older than
    systemd (cman ran up to RHEL 6; Pacemaker nodes since RHEL 7 run systemd), else None."""
    words = [w for p in processes for w in p.args[:16]]
    tools = {w.rsplit("/", 1)[-1] for w in words}
    paths = [w for w in words if w.startswith("/")]
    rhcs = bool(tools & _RHCS_TOOLS) or any(p.startswith(_RHCS_PATHS) for p in paths)
    pacemaker = bool(tools & _PACEMAKER_TOOLS) or any(p.startswith(_PACEMAKER_PATHS) for p in paths)
    if rhcs != pacemaker:
        return "rhcs" if rhcs else "pacemaker"
    systemd = any(p.name.startswith("systemd") for p in processes)
    if not systemd and any(p.name == "udevd" for p in processes):  # SysV/upstart era
        return "rhcs"
    return None


def detect_profile(node=None, processes=None) -> str:
    """rhcs when cman is installed, pacemaker when pacemakerd is; on a capture, the stack
    whose daemons it shows, or, when none runs (after a reboot), whose traces it shows."""
    if processes is not None:
        names = {p.name for p in processes}
        if names & {"fenced", "dlm_controld", "rgmanager", "clvmd"}:
            return "rhcs"
        if names & {"pacemakerd", "pacemaker-controld", "crmd"}:
            return "pacemaker"
        traced = _stack_traces(processes)
        if traced:
            return traced
        from kvmcluster.errors import SourceError

        raise SourceError(
            "no cluster daemon runs in the captured process list, so its stack is unknown: "
            "give --profile rhcs, pacemaker or libvirt"
        )
    from kvmcluster.sources.cluster import detect_stack

    return {"cman": "rhcs", "pacemaker": "pacemaker"}.get(detect_stack(node) or "", "libvirt")


def build_report(
    node,
    profile: str = "auto",
    *,
    require: list[str] | None = None,
    skip: list[str] | None = None,
    ps_file: str | None = None,
    uptime_file: str | None = None,
    subsys_dir: str = "/var/lock/subsys",
):
    from kvmcluster.model.daemons import profile_daemons
    from kvmcluster.rules.daemons import evaluate
    from kvmcluster.sources import processes as live
    from kvmcluster.sources.files import input_label, read_text

    if ps_file:
        from kvmcluster.parsers.ps import parse_ps, parse_uptime

        processes = parse_ps(read_text(ps_file, "--ps-file"), input_label(ps_file))
        uptime = None
        if uptime_file:
            uptime = parse_uptime(read_text(uptime_file, "--uptime-file"), input_label(uptime_file))
        systemd = live.uses_systemd(node, processes)
        profile = detect_profile(node, processes) if profile == "auto" else profile
    else:
        processes = live.live_processes(node)
        uptime = live.live_uptime(node)
        systemd = live.uses_systemd(node)
        profile = detect_profile(node) if profile == "auto" else profile
    daemons = profile_daemons(profile, require or [], skip or [])
    states = {}
    for daemon in daemons:
        if daemon.kind == "service-state":
            states[daemon.name] = (
                None if ps_file else live.service_started(node, daemon.service, systemd, subsys_dir)
            )
    return evaluate(
        processes, daemons, profile=profile, systemd=systemd, uptime=uptime, service_states=states
    )


def _run(argv: list[str] | None) -> None:
    from kvmcluster.runtime.nagios import build_check

    args = build_parser().parse_args(argv)
    node = start(args)

    def build():
        return build_report(
            node,
            args.profile,
            require=args.require,
            skip=args.skip,
            ps_file=args.ps_file,
            uptime_file=args.uptime_file,
            subsys_dir=args.subsys_dir,
        )

    check = build_check(NAME, "daemons", build)
    check.main(verbose=args.verbose, timeout=args.timeout)


def main(argv: list[str] | None = None) -> None:
    guarded_main(NAME, _run, argv)


if __name__ == "__main__":
    main()
