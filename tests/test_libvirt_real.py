"""check_vm_alloc, check_cluster_lvm --libvirt, kvmcluster status and collect against real
libvirtd daemons (QEMU driver, real TCG domains), locally and over qemu+ssh:// through a real
sshd on 127.0.0.1. Two daemons are the two nodes of the seed cluster."""

from __future__ import annotations

import json
import tarfile
import time

import pytest

from tests.libvirt_nodes import VM199, VM200
from tests.libvirtd_real import FailingNbd, Libvirtd, LvmVg, SshGateway, missing
from tests.plugin_runner import fixture, run_plugin

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"
SEED = fixture("cluster-conf_seed-fixed.conf")
STARTED = fixture("clustat-x_411-all-started.xml")
VG05, VG06 = "hD1vg05", "hD1vg06"
VGS = ["--vg", f"{N05}={VG05}", "--vg", f"{N06}={VG06}"]

pytestmark = [pytest.mark.real, pytest.mark.skipif(bool(missing()), reason=missing() or "-")]


@pytest.fixture(scope="module")
def nodes():
    node05 = Libvirtd("hD1a")
    try:
        node06 = Libvirtd("hD1b")
    except BaseException:
        node05.stop()
        raise
    yield node05, node06
    node06.stop()
    node05.stop()


@pytest.fixture(scope="module")
def gateway(nodes):
    server = SshGateway({"node05": nodes[0], "node06": nodes[1]})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def vgs():
    vg05 = LvmVg(VG05, ["vm200-disk0", "vm199-disk0"])
    try:
        vg06 = LvmVg(VG06, ["vm199-disk0"])
    except BaseException:
        vg05.remove()
        raise
    yield vg05, vg06
    vg06.remove()
    vg05.remove()


@pytest.fixture(scope="module")
def dead_disk(nodes):
    server = FailingNbd(nodes[0].dir)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean(nodes):
    yield
    for node in nodes:
        node.thaw()
        node.remove_all()


def uris(nodes, gateway, transport: str) -> list[str]:
    """--libvirt options for both nodes: local sockets or qemu+ssh://."""
    if transport == "ssh":
        pairs = [(N05, gateway.uri("node05")), (N06, gateway.uri("node06"))]
    else:
        pairs = [(N05, nodes[0].uri), (N06, nodes[1].uri)]
    return [arg for node, uri in pairs for arg in ("--libvirt", f"{node}={uri}")]


def vm_alloc(nodes, gateway, transport="local", *args: str):
    return run_plugin(
        "check_vm_alloc",
        "--cluster-conf",
        SEED,
        "--clustat-file",
        STARTED,
        *uris(nodes, gateway, transport),
        *VGS,
        *args,
    )


@pytest.mark.parametrize("transport", ["local", "ssh"])
def test_vms_on_their_home_nodes_and_vgs_are_ok(nodes, gateway, vgs, transport):
    node05, node06 = nodes
    node05.running(VM200, [("block", vgs[0].path("vm200-disk0"))])
    node05.shutoff(VM199)
    node06.running(VM199, [("block", vgs[1].path("vm199-disk0"))])
    node06.shutoff(VM200)
    run = vm_alloc(nodes, gateway, transport)
    assert run.returncode == OK, run.stdout
    assert (
        run.first_line
        == "VM_ALLOC OK - 2 VMs on their preferred nodes and volume groups, 2 running"
    )
    assert (run.perf("vms_configured"), run.perf("vms_running"), run.perf("vms_misplaced")) == (
        2,
        2,
        0,
    )


def test_disk_on_the_other_nodes_vg_is_a_warning(nodes, gateway, vgs):
    node05, node06 = nodes
    node05.running(VM200, [("block", vgs[0].path("vm200-disk0"))])
    node06.running(VM199, [("block", vgs[0].path("vm199-disk0"))])
    run = vm_alloc(nodes, gateway)
    assert run.returncode == WARNING, run.stdout
    assert run.first_line == (
        f"VM_ALLOC WARNING - {VM199} disk vda on {VG05}, the VG of node05 (expected {VG06}), "
        "1 of 2 VMs degraded"
    )


def test_paused_vm_is_a_warning(nodes, gateway):
    node05, node06 = nodes
    node05.paused(VM200)
    node06.running(VM199)
    run = vm_alloc(nodes, gateway)
    assert run.returncode == WARNING, run.stdout
    assert run.first_line.startswith(f"VM_ALLOC WARNING - {VM200} paused on node05")


def test_vm_paused_by_an_io_error_is_critical_naming_the_disk(nodes, gateway, dead_disk):
    """Its disk fails under it (an NBD server answering EIO): qemu pauses it for real."""
    from kvmcluster.sources.libvirt import read_hypervisors

    node05, node06 = nodes
    node05.io_error_paused(VM200, dead_disk)
    node06.running(VM199)
    run = vm_alloc(nodes, gateway)
    assert run.returncode == CRITICAL, run.stdout
    assert run.first_line.startswith(
        f"VM_ALLOC CRITICAL - {VM200} paused on node05 by an I/O error on disk vda (nbd:dead"
    ), run.stdout
    (view,) = read_hypervisors([("node05", node05.uri)])
    (domain,) = view.domains
    assert (domain.state, domain.reason) == ("paused", "ioerror")
    assert [(d.source, d.type) for d in domain.disks] == [("nbd:dead", "network")]
    assert domain.disk_errors == {"vda": "I/O error"}


