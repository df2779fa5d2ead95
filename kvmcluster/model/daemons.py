"""Processes on a node and the daemons each cluster stack needs (the seed's list for RHCS)."""

from __future__ import annotations

from kvmcluster.model.record import factory, record


@record
class ProcessInfo:
    pid: int
    ppid: int
    state: str  # ps STAT / psutil status letter: "S", "R", "Z" (zombie) ...
    args: list[str] = factory(list)  # the command line; empty for kernel threads and zombies
    comm: str = ""  # the kernel's name (15 characters at most)

    @property
    def name(self) -> str:
        """The daemon name as an admin reads it: the basename of argv[0], else the comm."""
        if self.args and not self.args[0].startswith("["):
            return self.args[0].rsplit("/", 1)[-1]
        return self.comm

    @property
    def zombie(self) -> bool:
        return self.state.startswith("Z")


@record
class Daemon:
    """A daemon a profile requires, and how to recognise and start it."""

    name: str  # what the admin reads: "fenced", "messagebus", "rgmanager" ...
    service: str  # the init script / unit that starts it ("cman" starts corosync, fenced ...)
    executables: tuple[str, ...] = ()  # argv[0] basenames that count (alternatives)
    required_arg: str = ""  # an argument the real daemon always has (dbus-daemon --system)
    min_count: int = 1
    max_count: int = 1
    optional: bool = False  # checked only when present (gfs_controld)
    kind: str = "process"  # "process", or "service-state": a boot-time service, no process
    cluster_stack: bool = True  # part of what an admin starts by hand after a reboot

    def matches(self, process: ProcessInfo) -> bool:
        if process.name not in self.executables:
            return False
        return not self.required_arg or self.required_arg in process.args[1:]


# The order an admin starts services in after a reboot (the seed: cman, clvmd, rgmanager,
# ricci; boot-time services first).
SERVICE_ORDER = (
    "messagebus",
    "dbus",
    "libvirtd",
    "libvirt-guests",
    "cman",
    "corosync",
    "clvmd",
    "pacemaker",
    "rgmanager",
    "ricci",
)


def _catalog() -> dict[str, Daemon]:
    daemons = [
        Daemon(
            "messagebus",
            "messagebus",
            ("dbus-daemon", "dbus-broker-launch"),
            "--system",
            cluster_stack=False,
            max_count=1,
        ),
        Daemon("libvirtd", "libvirtd", ("libvirtd", "virtqemud"), cluster_stack=False),
        Daemon("libvirt-guests", "libvirt-guests", kind="service-state", cluster_stack=False),
        Daemon("corosync", "cman", ("corosync",)),
        Daemon("fenced", "cman", ("fenced",)),
        Daemon("dlm_controld", "cman", ("dlm_controld",)),
        Daemon("gfs_controld", "cman", ("gfs_controld",), optional=True),
        Daemon("clvmd", "clvmd", ("clvmd",)),
        Daemon("rgmanager", "rgmanager", ("rgmanager",), min_count=2, max_count=2),
        Daemon("ricci", "ricci", ("ricci",)),
        Daemon("modclusterd", "modclusterd", ("modclusterd",)),
        Daemon("pacemakerd", "pacemaker", ("pacemakerd",)),
        # Pacemaker 2 names, then the 1.1 names of the same daemons.
        Daemon("pacemaker-based", "pacemaker", ("pacemaker-based", "cib")),
        Daemon("pacemaker-fenced", "pacemaker", ("pacemaker-fenced", "stonithd")),
        Daemon("pacemaker-execd", "pacemaker", ("pacemaker-execd", "lrmd")),
        Daemon("pacemaker-attrd", "pacemaker", ("pacemaker-attrd", "attrd")),
        Daemon("pacemaker-schedulerd", "pacemaker", ("pacemaker-schedulerd", "pengine")),
        Daemon("pacemaker-controld", "pacemaker", ("pacemaker-controld", "crmd")),
    ]
    return {d.name: d for d in daemons}


CATALOG = _catalog()

PROFILES: dict[str, tuple[str, ...]] = {
    # The seed's list: cman messagebus clvmd libvirtd libvirt-guests rgmanager ricci fenced
    # dlm_controld corosync (cman runs corosync, fenced and dlm_controld itself).
    "rhcs": (
        "messagebus",
        "libvirtd",
        "libvirt-guests",
        "corosync",
        "fenced",
        "dlm_controld",
        "gfs_controld",
        "clvmd",
        "rgmanager",
        "ricci",
    ),
    "pacemaker": (
        "corosync",
        "pacemakerd",
        "pacemaker-based",
        "pacemaker-fenced",
        "pacemaker-execd",
        "pacemaker-attrd",
        "pacemaker-schedulerd",
        "pacemaker-controld",
        "libvirtd",
    ),
    "libvirt": ("messagebus", "libvirtd", "libvirt-guests"),
}
# Under the pacemaker profile corosync is its own service, not cman's.
SERVICE_OVERRIDES = {"pacemaker": {"corosync": "corosync"}}


def profile_daemons(profile: str, require: list[str], skip: list[str]) -> list[Daemon]:
    """The daemons to check: the profile's, plus --require, minus --skip (daemon or service)."""
    from kvmcluster.model.record import replace

    names = list(PROFILES[profile])
    for name in require:
        if name not in names:
            names.append(name)
    daemons = []
    overrides = SERVICE_OVERRIDES.get(profile, {})
    for name in names:
        daemon = CATALOG.get(name) or Daemon(name, name, (name,), cluster_stack=False)
        if name in overrides:
            daemon = replace(daemon, service=overrides[name])
        if name in require and daemon.optional:
            daemon = replace(daemon, optional=False)
        if daemon.name in skip or daemon.service in skip:
            continue
        daemons.append(daemon)
    return daemons
