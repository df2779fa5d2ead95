"""check_vm_alloc in the states real clusters get into: a node whose libvirt was not read
proves nothing, a VM paused by an I/O error, a crashed domain libvirt keeps, storage-pool
volumes, what vms_running counts, local-file disks (real libvirt-python, test driver)."""

from __future__ import annotations

from kvmcluster.model.vms import (
    ClusterConfig,
    Disk,
    HypervisorDomain,
    HypervisorView,
    ManagedVM,
)
from kvmcluster.rules.vm_alloc import AllocPolicy, evaluate
from tests.libvirt_nodes import VM199, VM200, domain, hypervisor, vm199, vm200
from tests.plugin_runner import fixture, run_plugin
from tests.test_vm_alloc import N05, N06, SEED, STARTED, VGS, check, clustat

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def only_node05(tmp_path, *domains: str, placement=STARTED, extra=()):
    """As icinga/nrpe.cfg and the default live mode run it: this node's libvirt only."""
    uri05 = hypervisor(tmp_path, "node05", *domains)
    return run_plugin(
        "check_vm_alloc", "--cluster-conf", SEED, "--clustat-file", placement,
        "--libvirt", f"{N05}={uri05}", *VGS, *extra,
    )  # fmt: skip


class TestNodeNotRead:
    def test_a_vm_the_cluster_places_on_a_node_not_read_is_not_verified_not_critical(
        self, tmp_path
    ):
        run = only_node05(tmp_path, vm200(), vm199("shutoff"))
        assert (run.returncode, run.first_line) == (
            OK,
            "VM_ALLOC OK - 2 VMs on their preferred nodes and volume groups, 2 running "
            "(1 not verified: libvirt of node06 not read)",
        ), run
        verbose = only_node05(tmp_path, vm200(), vm199("shutoff"), extra=("-v",))
        assert any(
            "not verified on node06 (its libvirt was not read)" in line for line in verbose.lines
        ), verbose
        assert "libvirt says nowhere" not in verbose.stdout

    def test_every_vm_on_the_read_node_is_still_judged(self, tmp_path):
        """VM199 belongs to node06 by the cluster, but the read node05 runs it too."""
        run = only_node05(tmp_path, vm200(), vm199())
        assert run.returncode == CRITICAL
        assert run.first_line.startswith(
            f"VM_ALLOC CRITICAL - {VM199} the cluster says node06, libvirt says node05"
        ), run

    def test_without_the_clusters_word_a_vm_not_on_the_read_node_is_not_said_to_run_nowhere(
        self, tmp_path
    ):
        """rgmanager does not answer: only libvirt of every node could tell 'nowhere'."""
        placement = fixture("clustat-x_411-inquorate-no-rgmanager.xml")
        run = only_node05(tmp_path, vm200(), vm199("shutoff"), placement=placement)
        assert "not running anywhere" not in run.stdout, run
        both = check(
            tmp_path,
            [vm200(), vm199("shutoff")],
            [vm199("shutoff"), vm200("shutoff")],
            placement=placement,
        )
        assert f"{VM199} not running anywhere although it should" in both.first_line, both


class TestPausedAndCrashed:
    def test_a_crashed_domain_is_crashed_on_its_node_not_nowhere(self, tmp_path):
        run = check(
            tmp_path, [vm200("crashed"), vm199("shutoff")], [vm199(), vm200("shutoff")], "-v"
        )
        assert run.returncode == CRITICAL
        assert run.first_line.startswith(f"VM_ALLOC CRITICAL - {VM200} crashed on node05"), run
        assert "nowhere" not in run.stdout, run
        assert any(f"{VM200}: libvirt crashed on node05" in line for line in run.lines), run

    def test_a_plain_pause_stays_a_warning_and_is_not_counted_as_running(self, tmp_path):
        run = check(tmp_path, [vm200("paused"), vm199("shutoff")], [vm199(), vm200("shutoff")])
        assert run.returncode == WARNING
        assert run.first_line.startswith(f"VM_ALLOC WARNING - {VM200} paused on node05")
        assert (run.perf("vms_running"), run.perf("vms_configured")) == (1, 2)

    def test_paused_by_an_io_error_is_critical_naming_the_failed_disk(self):
        report = evaluate(*_seed_with(paused_by_io_error(errors={"vda": "I/O error"})))
        (finding,) = [f for f in report.findings if f.item == VM200]
        assert finding.state == 2 and finding.kind == "vm-io-error"
        assert finding.problems[0] == (
            "paused on node05 by an I/O error on disk vda (/dev/volnode05/vm200-disk0: I/O error)"
        )

    def test_without_libvirts_disk_errors_every_disk_is_named(self):
        report = evaluate(*_seed_with(paused_by_io_error(errors={})))
        (finding,) = [f for f in report.findings if f.item == VM200]
        assert finding.problems[0] == (
            "paused on node05 by an I/O error on disk vda (/dev/volnode05/vm200-disk0), "
            "disk vdb (nbd:dead)"
        )


def paused_by_io_error(errors: dict) -> HypervisorDomain:
    return HypervisorDomain(
        N05,
        VM200,
        "paused",
        [Disk("vda", "/dev/volnode05/vm200-disk0", "block"), Disk("vdb", "nbd:dead", "network")],
        reason="ioerror",
        disk_errors=errors,
    )


