"""The cluster view (issue 17): `kvmcluster status --from CAP --from CAP`, a `collect --cluster`
archive, and `status --cluster` reading real sshd "nodes" on 127.0.0.1 whose tools print each
node's capture (a healthy pair, a node nobody answers for, a hung node, a node on the other
stack). JSON version 2 is validated with its schema; text and JSON agree on the state."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests import sshd_real
from tests.plugin_runner import FIXTURES, REPO, run_plugin

DEMO = REPO / "kvmcluster" / "demo_captures"
CLUSTER_FIXTURES = FIXTURES / "cluster"
SCHEMA = json.loads((REPO / "kvmcluster" / "schemas" / "status-cluster.schema.json").read_text())
SCHEMA_V1 = json.loads((REPO / "kvmcluster" / "schemas" / "status.schema.json").read_text())
N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"


def validate(document: dict, schema: dict = SCHEMA) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(document, schema)


def node_capture(tmp: Path, source: str, name: str, folder: str | None = None) -> Path:
    """A demo capture copied as the capture of node `name` (its hostname.txt)."""
    target = tmp / (folder or name)
    shutil.copytree(DEMO / source, target)
    (target / "hostname.txt").write_text(name + "\n")
    return target


def pacemaker_capture(tmp: Path, name: str) -> Path:
    """A Pacemaker node's capture built from real outputs of the seed cluster on Pacemaker."""
    target = tmp / name
    target.mkdir()
    for file, fixture in {
        "crm-mon.xml": "crm-mon_seed-healthy.xml",
        "cib.xml": "cib_seed-healthy.xml",
        "corosync-quorumtool.txt": "corosync-quorumtool_31-two-node-ok.txt",
        "corosync-cfgtool.txt": "corosync-cfgtool_31-two-links-ok.txt",
        "ps.txt": "ps_pacemaker-debian12-all-running.txt",
    }.items():
        shutil.copy(FIXTURES / fixture, target / file)
    (target / "hostname.txt").write_text(name + "\n")
    return target


def status(*args: str, env: dict | None = None):
    return run_plugin("kvmcluster", "status", "--no-color", *args, env=env)


def status_json(*args: str):
    run = run_plugin("kvmcluster", "status", "--json", *args)
    assert run.stdout, run.stderr
    return run.returncode, json.loads(run.stdout)


# --- from captures ----------------------------------------------------------------------------


def test_two_captures_are_one_screen_a_row_per_area_a_column_per_node(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "split-brain", N06)
    run = status("--from", str(a), "--from", str(b), env={"COLUMNS": "160"})
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("kvmcluster status --cluster: CRITICAL   2 nodes, captures ")
    assert lines[2].split() == ["node05", "node06"]  # the short names over the columns
    drbd = next(line for line in lines if line.startswith("DRBD "))
    assert "OK 3 resources Connected" in drbd and "CRITICAL drbd0 StandAlone" in drbd
    titles = [line.split("  ")[0] for line in lines[3:9]]
    assert titles == [
        "DRBD",
        "Quorum and membership",
        "Cluster services",
        "Daemons",
        "VM allocation",
        "LVM on DRBD",
    ]
    assert "Cluster findings" in lines


def test_a_reason_is_cut_to_the_column_with_an_ellipsis(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "split-brain", N06)
    run = status("--from", str(a), "--from", str(b), env={"COLUMNS": "80"})
    drbd = next(line for line in run.stdout.splitlines() if line.startswith("DRBD "))
    assert "…" in drbd and len(drbd) <= 80


def test_json_version_2_follows_its_schema_and_agrees_with_the_text(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "split-brain", N06)
    code, document = status_json("--from", str(a), "--from", str(b))
    validate(document)
    assert document["version"] == 2 and code == document["exit_code"] == 2
    assert [n["name"] for n in document["nodes"]] == [N05, N06]
    assert [n["state"] for n in document["nodes"]] == ["OK", "CRITICAL"]
    drbd = next(a for a in document["nodes"][1]["areas"] if a["name"] == "drbd")
    assert drbd["state"] == "CRITICAL" and drbd["summary"].startswith("drbd0 StandAlone")
    text = status("--from", str(a), "--from", str(b))
    assert text.returncode == code
    assert text.stdout.startswith(f"kvmcluster status --cluster: {document['state']} ")


