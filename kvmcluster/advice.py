"""What an admin types to recover, one incident at a time: pure functions that return shell
lines (commands, and `# ` comment lines that say where and why), right for the DRBD version
and the cluster stack in use.

The generated RUNBOOK.md is made of them (kvmcluster.config.generate); `kvmcluster status`
is meant to print them for its findings (split brain, a VM running twice, the start order
after a reboot, a failed or failed-over rgmanager service). Every drbdadm line is valid for
its version (tests/test_advice.py runs each with the real drbdadm in dry-run mode: the 8.3
and 8.4 front ends for 8.3 and 8.4, drbdadm 9 for 9), every pcs line with the real pcs on a
CIB file.

Pacemaker resource ids are those of the generated pcs-setup.sh: `drbd-RES-clone`,
`lvm-VG-clone` (dual-primary DRBD) or `lvm-VG`, `vm-NAME`.
"""

from __future__ import annotations

import functools
import shlex

_SYNC_WAIT = "sleep 10"


def _lines(function):
    """Every line one line of printable text: the names come from the cluster's own output
    (untrusted); shlex quotes them for the shell, printable() escapes what would start a new
    line or reach a terminal as a control sequence."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> list[str]:
        from kvmcluster.model.findings import printable

        return [printable(line) for line in function(*args, **kwargs)]

    return wrapper


def drbd_line(version: str) -> str:
    """The DRBD family a version belongs to: "8.3" (8.0-8.3), "8.4" or "9"."""
    text = (version or "8.4").strip()
    if text.startswith("9"):
        return "9"
    if text.startswith("8.") and text[2:3] in ("0", "1", "2", "3"):
        return "8.3"
    return "8.4"


def _w(*words: str) -> str:
    return " ".join(shlex.quote(str(word)) for word in words)


def _on(node: str, why: str = "") -> str:
    return f"# on {node}{': ' + why if why else ''}"


def become_sync_source(resource: str, version: str) -> str:
    """The initial full sync: this node's data overwrites the peer's (once, on one node)."""
    if drbd_line(version) == "9":
        return _w("drbdadm", "primary", "--force", resource)
    return "drbdadm -- --overwrite-data-of-peer primary " + shlex.quote(resource)


@_lines
def wait_in_sync(resource: str, version: str) -> list[str]:
    """Wait until the resource is Connected and UpToDate on both sides.

    drbdadm 9 has wait-sync; the 8.3/8.4 drbdadm has not (drbdsetup has): wait-connect, then
    poll the disk states."""
    res = shlex.quote(resource)
    if drbd_line(version) == "9":
        return [f"drbdadm wait-sync {res}   # Connected, UpToDate on every node"]
    return [
        f"drbdadm wait-connect {res}",
        f'until [ "$(drbdadm dstate {res})" = UpToDate/UpToDate ]; do {_SYNC_WAIT}; done',
    ]


def discard_my_data(resource: str, version: str) -> str:
    """Reconnect as the split brain's victim: its changes since the split are thrown away."""
    if drbd_line(version) == "8.3":
        return "drbdadm -- --discard-my-data connect " + shlex.quote(resource)
    return _w("drbdadm", "connect", "--discard-my-data", resource)


def pcmk_ids(resource: str = "", vg: str = "", vm: str = "", dual_primary: bool = True) -> str:
    """The pcs-setup.sh id of a DRBD resource's clone, a VG's activation or a VM."""
    if resource:
        return f"drbd-{resource}-clone"
    if vg:
        return f"lvm-{vg}-clone" if dual_primary else f"lvm-{vg}"
    return f"vm-{vm}"


def service_name(service: str) -> str:
    """rgmanager's name of a VM or a service (`vm:NAME`, `service:NAME`); a bare name is a VM."""
    return service if ":" in service else f"vm:{service}"