def test_crashed_vm_is_critical(nodes, gateway):
    node05, node06 = nodes
    node05.crashed(VM200)
    node06.running(VM199)
    run = vm_alloc(nodes, gateway)
    assert run.returncode == CRITICAL, run.stdout
    assert run.first_line.startswith(f"VM_ALLOC CRITICAL - {VM200} crashed on node05")


def test_vm_shut_off_everywhere_is_critical(nodes, gateway):
    node05, node06 = nodes
    node05.shutoff(VM200)
    node06.shutoff(VM200)
    node06.running(VM199)
    run = vm_alloc(nodes, gateway)
    assert run.returncode == CRITICAL, run.stdout
    assert run.first_line.startswith(
        f"VM_ALLOC CRITICAL - {VM200} the cluster says node05, libvirt says nowhere"
    )


@pytest.mark.parametrize("transport", ["local", "ssh"])
def test_vm_running_on_both_nodes_is_critical(nodes, gateway, transport):
    node05, node06 = nodes
    node05.running(VM200)
    node06.running(VM200)
    node06.running(VM199)
    run = vm_alloc(nodes, gateway, transport)
    assert run.returncode == CRITICAL, run.stdout
    assert run.first_line.startswith(
        f"VM_ALLOC CRITICAL - {VM200} running on node05 and node06 at once (disk corruption "
        f"risk: virsh destroy {VM200} on node06)"
    )


def test_stopped_daemon_is_unknown_naming_the_node(nodes):
    stopped = Libvirtd("hD1c")
    uri = stopped.uri
    stopped.stop()
    nodes[0].running(VM200)
    run = run_plugin(
        "check_vm_alloc",
        "--cluster-conf",
        SEED,
        "--clustat-file",
        STARTED,
        "--libvirt",
        f"{N05}={nodes[0].uri}",
        "--libvirt",
        f"{N06}={uri}",
    )
    assert run.returncode == UNKNOWN, run.stdout
    assert run.first_line.startswith(f"VM_ALLOC UNKNOWN - libvirt of {N06} ({uri}): ")
    assert "Failed to connect socket" in run.first_line


@pytest.mark.parametrize("transport", ["local", "ssh"])
def test_frozen_daemon_answers_within_the_timeout(nodes, gateway, transport):
    node05, node06 = nodes
    node05.running(VM200)
    node06.running(VM199)
    node06.freeze()
    try:
        began = time.monotonic()
        run = vm_alloc(nodes, gateway, transport, "-t", "3")
        elapsed = time.monotonic() - began
    finally:
        node06.thaw()
    assert run.returncode == UNKNOWN, run.stdout
    assert run.first_line.startswith(f"VM_ALLOC UNKNOWN - libvirt of {N06} (")
    assert "no answer within" in run.first_line
    assert elapsed < 4.5, elapsed


@pytest.mark.parametrize("transport", ["local", "ssh"])
def test_lvm_names_the_inactive_lv_of_a_running_vm(nodes, gateway, vgs, transport):
    nodes[0].running(VM200, [("block", vgs[0].path("vm200-disk0"))])
    uri = gateway.uri("node05") if transport == "ssh" else nodes[0].uri
    run = run_plugin("check_cluster_lvm", "--libvirt", uri, "--vg", VG05)
    assert run.returncode == WARNING, run.stdout
    assert (
        run.first_line == f"LVM WARNING - {VG05} LV vm200-disk0 of a VM running here is not active"
    )
    assert run.perf(f"{VG05}_lvs") == 2


def test_lvm_without_the_vm_running_is_ok(nodes, vgs):
    nodes[0].shutoff(VM200, [("block", vgs[0].path("vm200-disk0"))])
    run = run_plugin("check_cluster_lvm", "--libvirt", nodes[0].uri, "--vg", VG05)
    assert run.returncode == OK, run.stdout