def test_a_healthy_pair_is_ok_and_has_no_cluster_finding(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "healthy", N06)
    run = status("--from", str(a), "--from", str(b))
    assert run.returncode == 0, run.stdout
    assert run.stdout.splitlines()[0].startswith("kvmcluster status --cluster: OK ")
    assert "    no cluster finding" in run.stdout.splitlines()


def test_one_capture_stays_the_single_node_version_1(tmp_path):
    code, document = status_json("--from", str(DEMO / "split-brain"))
    validate(document, SCHEMA_V1)
    assert document["version"] == 1 and code == 2 and "nodes" not in document
    run = status("--from", str(DEMO / "split-brain"))
    assert run.stdout.startswith("kvmcluster status: CRITICAL   node ")


def test_verbose_lists_each_nodes_problems_under_the_table(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "split-brain", N06)
    run = status("-v", "--from", str(a), "--from", str(b))
    lines = run.stdout.splitlines()
    at = lines.index(f"{N06}:")
    assert any("critical DRBD: drbd0" in line for line in lines[at : at + 5])
    assert f"{N05}:" not in lines  # nothing wrong there


def test_two_captures_of_one_node_are_refused_with_one_line(tmp_path):
    a = node_capture(tmp_path, "healthy", N05, "a")
    b = node_capture(tmp_path, "healthy", N05, "b")
    run = status("--from", str(a), "--from", str(b))
    assert run.returncode == 3 and run.stdout == ""
    assert run.stderr.strip().startswith(f"kvmcluster status: two captures of node {N05}")
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_name_inside_a_capture_is_escaped_on_the_screen(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "healthy", "evil\x1b[31m\nKVMCLUSTER OK", "b")
    run = status("--from", str(a), "--from", str(b), env={"COLUMNS": "200"})
    assert "\x1b" not in run.stdout and "\nKVMCLUSTER OK" not in run.stdout
    assert "evil\\x1b[31m\\nKVMCLUSTER OK" in run.stdout


def cluster_archive(tmp: Path, nodes: dict[str, Path | None], manifest_nodes=None) -> Path:
    """An archive laid out as collect --cluster writes one (None: a node not read)."""
    top = tmp / "kvmcluster-cluster-20261201-100000"
    top.mkdir()
    entries = []
    for name, capture in nodes.items():
        if capture is None:
            entries.append({"name": name, "folder": "", "reachable": False, "error": "refused"})
            continue
        shutil.copytree(capture, top / name)
        entries.append({"name": name, "folder": name, "reachable": True, "error": ""})
    manifest = {"version": 1, "kind": "cluster", "nodes": manifest_nodes or entries}
    (top / "MANIFEST.json").write_text(json.dumps(manifest))
    archive = tmp / "cluster.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    return archive


