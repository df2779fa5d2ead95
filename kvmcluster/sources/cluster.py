"""Where cluster state comes from: captured files, or the stack's own tools on this node."""

from __future__ import annotations

from kvmcluster.errors import SourceError
from kvmcluster.model.cluster import ClusterStatus, ServicesStatus, merge_status
from kvmcluster.runtime.command import command_failure
from kvmcluster.sources.files import input_label, read_text

CMAN_STATUS_ARGV = ["cman_tool", "status"]
CMAN_NODES_ARGV = ["cman_tool", "nodes"]
CLUSTAT_ARGV = ["clustat", "-x"]
CRM_MON_ARGV = ["crm_mon", "--output-as=xml", "-1"]
QUORUMTOOL_ARGV = ["corosync-quorumtool", "-s"]
CFGTOOL_ARGV = ["corosync-cfgtool", "-s"]
CIB_ARGV = ["cibadmin", "-Q"]
CLUSTAT_HINT = "clustat hangs while the DLM is stuck or rgmanager is hung"
FENCE_TOOL_ARGV = ["fence_tool", "ls"]
DLM_TOOL_ARGV = ["dlm_tool", "ls"]


CLUSTER_CONF = "/etc/cluster/cluster.conf"


def installed(node, command: str) -> bool:
    return node.which(command)


def detect_stack(node) -> str | None:
    """The cluster stack `node` runs, the one detector of every check and of status (a
    capture's node answers from the files it holds): "cman" when cman_tool is installed,
    "pacemaker" when crm_mon or pacemakerd is, "corosync" (votequorum alone) when only
    corosync-quorumtool is, "cman" when only a cluster.conf is left; None: no stack."""
    if installed(node, "cman_tool"):
        return "cman"
    if installed(node, "crm_mon") or installed(node, "pacemakerd"):
        return "pacemaker"
    if installed(node, "corosync-quorumtool"):
        return "corosync"
    if node.exists(CLUSTER_CONF):
        return "cman"
    return None


def require_stack(node) -> str:
    """detect_stack, or the error that says what to install or give."""
    stack = detect_stack(node)
    if stack is not None:
        return stack
    raise SourceError(
        "no cluster stack tools found (cman_tool, crm_mon, corosync-quorumtool): "
        "install them or give a captured --*-file"
    )


def refuse_if_denied(node, said: str, tool: str = "corosync-quorumtool") -> None:
    """corosync-quorumtool says "Cannot initialize CMAP service" both when corosync is down
    and when the user may not talk to it; crm_mon tells them apart (status 4, Insufficient
    privileges, against 102, Not connected). So does cibadmin's "Transport endpoint is not
    connected". Asked on that failure only."""
    from kvmcluster.errors import KvmclusterError
    from kvmcluster.parsers.crm_mon import DENIED, INSUFFICIENT_PRIVILEGES

    try:
        result = node.run(CRM_MON_ARGV, sudo=False, ok_codes=None)
    except KvmclusterError:
        return  # no crm_mon, or it hung: the stack-down answer stands
    denied = (
        result.returncode == INSUFFICIENT_PRIVILEGES
        or "Insufficient privileges" in (result.stdout[:4096])
    )
    if denied:
        first = (said or "Cannot initialize CMAP service").strip().splitlines()[0][:80]
        detail = f"{tool}: {first}; crm_mon: Insufficient privileges"
        raise SourceError(DENIED.format(detail=detail))


def run_stack_tool(
    node, argv: list[str], sudo: bool, not_running: tuple[str, ...], ok=(0,), hint=""
):
    """Output of a stack tool; its 'not running' answers are returned, not raised."""
    result = node.run(argv, sudo=sudo, ok_codes=None, hint=hint)
    text = result.stdout + result.stderr
    if result.returncode in ok or any(marker in text for marker in not_running):
        return result.stdout if result.returncode in ok else text
    raise command_failure(result, sudo=sudo, hint=hint)


def _file(path: str, option: str) -> tuple[str, str]:
    return read_text(path, option), input_label(path)


