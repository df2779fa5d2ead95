"""kvmcluster status and collect: same states as the plugins, a documented JSON schema, and a
capture of this machine that lists what it lacks instead of failing."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.plugin_runner import FIXTURES, REPO, fixture, plugin_command, run_plugin

EXAMPLES = REPO / "examples" / "captures"
SCHEMA = json.loads((REPO / "kvmcluster" / "schemas" / "status.schema.json").read_text())
STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def status_json(*args: str) -> tuple[int, dict]:
    run = run_plugin("kvmcluster", "status", "--json", *args)
    return run.returncode, json.loads(run.stdout)


def validate(document: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(document, SCHEMA)


def test_json_follows_the_documented_schema_and_exit_code_is_the_worst_state():
    code, document = status_json("--from", str(EXAMPLES / "split-brain"))
    validate(document)
    assert code == 2 and document["state"] == "CRITICAL" and document["exit_code"] == 2
    areas = {a["name"]: a for a in document["areas"]}
    assert areas["drbd"]["state"] == "CRITICAL"
    assert areas["drbd"]["summary"].startswith("drbd0 StandAlone (possible split brain)")
    assert any("discard-my-data" in tip for tip in areas["drbd"]["advice"])
    assert areas["vm_alloc"]["state"] == "WARNING"
    assert {p["label"] for p in areas["drbd"]["perfdata"]} >= {"drbd0_oos", "drbd1_sync"}
    healthy_code, healthy = status_json("--from", str(EXAMPLES / "healthy"))
    validate(healthy)
    assert healthy_code == 0 and {a["state"] for a in healthy["areas"]} == {"OK"}


def build_capture(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir()
    for name, source in files.items():
        shutil.copy(fixture(source), directory / name)
    return directory


SCENARIOS = [
    # capture file -> fixture, and the plugin runs that must agree with status
    (
        "drbd",
        {"proc-drbd.txt": "proc-drbd_84-standalone-split-brain.txt"},
        ["check_drbd", "--proc-file", "proc-drbd.txt"],
    ),
    (
        "drbd",
        {
            "proc-drbd.txt": "proc-drbd_9-version-only.txt",
            "drbdsetup-status.json": "drbdsetup-status-json_9-sync-target.json",
        },
        ["check_drbd", "--json-file", "drbdsetup-status.json"],
    ),
    (
        "cluster",
        {
            "cman-tool-status.txt": "cman-tool-status_inquorate-activity-blocked.txt",
            "cman-tool-nodes.txt": "cman-tool-nodes_three-nodes-disallowed-qdisk.txt",
        },
        [
            "check_cluster",
            "--cman-status-file",
            "cman-tool-status.txt",
            "--cman-nodes-file",
            "cman-tool-nodes.txt",
        ],
    ),
    (
        "cluster",
        {
            "crm-mon.xml": "crm-mon_seed-node06-standby.xml",
            "corosync-quorumtool.txt": "corosync-quorumtool_3-quorate.txt",
        },
        [
            "check_cluster",
            "--crm-mon-file",
            "crm-mon.xml",
            "--quorumtool-file",
            "corosync-quorumtool.txt",
        ],
    ),
    (
        "services",
        {"clustat.xml": "clustat-x_411-qdisk-services-in-trouble.xml"},
        ["check_cluster_services", "--clustat-file", "clustat.xml"],
    ),
    (
        "services",
        {
            "crm-mon.xml": "crm-mon_seed-moved-disabled-unmanaged.xml",
            "cib.xml": "cib_seed-moved-disabled-unmanaged.xml",
        },
        ["check_cluster_services", "--crm-mon-file", "crm-mon.xml", "--cib-file", "cib.xml"],
    ),
    (
        "daemons",
        {
            "ps.txt": "ps_rhcs-node-rgmanager-worker-zombie.txt",
            "uptime.txt": "proc-uptime_42-minutes.txt",
        },
        ["check_cluster_daemons", "--ps-file", "ps.txt", "--uptime-file", "uptime.txt"],
    ),
    (
        "lvm",
        {
            "vgs.txt": "vgs_rhel6-volnode05-not-clustered.txt",
            "pvs.txt": "pvs_rhel6-clustered-on-drbd.txt",
            "lvmconfig.txt": "lvm-conf_rhel6-clustered-filtered.conf",
            "drbd.conf": "etc-drbd-conf_seed-84.conf",
        },
        [
            "check_cluster_lvm",
            "--vgs-file",
            "vgs.txt",
            "--pvs-file",
            "pvs.txt",
            "--lvm-conf-file",
            "lvmconfig.txt",
            "--drbd-conf",
            "drbd.conf",
        ],
    ),
]


@pytest.mark.parametrize(
    "area, files, plugin", SCENARIOS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SCENARIOS)]
)
def test_status_gives_the_same_state_and_summary_as_the_plugin(tmp_path, area, files, plugin):
    capture = build_capture(tmp_path / "capture", files)
    args = [str(capture / a) if (capture / a).exists() else a for a in plugin[1:]]
    run = run_plugin(plugin[0], *args)
    _, document = status_json("--from", str(capture))
    found = next(a for a in document["areas"] if a["name"] == area)
    assert STATES[found["state"]] == run.returncode
    assert run.first_line.split(" - ", 1)[1] == found["summary"]


def test_status_reads_a_tar_gz_capture_and_skips_what_was_not_captured(tmp_path):
    archive = tmp_path / "capture.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(EXAMPLES / "split-brain", arcname="kvmcluster-node05-x")
    code, document = status_json("--from", str(archive))
    assert code == 2 and document["node"] == "node05.c01.cloud.agarik.com"
    partial = build_capture(
        tmp_path / "partial", {"ps.txt": "ps_pacemaker-debian12-all-running.txt"}
    )
    code, document = status_json("--from", str(partial))
    assert [a["name"] for a in document["areas"] if a["captured"]] == ["daemons"]
    assert code == 0


def test_unsafe_archive_members_are_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    (tmp_path / "x").write_text("x")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "x", arcname="../../etc/evil")
    run = run_plugin("kvmcluster", "status", "--from", str(archive))
    assert run.returncode == 3 and "unsafe member" in run.stderr


def test_text_output_lists_problems_first_and_uses_no_colour_when_piped():
    run = run_plugin("kvmcluster", "status", "--from", str(EXAMPLES / "split-brain"))
    lines = run.stdout.splitlines()
    assert lines[0].startswith("kvmcluster status: CRITICAL   node node05.c01.cloud.agarik.com")
    assert lines[2].startswith("DRBD                     CRITICAL  drbd0 StandAlone")
    assert "\033[" not in run.stdout
    verbose = run_plugin("kvmcluster", "status", "-v", "--from", str(EXAMPLES / "healthy"))
    assert (
        "    ok       drbd0 (minor 0): Primary UpToDate; peer Connected Primary UpToDate"
        in verbose.stdout
    )


def test_watch_refreshes_until_interrupted():
    proc = subprocess.Popen(
        [
            *plugin_command("kvmcluster"),
            "status",
            "--watch",
            "0.3",
            "--from",
            str(EXAMPLES / "healthy"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        out, _ = proc.communicate(timeout=2.5)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, _ = proc.communicate(timeout=5)
    assert out.count("kvmcluster status: OK") >= 2


def test_collect_on_this_machine_lists_every_missing_tool(tmp_path):
    archive = tmp_path / "node.tar.gz"
    run = run_plugin("kvmcluster", "collect", "--output", str(archive))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"wrote {archive}: ")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest_name = next(n for n in names if n.endswith("/MANIFEST.json"))
        manifest = json.load(tar.extractfile(manifest_name))
    entries = {e["file"]: e for e in manifest["inputs"]}
    assert entries["ps.txt"]["status"] == "ok" and entries["uptime.txt"]["status"] == "ok"
    for tool_file, tool in (("cman-tool-status.txt", "cman_tool"), ("clustat.xml", "clustat")):
        if shutil.which(tool) is None:
            assert entries[tool_file]["status"] == "missing"
            assert f"{tool} not found" in entries[tool_file]["reason"]
    if not Path("/proc/drbd").exists():
        assert entries["proc-drbd.txt"]["reason"] == "/proc/drbd: no such file"
    assert all(e["status"] in ("ok", "missing", "failed") for e in manifest["inputs"])
    code, document = status_json("--from", str(archive))
    validate(document)
    areas = {a["name"]: a for a in document["areas"]}
    assert areas["daemons"]["captured"] is True
    if not Path("/proc/drbd").exists():
        assert areas["drbd"]["summary"] == "DRBD kernel module not loaded (no /proc/drbd)"
    refused = run_plugin("kvmcluster", "collect", "--output", str(archive))
    assert refused.returncode == 1 and "exists" in refused.stderr


def test_fixture_dir_is_not_a_capture():
    run = run_plugin("kvmcluster", "status", "--from", "/nonexistent/capture")
    assert run.returncode == 3 and "no such file or directory" in run.stderr
    assert FIXTURES.exists()