def test_a_collect_cluster_archive_given_once_is_the_cluster_view(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    a = node_capture(src, "healthy", N05)
    archive = cluster_archive(tmp_path, {N05: a, N06: None})
    code, document = status_json("--from", str(archive))
    validate(document)
    assert [(n["name"], n["reachable"]) for n in document["nodes"]] == [(N05, True), (N06, False)]
    assert document["nodes"][1]["error"] == "refused" and document["nodes"][1]["state"] == "UNKNOWN"
    # the view is incomplete: at least WARNING, though every node read is OK
    assert code == 1 and document["state"] == "WARNING"
    text = status("--from", str(archive), env={"COLUMNS": "160"})
    assert text.returncode == 1
    drbd = next(line for line in text.stdout.splitlines() if line.startswith("DRBD "))
    assert drbd.endswith("UNKNOWN unreachable: refused")  # said once, in the first row
    assert text.stdout.count("unreachable") == 1


@pytest.mark.parametrize("folder", ["../etc", "/etc", "a/b", ".."])
def test_folder_names_inside_an_archive_are_data_not_paths(tmp_path, folder):
    src = tmp_path / "src"
    src.mkdir()
    a = node_capture(src, "healthy", N05)
    entries = [{"name": N05, "folder": folder, "reachable": True, "error": ""}]
    archive = cluster_archive(tmp_path, {N05: a}, entries)
    code, document = status_json("--from", str(archive))
    assert document["nodes"][0]["reachable"] is False
    assert document["nodes"][0]["error"] == "its folder is not in the capture"


def test_a_node_name_in_the_archive_manifest_that_is_not_a_host_name_is_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    a = node_capture(src, "healthy", N05)
    entries = [{"name": "-oProxyCommand=x", "folder": N05, "reachable": True, "error": ""}]
    archive = cluster_archive(tmp_path, {N05: a}, entries)
    run = status("--from", str(archive))
    assert run.returncode == 3 and "is not a plain host name" in run.stderr


def test_openmetrics_of_the_cluster_view_has_reachability_and_correlations(tmp_path):
    a = node_capture(tmp_path, "healthy", N05)
    b = node_capture(tmp_path, "split-brain", N06)
    run = status("--format", "openmetrics", "--from", str(a), "--from", str(b))
    assert run.returncode == 2
    lines = run.stdout.splitlines()
    assert lines[-1] == "# EOF"
    assert f'kvmcluster_node_reachable{{node="{N05}"}} 1' in lines
    assert f'kvmcluster_area_state{{node="{N06}",area="drbd"}} 2' in lines
    assert "# TYPE kvmcluster_correlation_state gauge" in lines


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus)")
def test_promtool_accepts_the_cluster_textfile(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    a = node_capture(src, "healthy", N05)
    b = node_capture(src, "split-brain", N06)
    archive = cluster_archive(tmp_path, {N05: a, N06: b, "node07": None})
    out = tmp_path / "textfile"
    out.mkdir()
    run = status("--textfile", str(out), "--from", str(archive))
    assert run.returncode == 0, run.stderr
    # its own file (beside a node's own kvmcluster.prom), the view's families only
    assert [p.name for p in out.iterdir()] == ["kvmcluster-cluster.prom"]
    text = (out / "kvmcluster-cluster.prom").read_text()
    assert 'kvmcluster_node_reachable{node="node07"} 0' in text
    assert "kvmcluster_area_state" not in text
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.skipif(not CLUSTER_FIXTURES.is_dir(), reason="no two-node fixture captures yet")
def test_every_two_node_fixture_validates_and_text_agrees(tmp_path):
    scenarios = sorted(p for p in CLUSTER_FIXTURES.iterdir() if p.is_dir())
    assert scenarios
    for scenario in scenarios:
        nodes = sorted(str(p) for p in scenario.iterdir() if p.is_dir())
        args = [arg for node in nodes for arg in ("--from", node)]
        code, document = status_json(*args)
        validate(document)
        assert code == document["exit_code"], scenario.name
        text = status(*args)
        assert text.returncode == code
        assert text.stdout.startswith(f"kvmcluster status --cluster: {document['state']} ")


# --- the parts, in process ---------------------------------------------------------------------


def test_node_discovery_parsers_read_the_names_in_file_order():
    from kvmcluster.parsers.cluster_nodes import (
        nodes_from_cib,
        nodes_from_cluster_conf,
        nodes_from_corosync_conf,
    )

    conf = (DEMO / "healthy" / "cluster.conf").read_text()
    assert nodes_from_cluster_conf(conf) == [N05, N06]
    cib = (FIXTURES / "cib_seed-healthy.xml").read_text()
    assert len(nodes_from_cib(cib)) == 2
    corosync = "nodelist {\n node {\n  ring0_addr: 10.0.0.5\n  name: node05\n }\n" + (
        " node {\n  ring0_addr: 10.0.0.6\n }\n}\n"
    )
    assert nodes_from_corosync_conf(corosync) == ["node05", "10.0.0.6"]


@pytest.mark.parametrize(
    "name",
    ["-oProxyCommand=touch /tmp/x", "node 05", "a;b", "", "node05\n-oX"],
)
def test_a_bad_name_from_a_config_file_is_a_column_saying_why_never_an_option(name):
    from kvmcluster.view.read import node_specs, read_live

    specs = node_specs([], [name, "node06"], [], here="node06")
    bad = specs[0] if name else None
    if bad is None:
        assert [s.name for s in specs] == ["node06"]
        return
    assert bad.target is None and "not a host name" in bad.error
    (reading,) = read_live([bad], 5)
    assert reading.reachable is False and "not a host name" in reading.error


def test_node_specs_local_by_name_ssh_otherwise_and_a_port_per_node():
    from kvmcluster.view.read import node_specs

    specs = node_specs(
        [("node05", None), ("node06", "root@127.0.0.1:2222"), ("node07", None)],
        [],
        ["Port=22", "IdentityFile=/k"],
        here="node05.example",
    )
    assert specs[0].target is None
    assert specs[1].target == "root@127.0.0.1" and specs[1].options == [
        "IdentityFile=/k",
        "Port=2222",
    ]
    assert specs[2].target == "node07" and "Port=22" in specs[2].options


def test_unreachable_nodes_make_the_view_at_least_warning_and_nothing_read_is_unknown():
    from kvmcluster.model.cluster_view import Correlation
    from kvmcluster.model.findings import State
    from kvmcluster.output.cluster_view import view_state
    from kvmcluster.view.read import read_captures, unreachable

    healthy = read_captures([str(DEMO / "healthy")], 10)
    assert view_state(healthy, []) == State.OK
    assert view_state(healthy + [unreachable("node06", "refused")], []) == State.WARNING
    assert view_state([unreachable("node05", "x"), unreachable("node06", "y")], []) == (
        State.UNKNOWN
    )
    split = Correlation("split-cluster", State.CRITICAL, "two partitions")
    assert view_state(healthy + [unreachable("node06", "x")], [split]) == State.CRITICAL


# --- live: real sshd nodes ---------------------------------------------------------------------

live = pytest.mark.skipif(not sshd_real.available(), reason="needs root, openssh server/client")


class Nodes:
    """Real sshd instances on 127.0.0.1, one per node, each printing a capture."""

    def __init__(self, root: Path):
        self.root = root
        self.key = root / "user_key"
        sshd_real.keygen(self.key)
        self.known_hosts = root / "known_hosts"
        self.known_hosts.write_text("")
        self.servers: list[sshd_real.Sshd] = []
        self.args: list[str] = []

    def add(self, name: str, capture: Path, hang: float = 0.0) -> sshd_real.Sshd:
        server = sshd_real.Sshd(
            self.root / f"v17-{name}", self.key, sshd_real.capture_tools(capture, hang)
        )
        self.servers.append(server)
        with open(self.known_hosts, "a") as known:
            known.write(server.known_host)
        self.args += ["--node", f"{name}=root@127.0.0.1:{server.port}"]
        libvirt = capture / f"libvirt-{name}.xml"
        if libvirt.is_file():
            self.args += ["--libvirt", f"{name}=test://{libvirt}"]
        return server

    def options(self) -> list[str]:
        return self.args + sshd_real.ssh_options(self.key, self.known_hosts)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def nodes(tmp_path):
    pool = Nodes(tmp_path)
    yield pool
    pool.stop()


@live
def test_live_healthy_pair_over_two_real_sshd(nodes, tmp_path):
    nodes.add(N05, node_capture(tmp_path, "healthy", N05))
    nodes.add(N06, node_capture(tmp_path, "healthy", N06))
    run = run_plugin("kvmcluster", "status", "--cluster", "--json", "-t", "20", *nodes.options())
    document = json.loads(run.stdout)
    validate(document)
    assert [(n["name"], n["reachable"]) for n in document["nodes"]] == [(N05, True), (N06, True)]
    for node in document["nodes"]:
        assert all(a["captured"] for a in node["areas"]), node
        assert {a["state"] for a in node["areas"]} == {"OK"}, node
    assert run.returncode == 0 and document["state"] == "OK"
    text = run_plugin("kvmcluster", "status", "--cluster", "-t", "20", *nodes.options())
    assert text.returncode == 0 and text.stdout.startswith("kvmcluster status --cluster: OK ")


@live
def test_live_node_nobody_answers_for_is_a_column_saying_why(nodes, tmp_path):
    nodes.add(N05, node_capture(tmp_path, "healthy", N05))
    closed = sshd_real.free_port()
    args = [*nodes.options(), "--node", f"{N06}=root@127.0.0.1:{closed}"]
    run = run_plugin("kvmcluster", "status", "--cluster", "--json", "-t", "10", *args)
    document = json.loads(run.stdout)
    validate(document)
    first, second = document["nodes"]
    assert first["reachable"] and {a["state"] for a in first["areas"]} == {"OK"}
    assert not second["reachable"] and "connection refused" in second["error"]
    assert run.returncode == 1 and document["state"] == "WARNING"


@live
def test_live_hung_node_is_cut_off_at_its_own_deadline(nodes, tmp_path):
    nodes.add(N05, node_capture(tmp_path, "healthy", N05))
    nodes.add(N06, node_capture(tmp_path, "healthy", N06), hang=30)
    started = time.monotonic()
    run = run_plugin("kvmcluster", "status", "--cluster", "--json", "-t", "10", *nodes.options())
    elapsed = time.monotonic() - started
    document = json.loads(run.stdout)
    validate(document)
    first, second = document["nodes"]
    assert first["reachable"], first
    assert all(a["captured"] for a in first["areas"]), first
    assert {a["state"] for a in first["areas"]} == {"OK"}
    # cut off by its own deadline (the tool killed), not given up by the view as a last resort
    assert not second["reachable"] and "its tools hangs" in second["error"], second
    assert elapsed < 10 + 2, elapsed
    assert run.returncode == 1


@live
def test_live_nodes_on_two_stacks(nodes, tmp_path):
    nodes.add(N05, node_capture(tmp_path, "healthy", N05))
    nodes.add("node06", pacemaker_capture(tmp_path, "node06"))
    run = run_plugin("kvmcluster", "status", "--cluster", "--json", "-t", "20", *nodes.options())
    document = json.loads(run.stdout)
    validate(document)
    cman, pacemaker = document["nodes"]
    assert cman["reachable"] and pacemaker["reachable"]
    cluster = {
        n["name"]: next(a for a in n["areas"] if a["name"] == "cluster") for n in (cman, pacemaker)
    }
    assert "cman" in json.dumps(cluster[N05]) or cluster[N05]["captured"]
    assert cluster["node06"]["captured"] and cluster["node06"]["state"] == "OK"
    daemons = next(a for a in pacemaker["areas"] if a["name"] == "daemons")
    assert "pacemaker" in daemons["summary"]
    daemons05 = next(a for a in cman["areas"] if a["name"] == "daemons")
    assert "rhcs" in daemons05["summary"]


@live
def test_live_collect_cluster_archive_reads_back_as_the_same_view(nodes, tmp_path):
    nodes.add(N05, node_capture(tmp_path, "healthy", N05))
    nodes.add(N06, node_capture(tmp_path, "split-brain", N06))
    archive = tmp_path / "out.tar.gz"
    run = run_plugin(
        "kvmcluster", "collect", "--cluster", "-o", str(archive), "-t", "20", *nodes.options()
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith(f"wrote {archive}: 2 of 2 nodes captured")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0]
    assert top.startswith("kvmcluster-cluster-")
    assert f"{top}/MANIFEST.json" in names and f"{top}/{N05}/hostname.txt" in names
    assert f"{top}/{N06}/dmesg.txt" not in names  # the capture had none: not captured
    code, document = status_json("--from", str(archive))
    validate(document)
    live_code, live_doc = status_json("--cluster", "-t", "20", *nodes.options())
    assert code == live_code == 2

    def strip(doc):
        return [
            (n["name"], [(a["name"], a.get("state")) for a in n["areas"]]) for n in doc["nodes"]
        ]

    assert strip(document) == strip(live_doc)


def test_version_2_areas_are_version_1_areas():
    """The schemas say the same of an area (version 2's $defs.area is version 1's)."""
    assert SCHEMA["$defs"]["area"] == SCHEMA_V1["properties"]["areas"]["items"]
    assert SCHEMA["$defs"]["state"] == SCHEMA_V1["$defs"]["state"]


@live
def test_live_nodes_discovered_from_the_ssh_nodes_cluster_conf(nodes, tmp_path):
    """Without --node, the nodes are those the node's cluster.conf names (here names that do
    not resolve on this machine: each a column saying so, the view not a failure)."""
    server = nodes.add(N05, node_capture(tmp_path, "healthy", N05))
    args = nodes.options()
    assert args[0] == "--node"
    args = args[2:]  # no --node: the nodes come from the node's configuration
    run = run_plugin(
        "kvmcluster", "status", "--cluster", "--json", "-t", "10",
        "--ssh", "root@127.0.0.1", "--ssh-option", f"Port={server.port}", *args,
    )  # fmt: skip
    document = json.loads(run.stdout)
    validate(document)
    assert [n["name"] for n in document["nodes"]] == [N05, N06]
    assert all(not n["reachable"] and "resolve" in n["error"] for n in document["nodes"])
    assert run.returncode == 3 and document["state"] == "UNKNOWN"  # no node read at all


@live
def test_live_collect_captures_corosync_conf_redacted_drbd_version_and_kernel_log(nodes, tmp_path):
    capture = pacemaker_capture(tmp_path, "node06")
    (capture / "corosync.conf").write_text(
        "totem {\n  version: 2\n  cluster_name: c01\n  key: s3cr3t-shared-key\n}\n"
        "nodelist {\n  node {\n    name: node05\n  }\n  node {\n    name: node06\n  }\n}\n"
    )
    (capture / "drbdadm-version.txt").write_text(
        "DRBDADM_VERSION=9.22.0\nDRBD_KERNEL_VERSION=9.2.4\n"
    )
    (capture / "dmesg.txt").write_text("[  12.3] drbd r0: Split-Brain detected but unresolved\n")
    nodes.add("node06", capture)
    archive = tmp_path / "one.tar.gz"
    args = nodes.options()[2:]  # the node's ssh options, without --node
    port = nodes.servers[0].port
    run = run_plugin(
        "kvmcluster", "collect", "-o", str(archive), "-t", "20",
        "--ssh", "root@127.0.0.1", "--ssh-option", f"Port={port}", *args,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    with tarfile.open(archive) as tar:
        files = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name}
        text = {n: tar.extractfile(m).read().decode() for n, m in files.items() if m.isfile()}
    assert "s3cr3t" not in text["corosync.conf"] and "key: REDACTED" in text["corosync.conf"]
    assert "name: node06" in text["corosync.conf"]
    assert text["drbdadm-version.txt"].startswith("DRBDADM_VERSION=9.22.0")
    assert "Split-Brain detected" in text["dmesg.txt"]
    manifest = json.loads(text["MANIFEST.json"])
    assert manifest["redacted"] >= 1


@live
def test_live_watch_discovers_the_nodes_again_within_a_fresh_budget_each_refresh(nodes, tmp_path):
    import os
    import signal

    from tests.plugin_runner import plugin_command, plugin_env

    server = nodes.add(N05, node_capture(tmp_path, "healthy", N05))
    args = nodes.options()[2:]
    proc = subprocess.Popen(
        [
            *plugin_command("kvmcluster"), "status", "--cluster", "--no-color", "--watch", "1",
            "-t", "2", "--ssh", "root@127.0.0.1", "--ssh-option", f"Port={server.port}", *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=plugin_env(),
    )  # fmt: skip
    time.sleep(7)  # several refreshes after the first -t of 2 s is spent
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    screens = out.count("kvmcluster status --cluster: ")
    assert screens >= 3, out + err
    assert out.count(f"{N06}") >= screens and "no cluster nodes found" not in err, err
