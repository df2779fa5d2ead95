"""check_cluster_lvm and `kvmcluster lint --lvm-conf`: captured RHEL 6 output (clustered VGs
cannot be made on lvm2 2.03), and real lvm2 on loop devices, one standing in for a DRBD device."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kvmcluster.checks.lvm import parse_free_limit
from kvmcluster.errors import ParseError
from kvmcluster.parsers.lvm import parse_lvm_config, parse_pvs, parse_vgs
from kvmcluster.rules.lvm import filter_accepts
from tests.libvirt_nodes import domain, hypervisor
from tests.plugin_runner import fixture, run_plugin

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
SEED_DRBD = fixture("etc-drbd-conf_seed-84.conf")
FILTERED = fixture("lvm-conf_rhel6-clustered-filtered.conf")


def lvm_check(vgs, pvs, conf=FILTERED, *args, lvs=None):
    extra = ["--lvs-file", fixture(lvs)] if lvs else []
    return run_plugin(
        "check_cluster_lvm",
        "--vgs-file",
        fixture(vgs),
        "--pvs-file",
        fixture(pvs),
        "--lvm-conf-file",
        conf,
        "--drbd-conf",
        SEED_DRBD,
        *extra,
        *args,
    )


def test_parsers():
    vgs = parse_vgs(Path(fixture("vgs_rhel6-clustered-on-drbd.txt")).read_text())
    assert [(v.name, v.clustered, v.lv_count) for v in vgs][:2] == [
        ("volimages", True, 3),
        ("volnode05", True, 12),
    ]
    pvs = parse_pvs(Path(fixture("pvs_rhel6-volnode05-pv-missing.txt")).read_text())
    assert [p.name for p in pvs if p.missing] == ["[unknown]"]
    config = parse_lvm_config(Path(FILTERED).read_text())
    assert config.get("global/locking_type") == 3 and config.line("global/locking_type") == 17
    assert config.get("devices/filter") == ["a|^/dev/drbd[0-9]+$|", "a|^/dev/sda2$|", "r|.*|"]
    with pytest.raises(ParseError):
        parse_vgs("volnode05|wz--nc|1\n", "x")
    for size in ("inf", "nan", "12x"):  # a mangled size is a parse error, never a crash
        with pytest.raises(ParseError, match="not a size in bytes"):
            parse_vgs(f"volnode05|wz--nc|{size}B|0B|1|1\n", "x")
    with pytest.raises(ParseError):
        parse_lvm_config('devices {\n filter = [ "a|x|"\n', "x")


@pytest.mark.parametrize(
    "patterns, device, accepted",
    [
        (["a|^/dev/drbd[0-9]+$|", "r|.*|"], "/dev/sdb1", False),
        (["a|^/dev/drbd[0-9]+$|", "r|.*|"], "/dev/drbd1", True),
        (["r|^/dev/sdb1$|"], "/dev/sdb2", True),
        (["a/.*/"], "/dev/sdb1", True),
        ([], "/dev/sdb1", True),
    ],
)
def test_lvm_filter_semantics(patterns, device, accepted):
    assert filter_accepts(patterns, device) is accepted


def test_free_limits():
    assert parse_free_limit("10%").breached(5, 100) and not parse_free_limit("10%").breached(
        20, 100
    )
    assert parse_free_limit("2G").breached(1024**3, 10 * 1024**3)
    with pytest.raises(ValueError):
        parse_free_limit("lots")
    with pytest.raises(ValueError, match=r"ambiguous.*10%.*20G"):
        parse_free_limit("10")  # 10 %, 10 GiB or 10 bytes?
    assert parse_free_limit("10B").size == 10 and parse_free_limit("512M").size == 512 * 1024**2


def test_clustered_vgs_on_drbd_with_clvmd_locking_and_a_filter_are_ok():
    run = lvm_check("vgs_rhel6-clustered-on-drbd.txt", "pvs_rhel6-clustered-on-drbd.txt")
    assert (run.returncode, run.first_line) == (OK, "LVM OK - 3 volume groups on DRBD OK")
    assert run.perf("volnode05_free") == 2147483648 and run.perf("volnode05_lvs") == 12
    assert "vg_root_size" not in run.perfdata  # not on DRBD: not checked by default


def test_seed_lvm_conf_before_its_change_is_critical_and_says_the_filter_to_add():
    run = lvm_check(
        "vgs_rhel6-clustered-on-drbd.txt",
        "pvs_rhel6-clustered-on-drbd.txt",
        fixture("lvm-conf_rhel6-seed-default.conf"),
        "-v",
    )
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        f"LVM CRITICAL - {fixture('lvm-conf_rhel6-seed-default.conf')}:8: clustered VGs need "
        "locking_type = 3 (clvmd), not 1 (volimages, volnode05, volnode06)"
    )
    assert any(
        "LVM may scan the DRBD backing device(s) /dev/sdb1, /dev/sdb2, /dev/sdb3" in line
        and 'global_filter = [ "a@^/dev/drbd[0-9]+$@", "r@^/dev/sdb1$@"' in line
        for line in run.lines
    )
    assert "warning: removed illegal characters" not in run.stdout


def test_vg_on_dual_primary_drbd_that_is_not_clustered_is_critical():
    run = lvm_check("vgs_rhel6-volnode05-not-clustered.txt", "pvs_rhel6-clustered-on-drbd.txt")
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        "LVM CRITICAL - volnode05 on dual-primary DRBD drbd1 but neither clustered "
        "(vgchange -cy) nor shared (lvmlockd)"
    )


def test_pv_on_the_drbd_backing_disk_is_critical_and_names_both():
    run = lvm_check("vgs_rhel6-clustered-on-drbd.txt", "pvs_rhel6-volnode05-on-backing-disk.txt")
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        "LVM CRITICAL - volnode05 PV /dev/sdb2 is the backing device of DRBD drbd1, not /dev/drbd1"
    )


def test_missing_pv_is_critical():
    run = lvm_check("vgs_rhel6-volnode05-partial.txt", "pvs_rhel6-volnode05-pv-missing.txt")
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        "LVM CRITICAL - volnode05 partial: a PV is missing, PV [unknown] missing"
    )


def test_free_space_thresholds_and_expected_vgs():
    run = lvm_check(
        "vgs_rhel6-clustered-on-drbd.txt",
        "pvs_rhel6-clustered-on-drbd.txt",
        FILTERED,
        "-w",
        "10%",
        "-c",
        "1G",
    )
    assert run.returncode == WARNING
    assert run.first_line.startswith("LVM WARNING - volnode05 free 5.0% (2.0 GiB) below 10%")
    critical = lvm_check(
        "vgs_rhel6-clustered-on-drbd.txt", "pvs_rhel6-clustered-on-drbd.txt", FILTERED, "-c", "3G"
    )
    assert critical.first_line.startswith("LVM CRITICAL - volnode05 free 5.0% (2.0 GiB) below 3G")
    missing = lvm_check(
        "vgs_rhel6-clustered-on-drbd.txt",
        "pvs_rhel6-clustered-on-drbd.txt",
        FILTERED,
        "--vg",
        "volnode07",
        "--vg",
        "volnode05",
    )
    assert missing.first_line.startswith("LVM CRITICAL - volnode07 volume group not found")


def test_lv_of_a_vm_running_here_that_is_not_active(tmp_path):
    uri = hypervisor(
        tmp_path,
        "node06",
        domain(
            "aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr",
            199,
            disks=[("block", "/dev/volnode06/aquarius_000199_disk0")],
        ),
    )
    run = lvm_check(
        "vgs_rhel6-clustered-on-drbd.txt",
        "pvs_rhel6-clustered-on-drbd.txt",
        FILTERED,
        "--libvirt",
        uri,
        lvs="lvs_rhel6-vm-lv-inactive.txt",
    )
    assert run.returncode == WARNING, run.stdout
    assert run.first_line.startswith(
        "LVM WARNING - volnode06 LV aquarius_000199_disk0 of a VM running here is not active"
    )


def test_lint_reports_the_lvm_configuration_defects():
    run = run_plugin(
        "kvmcluster",
        "lint",
        "--lvm-conf",
        fixture("lvm-conf_rhel6-seed-default.conf"),
        "--drbd-conf",
        SEED_DRBD,
    )
    assert run.returncode == CRITICAL
    assert (
        f"{fixture('lvm-conf_rhel6-seed-default.conf')}:8: error: DRBD is dual-primary but LVM "
        "locking is local"
    ) in run.stdout
    assert f"{fixture('lvm-conf_rhel6-seed-default.conf')}:5: warning: LVM may scan" in run.stdout
    clean = run_plugin("kvmcluster", "lint", "--lvm-conf", FILTERED, "--drbd-conf", SEED_DRBD)
    assert f"{FILTERED}:" not in clean.stdout  # only the seed drbd.conf's own defects remain


# --- real lvm2 on loop devices --------------------------------------------------------------


def _lvm_usable() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("losetup", "pvcreate", "vgcreate", "vgs", "mknod"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (lvm2, util-linux)"
    return None


class LoopLvm:
    """Two loop devices: one is the 'backing disk', the other appears as /dev/drbd199 (a
    device node with the loop's numbers), as DRBD would present it. LVM sees only them
    (LVM_SYSTEM_DIR points at the test's own lvm.conf)."""

    DRBD = "/dev/drbd199"

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path
        self.env = {"LVM_SYSTEM_DIR": str(tmp_path / "lvm"), "LVM_SUPPRESS_FD_WARNINGS": "1"}
        self.loops: list[str] = []
        self.vgs: list[str] = []
        for name in ("backing", "drbd"):
            image = tmp_path / f"{name}.img"
            subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
            out = subprocess.run(
                ["losetup", "-f", "--show", str(image)], capture_output=True, text=True
            )
            if out.returncode != 0:
                raise RuntimeError(out.stderr)
            self.loops.append(out.stdout.strip())
        self.backing = self.loops[0]
        stat = os.stat(self.loops[1])
        os.mknod(
            self.DRBD, 0o600 | 0o060000, os.makedev(os.major(stat.st_rdev), os.minor(stat.st_rdev))
        )
        self.write_lvm_conf(reject_backing=True)

    def write_lvm_conf(self, reject_backing: bool) -> Path:
        (self.dir / "lvm").mkdir(exist_ok=True)
        accept_backing = "" if reject_backing else f'"a|^{self.backing}$|", '
        conf = self.dir / "lvm" / "lvm.conf"
        conf.write_text(
            "devices {\n"
            f'\tglobal_filter = [ "a|^{self.DRBD}$|", {accept_backing}"r|.*|" ]\n'
            "\tobtain_device_list_from_udev = 0\n}\n"
            "global {\n\tuse_lvmlockd = 0\n}\n"
        )
        return conf

    def lvm(self, *argv: str) -> None:
        proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **self.env})
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {proc.stderr}")

    def vgcreate(self, name: str, pv: str) -> None:
        self.lvm("pvcreate", "-q", pv)
        self.lvm("vgcreate", "-q", name, pv)
        self.vgs.append(name)

    def drbd_conf(self, dual_primary: bool) -> str:
        path = self.dir / "drbd.conf"
        net = "\tnet { allow-two-primaries; }\n" if dual_primary else ""
        path.write_text(
            "resource r199 {\n"
            + net
            + f"\ton {os.uname().nodename} {{\n\t\tdevice {self.DRBD};\n\t\tdisk {self.backing};\n"
            "\t\tmeta-disk internal;\n\t\taddress 127.0.0.1:7799;\n\t}\n}\n"
        )
        return str(path)

    def check(self, *args: str):
        return run_plugin("check_cluster_lvm", *args, env=self.env)

    def close(self) -> None:
        for vg in self.vgs:
            subprocess.run(
                ["vgremove", "-fq", vg], capture_output=True, env={**os.environ, **self.env}
            )
        self.write_lvm_conf(reject_backing=False)
        for pv in (self.DRBD, self.backing):
            subprocess.run(
                ["pvremove", "-fq", pv], capture_output=True, env={**os.environ, **self.env}
            )
        if os.path.exists(self.DRBD):
            os.unlink(self.DRBD)
        for loop in self.loops:
            subprocess.run(["losetup", "-d", loop], capture_output=True)