def load_cluster_status(
    node,
    stack: str,
    *,
    cman_status_file: str | None = None,
    cman_nodes_file: str | None = None,
    clustat_file: str | None = None,
    quorumtool_file: str | None = None,
    crm_mon_file: str | None = None,
    cfgtool_file: str | None = None,
    sudo: bool = False,
    fence_file: str | None = None,
    group_file: str | None = None,
    dlm_file: str | None = None,
) -> ClusterStatus:
    parts: list[ClusterStatus] = []
    if cman_status_file:
        from kvmcluster.parsers.cman import parse_cman_status

        parts.append(parse_cman_status(*_file(cman_status_file, "--cman-status-file")))
    if cman_nodes_file:
        from kvmcluster.parsers.cman import parse_cman_nodes

        parts.append(parse_cman_nodes(*_file(cman_nodes_file, "--cman-nodes-file")))
    if clustat_file:
        from kvmcluster.parsers.clustat import parse_clustat

        parts.append(parse_clustat(*_file(clustat_file, "--clustat-file"))[0])
    if crm_mon_file:
        from kvmcluster.parsers.crm_mon import parse_crm_mon

        parts.append(parse_crm_mon(*_file(crm_mon_file, "--crm-mon-file"))[0])
    if quorumtool_file:
        from kvmcluster.parsers.quorumtool import parse_quorumtool

        parts.append(parse_quorumtool(*_file(quorumtool_file, "--quorumtool-file")))
    if cfgtool_file:
        from kvmcluster.parsers.cfgtool import parse_cfgtool

        parts.append(parse_cfgtool(*_file(cfgtool_file, "--cfgtool-file")))
    groups = [
        _groups_file(path, option)
        for path, option in (
            (fence_file, "--fence-file"),
            (group_file, "--group-file"),
            (dlm_file, "--dlm-file"),
        )
        if path
    ]
    if not parts and not groups:  # a captured file of any kind: no live tool runs
        parts = _live_cluster_status(node, require_stack(node) if stack == "auto" else stack, sudo)
    return merge_status(parts + groups)


def _groups_file(path: str, option: str) -> ClusterStatus:
    from kvmcluster.parsers.cman_groups import parse_groups

    text, label = _file(path, option)
    return _groups_part(parse_groups(text, label))


def _groups_part(groups) -> ClusterStatus:
    """A part for merge_status that holds only the groups (quorum and nodes unknown)."""
    part = ClusterStatus("cman", groups.source, groups=groups.groups)
    if not groups.running:
        part.groups = []  # the daemon does not answer: check_cluster_daemons says so
    return part


def _live_groups(node, sudo: bool) -> list[ClusterStatus]:
    """fence_tool ls and dlm_tool ls where they are installed (cman 3). A tool that fails
    (its daemon down, no sudo rule) adds nothing: check_cluster_daemons reports the daemons."""
    from kvmcluster.parsers.cman_groups import parse_groups

    parts = []
    for argv in (FENCE_TOOL_ARGV, DLM_TOOL_ARGV):
        if not installed(node, argv[0]):
            continue
        result = node.run(argv, sudo=sudo, ok_codes=None)
        if result.returncode == 0:
            parts.append(_groups_part(parse_groups(result.stdout, " ".join(argv))))
    return parts