@_lines
def split_brain_steps(
    resource: str,
    vgs: list[str],
    vms: list[str],
    drbd_version: str,
    victim: str,
    survivor: str,
    stack: str = "cman",
    dual_primary: bool = True,
) -> list[str]:
    """Recovery of a DRBD split brain on `resource`, the victim's changes discarded.

    `vgs` are the volume groups on the resource, `vms` the VMs with disks on them. The VMs
    leave the victim first (restarted on the survivor's data, never live-migrated: the
    survivor's disk lacks the victim's writes), then the victim deactivates the VGs (drbdadm
    secondary fails while they are active), then the DRBD steps of the version in use."""
    res = shlex.quote(resource)
    out = [
        f"# split brain on {resource}: {victim} is the victim (its writes to {resource} since the "
        f"split are discarded), {survivor} the survivor; swap them to keep {victim}'s data",
    ]
    if stack == "pacemaker":
        out.append(_on("any node", "the VMs stop, the victim gives up the VGs and Primary"))
        out += [_w("pcs", "resource", "disable", pcmk_ids(vm=vm)) for vm in vms]
        out += [
            _w("pcs", "resource", "ban", pcmk_ids(vg=vg, dual_primary=dual_primary), victim)
            for vg in vgs
        ]
        out.append(_w("pcs", "resource", "ban", pcmk_ids(resource), victim, "--promoted"))
        out += [_w("pcs", "resource", "enable", pcmk_ids(vm=vm)) for vm in vms]
    else:
        if vms:
            out.append(
                _on(
                    victim,
                    f"every VM on {', '.join(vgs) or resource} that runs here (clustat) restarts "
                    f"on {survivor}, on its data (never clusvcadm -M: a live migration keeps the "
                    "victim's memory)",
                )
            )
            out += [_w("clusvcadm", "-r", service_name(vm), "-m", survivor) for vm in vms]
            out.append("virsh list   # none of them runs here any more")
        if vgs:
            out.append(_on(victim, "deactivate the volume groups (here only)"))
            out.append(_w("vgchange", "-aln", *vgs))
    out.append(_on(victim))
    out += [
        f"drbdadm disconnect {res}",
        f"drbdadm secondary {res}",
        discard_my_data(resource, drbd_version),
    ]
    out.append(_on(survivor, "if it is StandAlone too"))
    out.append(f"drbdadm connect {res}")
    out.append(_on(victim, f"wait for the resync from {survivor}"))
    out += wait_in_sync(resource, drbd_version)
    if stack == "pacemaker":
        out.append(_on("any node", "give the victim its roles back"))
        out.append(_w("pcs", "resource", "clear", pcmk_ids(resource)))
        out += [
            _w("pcs", "resource", "clear", pcmk_ids(vg=vg, dual_primary=dual_primary)) for vg in vgs
        ]
    elif dual_primary:
        out.append(_on(victim, "Primary again, then its volume groups"))
        out.append(f"drbdadm primary {res}")
        if vgs:
            out.append(_w("vgchange", "-aly", *vgs))
    return out


@_lines
def vm_active_twice(
    vm: str, owner_node: str | None, other_nodes: list[str], stack: str = "cman"
) -> list[str]:
    """A VM running on several nodes at once: two writers on one disk.

    The copies the cluster does not own stop at once (virsh destroy: a hard stop; the owner's
    copy keeps running); then its filesystems are checked; then the cluster's view is
    refreshed. Without an owner every copy stops and the cluster starts it again."""
    name = shlex.quote(vm)
    if owner_node:
        out = [
            f"# {vm} runs on {', '.join([owner_node, *other_nodes])} at once; the cluster owns "
            f"the copy on {owner_node}: stop the others now"
        ]
        stop = other_nodes
    else:
        out = [f"# {vm} runs on {', '.join(other_nodes)} at once and the cluster owns none"]
        stop = other_nodes
    for node in stop:
        out += [_on(node), f"virsh destroy {name}"]
    if owner_node:
        out.append(
            _on(
                owner_node,
                "check the guest's filesystems (fsck inside it, or stop it and "
                "check its disk) before you trust its data",
            )
        )
    else:
        out.append("# check its disk (fsck) before it starts again")
    if stack == "pacemaker":
        rid = pcmk_ids(vm=vm)
        out.append(_w("pcs", "resource", "refresh", rid))
        if not owner_node:
            out.append(_w("pcs", "resource", "enable", rid))
    else:
        service = service_name(vm)
        if owner_node:
            out.append("clustat   # the cluster shows it started on " + owner_node)
        else:
            out += [_w("clusvcadm", "-d", service), _w("clusvcadm", "-e", service)]
    return out