@pytest.fixture
def loops(tmp_path):
    reason = _lvm_usable()
    if reason:
        pytest.skip(reason)
    if os.path.exists(LoopLvm.DRBD):
        pytest.skip(f"{LoopLvm.DRBD} exists on this machine")
    try:
        setup = LoopLvm(tmp_path)
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"loop devices unavailable here: {exc}")
    yield setup
    setup.close()


@pytest.mark.real
def test_live_vg_on_the_drbd_device_with_a_filter_is_ok(loops):
    loops.vgcreate("kvtest_vg", loops.DRBD)
    run = loops.check("--drbd-conf", loops.drbd_conf(dual_primary=False), "-v")
    assert run.returncode == OK, run.stdout
    assert run.first_line == "LVM OK - 1 volume group on DRBD OK"
    assert "OK: kvtest_vg: local, PVs /dev/drbd199, 0 LVs, free 100.0% (60.0 MiB)" in run.lines
    assert run.perf("kvtest_vg_size") == 62914560


@pytest.mark.real
def test_live_vg_on_dual_primary_drbd_must_be_clustered_or_shared(loops):
    loops.vgcreate("kvtest_vg", loops.DRBD)
    run = loops.check("--drbd-conf", loops.drbd_conf(dual_primary=True))
    assert run.returncode == CRITICAL
    assert run.first_line.startswith(
        "LVM CRITICAL - kvtest_vg on dual-primary DRBD r199 but neither clustered"
    )


@pytest.mark.real
def test_live_pv_on_the_backing_loop_device_and_no_filter(loops):
    loops.write_lvm_conf(reject_backing=False)
    loops.vgcreate("kvtest_bad", loops.backing)
    run = loops.check(
        "--drbd-conf", loops.drbd_conf(dual_primary=False), "--vg", "kvtest_bad", "-v"
    )
    assert run.returncode == CRITICAL, run.stdout
    assert run.first_line.startswith(
        f"LVM CRITICAL - kvtest_bad PV {loops.backing} is the backing device of DRBD r199, "
        "not /dev/drbd199: LVM writes around replication"
    )
    assert any(
        f"LVM may scan the DRBD backing device(s) {loops.backing}" in line for line in run.lines
    )


@pytest.mark.real
def test_live_free_space(loops):
    loops.vgcreate("kvtest_vg", loops.DRBD)
    run = loops.check("--drbd-conf", loops.drbd_conf(dual_primary=False), "-w", "100M")
    assert run.returncode == WARNING
    assert run.first_line.startswith("LVM WARNING - kvtest_vg free 100.0% (60.0 MiB) below 100M")
