"""kvmcluster import on the seed's own files: its defects imported as warnings, the admin
address kept apart from the interconnect, the result accepted by generate."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.plugin_runner import fixture, plugin_command, run_plugin

N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"
DRBD = fixture("etc-drbd-conf_seed-84.conf")


def kvmcluster(*args):
    return run_plugin("kvmcluster", *args)


def _import(tmp_path: Path, cluster_conf: str, *extra: str):
    out = tmp_path / "imported.toml"
    run = kvmcluster(
        "import", "--cluster-conf", fixture(cluster_conf), "--drbd-conf", DRBD, "-o", str(out),
        *extra,
    )  # fmt: skip
    return run, out


def _generate(tmp_path: Path, description: Path) -> Path:
    out = tmp_path / "generated"
    gen = kvmcluster("generate", str(description), "-o", str(out))
    assert gen.returncode == 0, gen.stderr
    return out


def test_the_seeds_cluster_conf_as_it_is_imports_with_its_defects_as_warnings(tmp_path):
    run, out = _import(
        tmp_path, "cluster-conf_seed-as-is.conf", "--hosts", fixture("etc-hosts_seed.txt")
    )
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line]
    assert all(w.startswith("kvmcluster import: warning: ") for w in warnings), warnings
    text = "\n".join(warnings)
    # the broken comment `<-- Exemple ...` on line 35, read in recovery
    assert "cluster-conf_seed-as-is.conf:35: not well-formed XML" in text
    # the failover domains of node03/node04
    assert "failover domain kvm_node05 (line 25) names node03.c01.cloud.agarik.com" in text
    assert "fence agent fence_fake cannot fence" in text
    toml = out.read_text()
    assert toml.count("# WARNING: ") == len(warnings)
    # the VMs keep their home from the domain's name, and generate accepts the result
    generated = _generate(tmp_path, out)
    conf = (generated / "etc/cluster/cluster.conf").read_text()
    assert 'domain="kvm_node05"' in conf
    assert 'name="aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr"' in conf
    assert '<failoverdomainnode name="node03' not in conf, "the generated domains name our nodes"


def test_a_cluster_conf_that_is_not_xml_at_all_is_still_refused(tmp_path):
    bad = tmp_path / "cluster.conf"
    bad.write_text("this is not a cluster.conf\n")
    run = kvmcluster("import", "--cluster-conf", str(bad), "--drbd-conf", DRBD)
    assert run.returncode == 2
    assert run.stderr.startswith(f"kvmcluster import: cannot parse {bad}:1: not well-formed XML")


def test_a_cluster_conf_libxml2_recovers_into_a_tree_it_cannot_write_is_refused(tmp_path):
    """Found by the fuzz run (seed 9001, case 3446): character references libxml2's recovery
    keeps as broken text (&#0;, &#xD800;) made the import end in an internal error."""
    bad = tmp_path / "cluster.conf"
    seed = Path(fixture("cluster-conf_seed-restricted-nofailback-unknown-domain.conf")).read_text()
    head, _, _ = seed.partition("</method>")
    bad.write_text(head + "</method>&amp;&lt;&#0;&#x110000;&#xD800;&undefined;\n</fence>\n</")
    run = kvmcluster("import", "--cluster-conf", str(bad), "--drbd-conf", DRBD)
    assert run.returncode == 2, run
    assert run.stderr.startswith(f"kvmcluster import: cannot parse {bad}:"), run
    assert "internal error" not in run.stderr


def _icinga_addresses(generated: Path) -> dict[str, str]:
    hosts = (generated / "monitoring/icinga-hosts.conf").read_text()
    found, host = {}, None
    for line in hosts.splitlines():
        words = line.split()
        if line.startswith("object Host"):
            host = words[2].strip('"')
        if words[:2] == ["address", "="] and host:
            found[host] = words[2].strip('"')
    return found


def test_the_admin_address_and_not_the_interconnect_becomes_the_icinga_address(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text(
        Path(fixture("etc-hosts_seed.txt")).read_text() + "192.168.10.14\tnode05-admin\n"
    )
    run, out = _import(
        tmp_path, "cluster-conf_seed-fixed.conf", "--hosts", str(hosts),
        "--admin-address", f"{N06}=192.168.10.15",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "no admin address" not in run.stderr
    toml = out.read_text()
    assert 'cluster_address = "172.30.136.13"\nadmin_address = "192.168.10.14"' in toml
    assert 'cluster_address = "172.30.136.14"\nadmin_address = "192.168.10.15"' in toml
    addresses = _icinga_addresses(_generate(tmp_path, out))
    assert addresses == {N05: "192.168.10.14", N06: "192.168.10.15"}, addresses


def test_without_an_admin_address_the_import_says_where_icinga_would_look(tmp_path):
    run, _ = _import(
        tmp_path, "cluster-conf_seed-fixed.conf", "--hosts", fixture("etc-hosts_seed.txt")
    )
    assert run.returncode == 0
    assert (
        f"kvmcluster import: warning: node {N05}: no admin address (--admin-address NODE=IP, or "
        "a SHORT-admin line in --hosts): Icinga would check it on 172.30.136.13"
    ) in run.stderr


def test_an_admin_address_for_a_stranger_is_refused(tmp_path):
    run, _ = _import(tmp_path, "cluster-conf_seed-fixed.conf", "--admin-address", "node07=10.0.0.7")
    assert run.returncode == 2
    assert "--admin-address node07: not a node of" in run.stderr
    run, _ = _import(tmp_path, "cluster-conf_seed-fixed.conf", "--admin-address", "10.0.0.7")
    assert run.returncode == 2 and "expected NODE=IP" in run.stderr


def test_the_demo_runs_from_any_directory_on_the_captures_of_the_package(tmp_path):
    """`kvmcluster demo` without an argument, run from a directory without examples/."""
    proc = subprocess.run(
        [*plugin_command("kvmcluster"), "demo"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "=== healthy:" in proc.stdout and "=== split-brain:" in proc.stdout
    assert "kvmcluster status: CRITICAL" in proc.stdout
    assert "/kvmcluster/demo_captures/split-brain" in proc.stdout