def _live_cluster_status(node, stack: str, sudo: bool) -> list[ClusterStatus]:
    if stack == "cman":
        from kvmcluster.parsers.cman import NOT_RUNNING, parse_cman_nodes, parse_cman_status

        status = parse_cman_status(run_stack_tool(node, CMAN_STATUS_ARGV, sudo, (NOT_RUNNING,)))
        if not status.running:
            return [status]
        return [
            status,
            parse_cman_nodes(run_stack_tool(node, CMAN_NODES_ARGV, sudo, (NOT_RUNNING,))),
            *_live_groups(node, sudo),
        ]
    from kvmcluster.parsers.quorumtool import NOT_RUNNING as COROSYNC_DOWN
    from kvmcluster.parsers.quorumtool import parse_quorumtool

    # corosync-quorumtool exits 2 when the partition is not quorate: still an answer.
    quorum = parse_quorumtool(run_stack_tool(node, QUORUMTOOL_ARGV, sudo, COROSYNC_DOWN, ok=(0, 2)))
    if not quorum.running:
        if stack != "corosync" and not sudo:
            refuse_if_denied(node, quorum.error)
        return [quorum]
    from kvmcluster.parsers.cfgtool import NOT_RUNNING as CFG_DOWN
    from kvmcluster.parsers.cfgtool import parse_cfgtool

    # corosync 3.0 exits 1 when a link is not connected: still an answer.
    links = parse_cfgtool(run_stack_tool(node, CFGTOOL_ARGV, sudo, CFG_DOWN, ok=(0, 1)))
    if stack == "corosync":
        return [quorum, links]
    from kvmcluster.parsers.crm_mon import parse_crm_mon

    # 102 Not connected; 4 Insufficient privileges: parse_crm_mon says permission denied
    crm = parse_crm_mon(run_stack_tool(node, CRM_MON_ARGV, sudo, (), ok=(0, 102, 4)))[0]
    return [crm, quorum, links]


def load_services(
    node,
    stack: str,
    *,
    clustat_file: str | None = None,
    crm_mon_file: str | None = None,
    cib_file: str | None = None,
    sudo: bool = False,
    cluster_conf: str | None = None,
) -> ServicesStatus:
    services = _load_services(node, stack, clustat_file, crm_mon_file, cib_file, sudo)
    if services.manager == "rgmanager":
        live = not (clustat_file or crm_mon_file)
        services.autostart_off = _autostart_off(node, cluster_conf, live)
    return services


def _autostart_off(node, path: str | None, live: bool) -> list[str] | None:
    """The services and VMs cluster.conf does not start (autostart=\"0\"): given, or the
    node's own when checking live (unreadable or broken then: not used; lint says why)."""
    from kvmcluster.errors import KvmclusterError
    from kvmcluster.parsers.cluster_conf import parse_cluster_conf

    if path:
        config = parse_cluster_conf(*_file(path, "--cluster-conf"))
    elif not live:
        return None
    else:
        try:
            text = node.read(CLUSTER_CONF)
            if text is None:
                return None
            config = parse_cluster_conf(text, CLUSTER_CONF)
        except KvmclusterError:
            return None
    return [vm.resource for vm in config.vms if not vm.autostart]


def _load_services(node, stack, clustat_file, crm_mon_file, cib_file, sudo) -> ServicesStatus:
    if clustat_file:
        from kvmcluster.parsers.clustat import parse_clustat

        return parse_clustat(*_file(clustat_file, "--clustat-file"))[1]
    if crm_mon_file:
        from kvmcluster.parsers.crm_mon import parse_crm_mon

        services = parse_crm_mon(*_file(crm_mon_file, "--crm-mon-file"))[1]
        if cib_file:
            from kvmcluster.parsers.cib import parse_cib_constraints
            from kvmcluster.parsers.cib_meta import parse_cib_promoted_max

            text, label = _file(cib_file, "--cib-file")
            services.constraints = parse_cib_constraints(text, label)
            services.promoted_max = parse_cib_promoted_max(text, label)
        return services
    stack = require_stack(node) if stack == "auto" else stack
    if stack == "cman":
        from kvmcluster.parsers.clustat import parse_clustat

        text = run_stack_tool(
            node, CLUSTAT_ARGV, sudo, ("Could not connect to CMAN",), hint=CLUSTAT_HINT
        )
        if "Could not connect to CMAN" in text:
            return ServicesStatus("clustat -x", "rgmanager", running=False, error=text.strip())
        return parse_clustat(text)[1]
    from kvmcluster.parsers.cib import parse_cib_constraints
    from kvmcluster.parsers.crm_mon import parse_crm_mon

    services = parse_crm_mon(run_stack_tool(node, CRM_MON_ARGV, sudo, (), ok=(0, 102, 4)))[1]
    if services.running:
        from kvmcluster.parsers.cib_meta import parse_cib_promoted_max

        cib = run_stack_tool(node, CIB_ARGV, sudo, ())
        services.constraints = parse_cib_constraints(cib)
        services.promoted_max = parse_cib_promoted_max(cib)
    return services