def test_status_reads_the_nodes_own_libvirtd(nodes, tmp_path):
    """`kvmcluster status` reads plain qemu:///system: run inside node05's namespace (with
    its host name), where that is the test's daemon; the Pacemaker tools print the seed's
    captured CIB and crm_mon."""
    node05 = nodes[0]
    node05.running(VM200)
    node05.crashed(VM199)
    tools = tmp_path / "bin"
    tools.mkdir()
    for name, args, capture in (
        ("cibadmin", "-Q", "cib_seed-healthy.xml"),
        ("crm_mon", "--output-as=xml -1", "crm-mon_seed-healthy.xml"),
    ):
        tool = tools / name
        tool.write_text(
            f'#!/bin/sh\n[ "$*" = "{args}" ] && exec /bin/cat "{fixture(capture)}"\n'
            f'exec /usr/sbin/{name} "$@"\n'
        )
        tool.chmod(0o755)
    as_node05 = ["unshare", "-u", "/bin/sh", "-c", f'hostname {N05} && exec "$@"', "-"]
    run = run_plugin(
        "kvmcluster",
        "status",
        "--json",
        prefix=[*node05.enter(), *as_node05],
        env={"PATH": f"{tools}:/usr/bin:/bin"},
    )
    report = json.loads(run.stdout)
    vm_alloc = next(area for area in report["areas"] if area["name"] == "vm_alloc")
    text = json.dumps(vm_alloc)
    assert vm_alloc["state"] == "CRITICAL", text
    assert "qemu:///system" not in vm_alloc["summary"], text  # it was read
    assert vm_alloc["summary"].startswith(f"{VM199} crashed on node05"), text
    vm200 = next(f for f in vm_alloc["findings"] if f["item"] == VM200)
    assert vm200["state"] == "OK" and "libvirt node05" in vm200["detail"], text


def test_collect_captures_both_nodes_local_and_over_ssh(nodes, gateway, tmp_path):
    node05, node06 = nodes
    node05.running(VM200)
    node05.shutoff(VM199)
    node06.paused(VM199)
    archive = tmp_path / "capture.tar.gz"
    run = run_plugin(
        "kvmcluster",
        "collect",
        "-o",
        str(archive),
        "--libvirt",
        f"{N05}={node05.uri}",
        "--libvirt",
        f"{N06}={gateway.uri('node06')}",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    with tarfile.open(archive) as tar:
        members = {m.name.split("/", 1)[-1]: m for m in tar.getmembers()}
        manifest = json.load(tar.extractfile(members["MANIFEST.json"]))
        libvirt = {
            entry["file"]: entry
            for entry in manifest["inputs"]
            if entry["file"].startswith("libvirt-")
        }
        assert libvirt[f"libvirt-{N05}.xml"]["status"] == "ok", libvirt
        assert libvirt[f"libvirt-{N05}.xml"]["domains"] == 2
        assert libvirt[f"libvirt-{N06}.xml"]["status"] == "ok", libvirt
        assert libvirt[f"libvirt-{N06}.xml"]["domains"] == 1
        node06_file = tar.extractfile(members[f"libvirt-{N06}.xml"]).read().decode()
    assert VM199 in node06_file


def test_bulk_read_gives_what_the_per_domain_read_gives(nodes, vgs, tmp_path):
    """One stats call per node for the states, then the XML of the active domains a few at a
    time: the same domains, states, reasons and disks as one state() + XMLDesc() per domain
    (a file disk, a CD-ROM with and without media, a shut-off domain's missing LV)."""
    import libvirt

    from kvmcluster.model.vms import HypervisorView
    from kvmcluster.sources.libvirt import _read_bulk, _read_each

    node05 = nodes[0]
    iso = tmp_path / "install.iso"
    iso.write_bytes(b"\0" * 4096)
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 65536)
    node05.running("lv-only", [("block", vgs[0].path("vm200-disk0"))])
    node05.running("with-file", [("file", str(image))])
    node05.paused("paused-lv", [("block", vgs[0].path("vm199-disk0"))])
    node05.crashed("crashed")
    node05.shutoff("off", [("block", "/dev/nonexistent/lv")])
    for number in range(8):  # more than 8 active domains: their XML is read 4 at a time
        extra = tmp_path / f"more-{number}.img"
        extra.write_bytes(b"\0" * 65536)
        node05.running(f"more-{number}", [("file", str(extra))] if number % 2 else ())
    cdrom = (
        node05.define("with-cdrom")
        .XMLDesc(0)
        .replace(
            "<devices>",
            "<devices><disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
            f"<source file='{iso}'/><target dev='hdc' bus='ide'/><readonly/></disk>"
            "<disk type='file' device='cdrom'><target dev='hdd' bus='ide'/><readonly/></disk>",
        )
    )
    node05.connection.defineXML(cdrom).create()
    connection = libvirt.openReadOnly(node05.uri)
    try:
        bulk, each = HypervisorView("n", node05.uri), HypervisorView("n", node05.uri)
        assert _read_bulk(libvirt, connection, bulk)
        _read_each(libvirt, connection, each)
    finally:
        connection.close()
    by_name = {d.name: d for d in bulk.domains}
    assert sorted(by_name) == sorted(d.name for d in each.domains)
    for domain in each.domains:
        assert by_name[domain.name] == domain
    assert by_name["paused-lv"].reason == "user"
    assert by_name["crashed"].state == "crashed" and by_name["crashed"].reason == "panicked"
    assert [(d.target, d.source, d.type) for d in by_name["lv-only"].disks] == [
        ("vda", vgs[0].path("vm200-disk0"), "block")
    ]
    assert [d.type for d in by_name["with-file"].disks] == ["file"]
    assert by_name["with-cdrom"].disks == []