@_lines
def start_order(
    stack: str,
    resources: list[str],
    vgs: list[str],
    drbd_version: str,
    dual_primary: bool = True,
    libvirt_guests_on_boot: str | None = None,
) -> list[str]:
    """After a boot, on every node: the stack does not start by itself (chkconfig off).

    cman: DRBD up and in sync, cman (the fence-peer handler needs it), Primary, clvmd, the
    volume groups, rgmanager (which starts the VMs). Pacemaker: corosync, then pacemaker,
    which brings DRBD, the VGs and the VMs up in the order of its constraints. libvirt-guests
    is never started by hand: with ON_BOOT=start it would start the VMs outside the cluster."""
    out = ["# on every node, after a boot, in this order"]
    if stack == "pacemaker":
        out += [
            "systemctl start corosync",
            "systemctl start pacemaker   # promotes DRBD, activates the VGs, starts the VMs",
        ]
    else:
        quoted = [shlex.quote(r) for r in resources]
        out.append("modprobe drbd")
        out += [f"drbdadm up {res}" for res in quoted]
        for res in resources:
            out += wait_in_sync(res, drbd_version)
        out.append("service cman start")
        if dual_primary:
            out += [f"drbdadm primary {res}" for res in quoted]
        out.append("service clvmd start")
        if vgs:
            out.append(_w("vgchange", "-aly", *vgs))
        out += ["service rgmanager start   # starts the VMs", "service ricci start"]
    if (libvirt_guests_on_boot or "").strip().lower() == "start":
        out.append(
            "# /etc/sysconfig/libvirt-guests says ON_BOOT=start: set ON_BOOT=ignore, the cluster "
            "starts the VMs"
        )
    else:
        out.append("# libvirt-guests is left alone (ON_BOOT=ignore): the cluster starts the VMs")
    return out


@_lines
def rgmanager_recovery(
    service: str,
    state: str,
    owner: str | None = None,
    home: str | None = None,
    migrate: str = "live",
) -> list[str]:
    """clusvcadm lines for one rgmanager service in `state` (as clustat shows it).

    failed: rgmanager leaves it alone until it is disabled; disabled/stopped: enable it (on
    its home node); started away from its home: move it back (failback), live where the VM
    migrates live."""
    svc = service_name(service)
    state = (state or "").strip().lower()
    target = ["-m", home] if home else []
    if state == "failed":
        return [
            f"# {svc} failed: rgmanager does not touch it again until it is disabled; read "
            "/var/log/cluster/rgmanager.log, then",
            _w("clusvcadm", "-d", svc),
            _w("clusvcadm", "-e", svc, *target),
        ]
    if state in ("disabled", "stopped"):
        return [f"# {svc} is {state}", _w("clusvcadm", "-e", svc, *target)]
    if state in ("recovering", "recoverable", "starting", "stopping", "migrating"):
        return [f"# {svc} is {state}: rgmanager is acting on it; wait, then clustat"]
    if state == "started" and home and owner and owner != home:
        flag = "-M" if svc.startswith("vm:") and migrate == "live" else "-r"
        how = "live migration" if flag == "-M" else "stopped here, started there"
        return [
            f"# {svc} runs on {owner}, its home is {home}: fail it back ({how})",
            _w("clusvcadm", flag, svc, "-m", home),
        ]
    return []


@_lines
def pacemaker_recovery(
    vm: str, state: str, owner: str | None = None, home: str | None = None
) -> list[str]:
    """pcs lines for a VM resource: failed (clean up its failures), stopped (enable), away
    from its home (drop the move or ban that holds it there: its location preference on the
    home node, 100 in pcs-setup.sh, brings it back)."""
    rid = pcmk_ids(vm=vm)
    state = (state or "").strip().lower()
    if state in ("failed", "blocked"):
        return [
            f"# {rid} failed: read its failure (pcs status --full), then",
            _w("pcs", "resource", "cleanup", rid),
        ]
    if state == "stopped":
        return [_w("pcs", "resource", "enable", rid)]
    if state == "started" and home and owner and owner != home:
        return [
            f"# {rid} runs on {owner}, its home is {home}: drop what holds it there (a move or a "
            f"ban), its preference for {home} brings it back",
            _w("pcs", "resource", "clear", rid),
        ]
    return []


# --- the cluster view (kvmcluster.rules.correlate): what only two nodes side by side show ----