def _seed_with(vm200_domain: HypervisorDomain):
    from kvmcluster.parsers.clustat import parse_clustat
    from kvmcluster.parsers.cluster_conf import parse_cluster_conf

    with open(SEED) as handle:
        config = parse_cluster_conf(handle.read(), SEED)
    with open(STARTED) as handle:
        cluster, services = parse_clustat(handle.read(), STARTED)
    views = [
        HypervisorView(N05, "test:///05", [vm200_domain]),
        HypervisorView(
            N06,
            "test:///06",
            [HypervisorDomain(N06, VM199, "running", [Disk("vda", "/dev/volnode06/x", "block")])],
        ),
    ]
    policy = AllocPolicy(vgs={N05: "volnode05", N06: "volnode06"})
    return config, views, policy, services, cluster


def volume_vm(name: str, number: int, pool: str, volume: str, state: str = "running") -> str:
    """A domain on a storage-pool volume (<disk type='volume'>)."""
    xml = domain(name, number, state)
    disk = (
        f'<disk type="volume" device="disk"><source pool="{pool}" volume="{volume}"/>'
        '<target dev="vda"/></disk>'
    )
    return xml.replace("<devices></devices>", f"<devices>{disk}</devices>")


def logical_pool(vg: str, number: int, *volumes: str) -> str:
    vols = "".join(
        f'<volume type="block"><name>{v}</name><capacity>1048576</capacity>'
        f"<key>/dev/{vg}/{v}</key><target><path>/dev/{vg}/{v}</path></target></volume>"
        for v in volumes
    )
    return (
        f'<pool type="logical"><name>{vg}</name>'
        f"<uuid>22222222-1111-1111-1111-{number:012d}</uuid>"
        f'<source><name>{vg}</name><format type="lvm2"/></source>'
        f"<target><path>/dev/{vg}</path></target>{vols}</pool>"
    )


class TestStorageVolumes:
    def test_a_volume_in_the_other_nodes_pool_is_on_the_wrong_vg(self, tmp_path):
        run = check(
            tmp_path,
            [
                volume_vm(VM200, 200, "volnode06", "vm200-disk0"),
                vm199("shutoff"),
                logical_pool("volnode06", 6, "vm200-disk0"),
            ],
            [vm199(), vm200("shutoff")],
        )
        assert run.returncode == WARNING, run
        assert run.first_line.startswith(
            f"VM_ALLOC WARNING - {VM200} disk vda on volnode06, the VG of node06 "
            "(expected volnode05)"
        ), run

    def test_a_volume_in_its_own_nodes_pool_is_ok(self, tmp_path):
        run = check(
            tmp_path,
            [
                volume_vm(VM200, 200, "volnode05", "vm200-disk0"),
                vm199("shutoff"),
                logical_pool("volnode05", 5, "vm200-disk0"),
            ],
            [vm199(), vm200("shutoff")],
        )
        assert run.returncode == OK, run

    def test_libvirt_resolves_the_volume_to_its_device(self, tmp_path):
        from kvmcluster.sources.libvirt import read_hypervisors

        uri = hypervisor(
            tmp_path,
            "node05",
            volume_vm(VM200, 200, "volnode05", "vm200-disk0"),
            volume_vm(VM199, 199, "gone", "x"),
            logical_pool("volnode05", 5, "vm200-disk0"),
        )
        (view,) = read_hypervisors([(N05, uri)])
        disks = {d.name: d.disks[0] for d in view.domains}
        assert (disks[VM200].source, disks[VM200].path) == (
            "volnode05/vm200-disk0",
            "/dev/volnode05/vm200-disk0",
        )
        assert disks[VM199].path == ""  # a pool libvirt does not know: not resolved


class TestPerfdata:
    def test_local_file_disks_have_their_own_perfdata(self, tmp_path):
        run = check(
            tmp_path,
            [vm200(extra=[("file", "/var/lib/libvirt/images/scratch.qcow2")]), vm199("shutoff")],
            [vm199(), vm200("shutoff")],
        )
        assert run.returncode == WARNING
        assert run.perfdata["vms_local_file_disks"][0] == 1
        assert run.perfdata["vms_local_file_disks"][2][:1] == ["0"]  # warn above 0
        healthy = check(tmp_path, [vm200(), vm199("shutoff")], [vm199(), vm200("shutoff")])
        assert healthy.perf("vms_local_file_disks") == 0 and healthy.perf("vms_running") == 2

    def test_a_vm_stopped_by_the_cluster_is_not_running(self, tmp_path):
        run = check(
            tmp_path,
            [vm200(), vm199("shutoff")],
            [vm199("shutoff"), vm200("shutoff")],
            placement=clustat(tmp_path, vm199_state="stopped"),
        )
        assert run.perf("vms_running") == 1


def test_rules_alone_count_running_only():
    """The rule, without libvirt: a crashed VM the cluster still places is not running."""
    config = ClusterConfig("c", nodes=[N05], vms=[ManagedVM("a", resource="vm:a")])
    views = [HypervisorView(N05, "u", [HypervisorDomain(N05, "a", "crashed")])]
    report = evaluate(config, views, AllocPolicy())
    perf = {p.label: p.value for p in report.perfdata}
    assert perf["vms_running"] == 0
    assert [f.problems for f in report.findings] == [("crashed on node05",)]
