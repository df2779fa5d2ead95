"""The commands the plugins and `kvmcluster collect` run with `--sudo`: the one list that
icinga/sudoers is generated from (`python -m kvmcluster.sudoers`), made of the very argument
lists the sources run. Each is allowed with exactly these arguments, nothing more."""

from __future__ import annotations

from kvmcluster.parsers.lvm import LVS_ARGV, PVS_ARGV, VGS_ARGV
from kvmcluster.sources.cluster import (
    CFGTOOL_ARGV,
    CIB_ARGV,
    CLUSTAT_ARGV,
    CMAN_NODES_ARGV,
    CMAN_STATUS_ARGV,
    CRM_MON_ARGV,
    DLM_TOOL_ARGV,
    FENCE_TOOL_ARGV,
    QUORUMTOOL_ARGV,
)
from kvmcluster.sources.drbd import EVENTS2_ARGV, STATUS_JSON_ARGV
from kvmcluster.sources.lvm import DUMPCONFIG_ARGV, LVMCONFIG_ARGV

CLUSTER_CONF = "/etc/cluster/cluster.conf"
DMESG_ARGV = ["dmesg"]  # the kernel messages (DRBD split brain): root where dmesg_restrict=1


def cat_argv(path: str) -> list[str]:
    """How a root-only cluster.conf is read with --sudo (only the default path is allowed)."""
    return ["cat", path]


# (sudoers alias, who runs it, argv)
SUDO_COMMANDS: tuple[tuple[str, str, list[str]], ...] = (
    ("KVMCLUSTER_DRBD", "check_drbd on DRBD 9", STATUS_JSON_ARGV),
    ("KVMCLUSTER_DRBD", "check_drbd on drbd-utils without --json", EVENTS2_ARGV),
    ("KVMCLUSTER_DRBD", "kvmcluster collect (the kernel's DRBD messages)", DMESG_ARGV),
    ("KVMCLUSTER_CMAN", "check_cluster (cman)", CMAN_STATUS_ARGV),
    ("KVMCLUSTER_CMAN", "check_cluster (cman)", CMAN_NODES_ARGV),
    ("KVMCLUSTER_CMAN", "check_cluster (cman 3 fence domain)", FENCE_TOOL_ARGV),
    ("KVMCLUSTER_CMAN", "check_cluster (DLM lockspaces)", DLM_TOOL_ARGV),
    ("KVMCLUSTER_CMAN", "check_cluster_services, check_vm_alloc (rgmanager)", CLUSTAT_ARGV),
    (
        "KVMCLUSTER_CMAN",
        "check_vm_alloc (root-only cluster.conf)",
        cat_argv(CLUSTER_CONF),
    ),
    ("KVMCLUSTER_PCMK", "check_cluster, check_cluster_services, check_vm_alloc", CRM_MON_ARGV),
    ("KVMCLUSTER_PCMK", "check_cluster_services, check_vm_alloc (constraints)", CIB_ARGV),
    ("KVMCLUSTER_PCMK", "check_cluster (corosync quorum)", QUORUMTOOL_ARGV),
    ("KVMCLUSTER_PCMK", "check_cluster (corosync links)", CFGTOOL_ARGV),
    ("KVMCLUSTER_LVM", "check_cluster_lvm", VGS_ARGV),
    ("KVMCLUSTER_LVM", "check_cluster_lvm", PVS_ARGV),
    ("KVMCLUSTER_LVM", "check_cluster_lvm", LVS_ARGV),
    ("KVMCLUSTER_LVM", "check_cluster_lvm (lvm2 2.03)", LVMCONFIG_ARGV),
    ("KVMCLUSTER_LVM", "check_cluster_lvm (lvm2 2.02, RHEL 6)", DUMPCONFIG_ARGV),
)

# Where each program lives: Debian and RHEL 7+ (/usr/sbin, /usr/bin; /sbin and /bin are
# links there on merged-/usr systems) and RHEL 6 (/sbin, /bin; cman's tools in /usr/sbin).
DIRECTORIES = {"cat": ("/usr/bin", "/bin"), "dmesg": ("/usr/bin", "/bin")}
SBIN = ("/usr/sbin", "/sbin")


def allowed_argvs() -> list[tuple[str, ...]]:
    """Every argument list --sudo may run (program name as the sources give it)."""
    return [tuple(argv) for _, _, argv in SUDO_COMMANDS]


def directories(program: str) -> tuple[str, ...]:
    return DIRECTORIES.get(program, SBIN)
