"""kvmcluster generate / lint / import, checked by the real tools (drbdadm, corosync, icinga2)
and against the seed's own files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kvmcluster.config.writer import write_atomic
from kvmcluster.parsers.cluster_conf import parse_cluster_conf
from kvmcluster.parsers.drbd_conf import configured_resources
from kvmcluster.sources.drbd_conf import read_drbd_conf
from tests.plugin_runner import REPO, fixture, run_plugin

SEED_TOML = str(REPO / "examples" / "seed-cluster.toml")
PCMK_TOML = str(REPO / "examples" / "pacemaker-cluster.toml")
N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"


def kvmcluster(*args, stdin=None):
    return run_plugin("kvmcluster", *args, stdin=stdin)


def drbdadm(*args, binary="drbdadm", node=None):
    env = dict(os.environ)
    if node:
        env["__DRBD_NODE__"] = node
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=30)


needs_drbdadm = pytest.mark.skipif(shutil.which("drbdadm") is None, reason="drbd-utils")


@pytest.fixture
def seed_out(tmp_path):
    run = kvmcluster("generate", SEED_TOML, "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    return tmp_path / "out"


@pytest.fixture
def pcmk_out(tmp_path):
    run = kvmcluster("generate", PCMK_TOML, "--output", str(tmp_path / "pcmk"))
    assert run.returncode == 0, run.stderr
    return tmp_path / "pcmk"


def test_seed_generates_the_target_filesystem_layout(seed_out):
    files = sorted(str(p.relative_to(seed_out)) for p in seed_out.rglob("*") if p.is_file())
    assert files == [
        "RUNBOOK.md",
        "etc/cluster/cluster.conf",
        "etc/drbd.conf",
        "etc/hosts.kvmcluster",
        "etc/lvm/lvm.conf.kvmcluster",
        "monitoring/icinga-hosts.conf",
        "monitoring/icinga-zones.conf",
    ]


@needs_drbdadm
@pytest.mark.real
def test_generated_drbd84_config_passes_drbdadm_84(seed_out):
    conf = str(seed_out / "etc/drbd.conf")
    dump = drbdadm("-c", conf, "dump", "all", binary="/lib/drbd/drbdadm-84")
    assert dump.returncode == 0, dump.stderr
    dry = drbdadm("-c", conf, "-d", "up", "drbd1", binary="/lib/drbd/drbdadm-84", node=N05)
    assert dry.returncode == 0, dry.stderr
    assert "attach 1 /dev/sdb2 /dev/sdb2 internal" in dry.stdout
    assert "connect drbd1 ipv4:172.30.136.15:7788 ipv4:172.30.136.16:7788" in dry.stdout
    assert "--allow-two-primaries=yes" in dry.stdout
    assert "--fencing=resource-and-stonith" in dry.stdout


@needs_drbdadm
@pytest.mark.real
def test_generated_drbd9_config_passes_drbdadm(pcmk_out):
    conf = str(pcmk_out / "etc/drbd.conf")
    assert drbdadm("-c", conf, "dump", "all").returncode == 0
    dry = drbdadm("-c", conf, "-d", "up", "vmdata02", node="kvm02")
    assert dry.returncode == 0, dry.stderr
    assert "new-path vmdata02 0 ipv4:10.40.0.12:7790 ipv4:10.40.0.11:7790" in dry.stdout
    assert "attach 2 /dev/nvme0n1p2 /dev/nvme0n1p2 internal" in dry.stdout
    real_minors = drbdadm("-c", conf, "sh-minor", "vmdata02", node="kvm02").stdout.split()
    ours = configured_resources(read_drbd_conf(conf), {"kvm02"})
    assert [m for r in ours if r.name == "vmdata02" for m in r.minors] == [int(real_minors[0])]


@pytest.mark.real
def test_generated_corosync_conf_passes_corosync_t(tmp_path):
    """corosync -t wants one ring0_addr to be local: the example on loopback addresses."""
    if shutil.which("corosync") is None or shutil.which("corosync-keygen") is None:
        pytest.skip("corosync is not installed")
    description = tmp_path / "loopback.toml"
    description.write_text(
        Path(PCMK_TOML)
        .read_text()
        .replace("10.30.0.11", "127.0.0.1")
        .replace("10.30.0.12", "127.0.0.2")
    )
    assert kvmcluster("generate", str(description), "-o", str(tmp_path / "out")).returncode == 0
    key = tmp_path / "authkey"
    assert subprocess.run(["corosync-keygen", "-k", str(key)], capture_output=True).returncode == 0
    conf = (tmp_path / "out/etc/corosync/corosync.conf").read_text()
    assert "keyfile: /etc/corosync/authkey" in conf
    test_conf = tmp_path / "corosync.conf"
    test_conf.write_text(conf.replace("/etc/corosync/authkey", str(key)))
    proc = subprocess.run(["corosync", "-t", "-c", str(test_conf)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generated_files_pass_the_schema_and_lint_without_findings(seed_out, pcmk_out):
    seed = kvmcluster(
        "lint",
        "--cluster-conf",
        str(seed_out / "etc/cluster/cluster.conf"),
        "--drbd-conf",
        str(seed_out / "etc/drbd.conf"),
        "--hosts",
        str(seed_out / "etc/hosts.kvmcluster"),
        "--lvm-conf",
        str(seed_out / "etc/lvm/lvm.conf.kvmcluster"),
    )
    assert (seed.returncode, seed.stdout.splitlines()[0]) == (
        0,
        "LINT OK - no findings in cluster.conf, drbd.conf, hosts.kvmcluster, lvm.conf.kvmcluster",
    )
    pcmk = kvmcluster(
        "lint",
        "--corosync-conf",
        str(pcmk_out / "etc/corosync/corosync.conf"),
        "--drbd-conf",
        str(pcmk_out / "etc/drbd.conf"),
        "--lvm-conf",
        str(pcmk_out / "etc/lvm/lvm.conf.kvmcluster"),
    )
    assert pcmk.returncode == 0, pcmk.stdout


def test_generated_cluster_conf_says_what_the_description_says(seed_out):
    config = parse_cluster_conf((seed_out / "etc/cluster/cluster.conf").read_text())
    assert config.nodes == [N05, N06] and config.errors == []
    assert config.domains["kvm_node05"].ranked() == [N05, N06]
    assert config.domains["kvm_node06"].ranked() == [N06, N05]
    assert [(vm.name, vm.domain, vm.autostart) for vm in config.vms] == [
        ("aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr", "kvm_node05", True),
        ("aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr", "kvm_node06", True),
    ]


def test_hosts_block_puts_the_cluster_name_first_and_lvm_filters_backing_disks(seed_out):
    hosts = (seed_out / "etc/hosts.kvmcluster").read_text()
    assert f"172.30.136.13\t{N05} node05" in hosts
    lvm = (seed_out / "etc/lvm/lvm.conf.kvmcluster").read_text()
    assert '"r|^/dev/sdb1$|"' in lvm and '"a|^/dev/drbd[0-9]+$|"' in lvm
    assert "locking_type = 3" in lvm


def test_runbook_orders_the_bring_up(seed_out):
    runbook = (seed_out / "RUNBOOK.md").read_text()
    steps = [
        "drbdadm create-md drbd0",
        "service cman start",
        "drbdadm -- --overwrite-data-of-peer primary drbd0",
        "drbdadm primary drbd0",
        "service clvmd start",
        "pvcreate /dev/drbd1",
        "vgcreate -cy volnode05 /dev/drbd1",
        "service rgmanager start",
    ]  # the whole order and every command run for real: tests/test_runbook.py
    positions = [runbook.index(step) for step in steps]
    assert positions == sorted(positions)


@pytest.mark.real
def test_generated_monitoring_config_passes_icinga2(seed_out):
    if shutil.which("icinga2") is None:
        pytest.skip("icinga2 is not installed")
    directory = Path(tempfile.mkdtemp(prefix="kvmcluster-icinga-gen-", dir="/tmp"))
    try:
        directory.chmod(0o755)
        cache = directory / "cache"
        cache.mkdir()
        cache.chmod(0o777)
        hosts = directory / "hosts.conf"
        shutil.copy(seed_out / "monitoring/icinga-hosts.conf", hosts)
        hosts.chmod(0o644)
        zones = directory / "zones.conf"
        shutil.copy(seed_out / "monitoring/icinga-zones.conf", zones)
        zones.chmod(0o644)
        conf = directory / "icinga2.conf"
        conf.write_text(
            'const PluginDir = "/usr/lib/nagios/plugins"\nconst NodeName = "mon"\n'
            "const ZoneName = NodeName\nobject Endpoint NodeName {}\n"
            "object Zone ZoneName { endpoints = [ NodeName ] }\ninclude <itl>\ninclude <plugins>\n"
            + "".join(
                f'include "{REPO / "icinga" / n}"\n'
                for n in ("constants.conf", "commands.conf", "services.conf")
            )
            + f'include "{zones}"\ninclude "{hosts}"\n'
        )
        conf.chmod(0o644)
        env = {**os.environ, "ICINGA2_USER": "nobody", "ICINGA2_GROUP": "nogroup"}
        proc = subprocess.run(
            ["icinga2", "daemon", "-C", "-c", str(conf), f"-DCacheDir={cache}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout
        listing = subprocess.run(
            ["icinga2", "object", "list", "--type", "Service", f"-DCacheDir={cache}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        ).stdout
        assert f"Object '{N05}!drbd-drbd1'" in listing
        assert "Object 'agacloud001_c3!vm-alloc'" in listing  # once, on the cluster host
        assert f"Object '{N06}!vm-alloc'" not in listing
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --- refusals ---------------------------------------------------------------------------

GOOD = Path(SEED_TOML).read_text()


@pytest.mark.parametrize(
    "change, expected",
    [
        (("[cluster]", '[cluster]\ncolour = "blue"'), "cluster.colour: unknown key"),
        (("node_id = 2", 'node_id = "two"'), "nodes[1].node_id: expected int, got str 'two'"),
        (
            ('name = "drbd1"', 'name = "drbd0"'),
            "drbd.resources[1].name: duplicate 'drbd0' (as drbd.resources[0].name)",
        ),
        (("minor = 2", "minor = 1"), "drbd.resources[2].minor: duplicate 1"),
        (
            ("172.30.136.18", "172.30.136.16"),
            "drbd.resources[2].addresses.node06.c01.cloud.agarik.com: duplicate "
            "'172.30.136.16:7788' (as drbd.resources[1].addresses.node06.c01.cloud.agarik.com)",
        ),
        (
            ('vg = "volnode06"', 'vg = "volnode05"'),
            "vms[1].vg: volnode05 belongs to node05.c01.cloud.agarik.com, not to the VM's home "
            "node06.c01.cloud.agarik.com",
        ),
        (
            ('home = "node06.c01.cloud.agarik.com"\nvg', 'home = "node07"\nvg'),
            "vms[1].home: 'node07' is not a node",
        ),
        (('vg = "volnode06"', 'vg = "volnode99"'), "vms[1].vg: no volume group named 'volnode99'"),
        (
            ('agent = "fence_ipmilan"', 'agent = "fence_fake"'),
            "fencing.agent: dual-primary DRBD (drbd0, drbd1, drbd2) needs a fence agent that "
            "really fences, not 'fence_fake'",
        ),
        (
            (', "node06.c01.cloud.agarik.com" = "/dev/sdb3" }', " }"),
            "drbd.resources[2].disks: no entry for node node06.c01.cloud.agarik.com",
        ),
        (
            ('stack = "cman"', 'stack = "heartbeat"'),
            "cluster.stack: must be one of cman, pacemaker",
        ),
        (("[cluster]", "[cluster"), "Expected ']'"),
    ],
)
def test_bad_descriptions_are_refused_with_file_key_and_reason(tmp_path, change, expected):
    old, new = change
    assert old in GOOD
    description = tmp_path / "bad.toml"
    description.write_text(GOOD.replace(old, new, 1))
    run = kvmcluster("generate", str(description), "--output", str(tmp_path / "out"))
    assert run.returncode == 2
    assert f"{description}: {expected}" in run.stderr, run.stderr
    assert not (tmp_path / "out").exists(), "nothing is written for a bad description"


def test_fake_fencing_is_accepted_only_when_the_description_says_so(tmp_path):
    description = tmp_path / "risky.toml"
    description.write_text(
        GOOD.replace(
            'agent = "fence_ipmilan"',
            'agent = "fence_fake"\nallow_dual_primary_without_fencing = true',
        )
    )
    run = kvmcluster("generate", str(description), "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr


def test_never_overwrites_without_force_and_diff_writes_nothing(tmp_path):
    out = tmp_path / "out"
    assert kvmcluster("generate", SEED_TOML, "-o", str(out)).returncode == 0
    drbd = out / "etc/drbd.conf"
    drbd.write_text(drbd.read_text().replace("110M", "10M"))  # a local edit
    edited = drbd.read_text()
    refused = kvmcluster("generate", SEED_TOML, "-o", str(out))
    assert refused.returncode == 1
    assert "refusing to overwrite 1 existing file(s)" in refused.stderr
    assert "etc/drbd.conf" in refused.stderr and drbd.read_text() == edited
    preview = kvmcluster("generate", SEED_TOML, "-o", str(out), "--diff")
    assert preview.returncode == 1
    assert "-\t\tresync-rate 10M;\n+\t\tresync-rate 110M;" in preview.stdout
    assert drbd.read_text() == edited
    forced = kvmcluster("generate", SEED_TOML, "-o", str(out), "--force")
    assert forced.returncode == 0 and f"replaced  {drbd}" in forced.stdout
    assert "resync-rate 110M" in drbd.read_text()
    assert kvmcluster("generate", SEED_TOML, "-o", str(out), "--diff").returncode == 0


def test_an_interrupted_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "drbd.conf"
    target.write_text("old content\n")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_atomic(str(target), "new content\n")
    assert target.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["drbd.conf"], "no temporary file left"


# --- lint -----------------------------------------------------------------------------------


def test_lint_reports_all_three_defects_of_the_seed():
    run = kvmcluster(
        "lint",
        "--cluster-conf",
        fixture("cluster-conf_seed-as-is.conf"),
        "--drbd-conf",
        fixture("etc-drbd-conf_seed-84.conf"),
        "--hosts",
        fixture("etc-hosts_seed.txt"),
    )
    assert run.returncode == 2
    out = run.stdout
    assert run.stdout.startswith("LINT CRITICAL - ")
    # 1. the `<--` comment is not XML
    assert (
        "cluster-conf_seed-as-is.conf:35: error: not well-formed XML: "
        "StartTag: invalid element name" in out
    )
    # 2. failover domains name node03/node04
    assert re.search(
        r":26: error: failover domain kvm_node05 names node03.c01.cloud.agarik.com, which "
        r"is not a cluster node",
        out,
    )
    # 3. dual-primary DRBD with fencing dont-care and a fence agent that always says success
    assert (
        "etc-drbd-conf_seed-84.conf:18: error: resources drbd0, drbd1, drbd2: dual-primary "
        "(allow-two-primaries) with fencing dont-care"
    ) in out
    assert "every fence device is fence_fake, which cannot fence" in out
    assert "after-sb-1pri discard-secondary discards the data of a node that was Primary" in out


def test_lint_checks_names_across_files(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("172.30.136.13 node05 node05.c01.cloud.agarik.com\n")
    run = kvmcluster(
        "lint",
        "--cluster-conf",
        fixture("cluster-conf_seed-fixed.conf"),
        "--drbd-conf",
        fixture("etc-drbd-conf_seed-84.conf"),
        "--hosts",
        str(hosts),
    )
    assert run.returncode == 2
    assert (f"{hosts}:1: error: {N05} is not the first name on its line") in run.stdout
    assert f"{hosts}: error: cluster node {N06} is not in the hosts file" in run.stdout
    assert f"resource drbd0: host {N06} is not in the hosts file" in run.stdout


def test_lint_finds_duplicate_endpoints_and_foreign_host_names(tmp_path):
    conf = tmp_path / "drbd.conf"
    conf.write_text(
        Path(fixture("etc-drbd-conf_seed-84.conf"))
        .read_text()
        .replace("172.30.136.15:7788", "172.30.136.13:7788")
        .replace(
            "on node06.c01.cloud.agarik.com {\n\t\tdisk /dev/sdb3", "on node6 {\n\t\tdisk /dev/sdb3"
        )
    )
    run = kvmcluster(
        "lint", "--cluster-conf", fixture("cluster-conf_seed-fixed.conf"), "--drbd-conf", str(conf)
    )
    assert "resource drbd1: address 172.30.136.13:7788 is also used by drbd0 on" in run.stdout
    assert "resource drbd2: 'on node6' is not a cluster node name" in run.stdout


def test_lint_exit_codes_for_warnings_and_unreadable_input(tmp_path):
    conf = tmp_path / "cluster.conf"
    conf.write_text(Path(fixture("cluster-conf_seed-fixed.conf")).read_text())
    warnings_only = kvmcluster("lint", "--cluster-conf", str(conf))
    assert warnings_only.returncode == 1  # fence_fake, without dual-primary DRBD known
    assert warnings_only.stdout.startswith("LINT WARNING - 0 error(s), 1 warning(s)")
    missing = kvmcluster("lint", "--cluster-conf", str(tmp_path / "nope.conf"))
    assert missing.returncode == 3 and missing.stdout.startswith("LINT UNKNOWN - ")
    assert kvmcluster("lint", "--root", str(tmp_path)).returncode == 3  # none of a node's files


def test_lint_schema_errors_carry_lines(tmp_path):
    conf = tmp_path / "cluster.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<cluster name="c" config_version="2">\n<clusternodes>\n'
        '<clusternode name="a" nodeid="zero"/>\n</clusternodes>\n<cman two_node="1"/>\n</cluster>\n'
    )
    run = kvmcluster("lint", "--cluster-conf", str(conf))
    assert run.returncode == 2
    assert f"{conf}:4: error: schema: Type positiveInteger doesn't allow value 'zero'" in run.stdout
    assert f'{conf}:6: error: two_node="1" needs expected_votes="1"' in run.stdout
    assert f"{conf}:4: error: node a has no fence method" in run.stdout


# --- import ---------------------------------------------------------------------------------


def test_import_then_generate_reproduces_nodes_domains_vms_and_resources(tmp_path):
    run = kvmcluster(
        "import",
        "--cluster-conf",
        fixture("cluster-conf_seed-fixed.conf"),
        "--drbd-conf",
        fixture("etc-drbd-conf_seed-84.conf"),
        "--hosts",
        fixture("etc-hosts_seed.txt"),
        "--output",
        str(tmp_path / "imported.toml"),
    )
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out"
    gen = kvmcluster("generate", str(tmp_path / "imported.toml"), "-o", str(out))
    assert gen.returncode == 0, gen.stderr
    before = parse_cluster_conf(Path(fixture("cluster-conf_seed-fixed.conf")).read_text())
    after = parse_cluster_conf((out / "etc/cluster/cluster.conf").read_text())
    assert after.name == before.name and after.nodes == before.nodes
    assert {n: d.ranked() for n, d in after.domains.items()} == {
        n: d.ranked() for n, d in before.domains.items()
    }
    assert [(v.name, v.domain, v.autostart, v.recovery) for v in after.vms] == [
        (v.name, v.domain, v.autostart, v.recovery) for v in before.vms
    ]
    original = read_drbd_conf(fixture("etc-drbd-conf_seed-84.conf"))
    regenerated = read_drbd_conf(str(out / "etc/drbd.conf"))
    for node in (N05, N06):
        assert [(r.name, r.minors) for r in configured_resources(regenerated, {node})] == [
            (r.name, r.minors) for r in configured_resources(original, {node})
        ]
    assert "allow_dual_primary_without_fencing = true" in (tmp_path / "imported.toml").read_text()


def test_import_takes_a_cluster_conf_with_defects_and_warns():
    run = kvmcluster(
        "import",
        "--cluster-conf",
        fixture("cluster-conf_seed-comment-fixed.conf"),
        "--drbd-conf",
        fixture("etc-drbd-conf_seed-84.conf"),
    )
    assert run.returncode == 0, run.stderr
    assert "kvmcluster import: warning: " in run.stderr
    assert "failover domain kvm_node06 (line 29) names node04.c01.cloud.agarik.com" in run.stderr
    assert "# WARNING: " in run.stdout