@_lines
def drbd_one_side(resources: list[str], node: str, loaded: bool = True) -> list[str]:
    """Resources up on one node only: bring them up on the other (the module first if it is
    not loaded there)."""
    names = ", ".join(resources)
    out = [_on(node, f"{names} not up here" + ("" if loaded else ": DRBD is not loaded"))]
    if not loaded:
        out.append("modprobe drbd")
    for resource in resources:
        res = shlex.quote(resource)
        out += [f"drbdadm up {res}", f"drbdadm cstate {res}   # Connected once both sides see it"]
    return out


@_lines
def drbd_reconnect(resource: str, node: str) -> list[str]:
    """One side StandAlone, the other waiting for it: the StandAlone side reconnects, unless its
    kernel log says split brain (then the split-brain recovery applies, not this)."""
    res = shlex.quote(resource)
    return [
        _on(
            node,
            "StandAlone does not reconnect by itself; if its kernel log says "
            "Split-Brain, recover the split brain instead",
        ),
        "dmesg | grep -i split-brain",
        f"drbdadm connect {res}",
    ]


@_lines
def split_cluster(
    partitions: list[str], stack: str = "cman", fencing_off: bool = False
) -> list[str]:
    """Two partitions that each hold quorum (the two_node split): keep one, stop the stack on
    the others, repair the link, rejoin; fencing is what prevents the next one."""
    keep, others = partitions[0], partitions[1:]
    out = [
        f"# {len(partitions)} partitions hold quorum ({', '.join(partitions)}): keep one (here "
        f"{keep}'s, swap to keep another) and stop the cluster stack on the others"
    ]
    for node in others:
        out.append(_on(node))
        if stack == "pacemaker":
            out.append("pcs cluster stop")
        else:
            out += ["service rgmanager stop", "service clvmd stop", "service cman stop"]
    out.append("# repair the link between them (corosync-cfgtool -s on each), then rejoin")
    for node in others:
        out.append(_on(node))
        if stack == "pacemaker":
            out.append("pcs cluster start")
        else:
            out += ["service cman start", "service clvmd start", "service rgmanager start"]
    if fencing_off:
        out.append("# fencing is disabled: configure a fence device, then")
        out.append("pcs property set stonith-enabled=true")
    out.append(
        "# both partitions may have written: see the drbd-split-brain and vm-active-twice findings"
    )
    return out


@_lines
def config_drift(what: str, newest: str | None = None, stack: str = "cman") -> list[str]:
    """A configuration (or a version) that differs between nodes: make it one again."""
    if what == "cluster.conf":
        where = f"{newest}'s (the highest config_version)" if newest else "the right one"
        return [
            f"# keep {where}: raise its config_version above every node's, then on that node",
            "ccs_config_validate",
            "cman_tool version -r   # pushes it to every node",
        ]
    if what == "drbd.conf":
        return [
            "# make /etc/drbd.conf and /etc/drbd.d the same on every node, then on each",
            "drbdadm -d adjust all   # the dry run: what would change",
            "drbdadm adjust all",
        ]
    if what == "corosync.conf":
        if stack == "pacemaker":
            return [
                "# on the node with the right corosync.conf",
                "pcs cluster sync",
                "pcs cluster reload corosync",
            ]
        return ["# make /etc/corosync/corosync.conf the same on every node"]
    if what == "cluster name":
        return [
            "# these nodes are not one cluster: check the --node list, or the cluster.conf, CIB "
            "or corosync.conf it was read from"
        ]
    if what == "lvm.conf":
        return [
            "# make these settings the same in /etc/lvm/lvm.conf on every node, then check each",
            "lvmconfig devices/filter devices/global_filter global/locking_type "
            "global/use_lvmlockd",
        ]
    return [
        "# one DRBD version on every node: upgrade the older one (its VMs moved away, its "
        "resources Secondary), one node at a time",
        "drbdadm --version   # on each node: DRBDADM_VERSION, DRBD_KERNEL_VERSION",
    ]


@_lines
def drbd_recheck(resource: str, nodes: list[str]) -> list[str]:
    """Two sides whose stories contradict: read both again, side by side; what stays
    contradictory is a one-way link or a stuck state machine, not a capture's timing."""
    res = shlex.quote(resource)
    out = [f"# read {resource} again on {', '.join(nodes)} at the same moment; if it stays so, "
           "check the replication link both ways"]  # fmt: skip
    for node in nodes:
        out += [_on(node), f"drbdadm cstate {res}", f"drbdadm role {res}", f"drbdadm dstate {res}"]
    return out
