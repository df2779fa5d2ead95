"""Mistakes explained: a file of the wrong format for its option says what it looks like and
which option takes it; status --from a file that is no capture says so in one line; a user who
may not read the cluster is told permission denied and how to fix it, not "start corosync"
(the real crm_mon and corosync-quorumtool as nobody against a real cluster); a capture of a node
after a reboot, nothing of its stack running, still shows which stack it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmcluster.parsers.sniff import looks_like, misplaced
from tests import live_pacemaker
from tests.plugin_runner import FIXTURES, fixture, run_plugin

JSON = fixture("drbdsetup-status-json_9-ok.json")
PVS = fixture("pvs_rhel6-clustered-on-drbd.txt")
VGS = fixture("vgs_rhel6-clustered-on-drbd.txt")
CIB = fixture("cib_seed-healthy.xml")
CRM_MON = fixture("crm-mon_20-all-resources.xml")
CLUSTAT = fixture("clustat-x_411-all-started.xml")
PS = fixture("ps_rhcs-node-all-running.txt")
PROC = fixture("proc-drbd_84-dual-primary-ok.txt")


@pytest.mark.parametrize(
    "command, args, state, words",
    [
        (
            "check_drbd",
            ["--proc-file", JSON],
            "UNKNOWN",
            "(it looks like `drbdsetup status --json` output: give it to check_drbd --json-file)",
        ),
        (
            "check_drbd",
            ["--json-file", PROC],
            "UNKNOWN",
            "(it looks like /proc/drbd: give it to check_drbd --proc-file)",
        ),
        (
            "check_cluster_lvm",
            ["--vgs-file", PVS, "--pvs-file", PVS],
            "UNKNOWN",
            "(it looks like pvs output: give it to --pvs-file)",
        ),
        (
            "check_cluster_lvm",
            ["--vgs-file", VGS, "--pvs-file", VGS],
            "UNKNOWN",
            "(it looks like vgs output: give it to --vgs-file)",
        ),
        (
            "check_vm_alloc",
            ["--cluster-conf", CIB, "--clustat-file", CLUSTAT],
            "CRITICAL",  # the cluster's config unusable: as before, now explained
            "(it looks like a Pacemaker CIB (cibadmin -Q): give it to --cib-file)",
        ),
        (
            "check_cluster_daemons",
            ["--ps-file", PS, "--uptime-file", PS],
            "UNKNOWN",
            "(it looks like ps output: give it to --ps-file)",
        ),
        (
            "check_cluster_services",
            ["--crm-mon-file", CRM_MON, "--cib-file", CRM_MON],
            "UNKNOWN",
            "(it looks like crm_mon XML: give it to --crm-mon-file)",
        ),
        (
            "check_cluster_services",
            ["--crm-mon-file", CIB],
            "UNKNOWN",
            "(it looks like a Pacemaker CIB (cibadmin -Q): give it to --cib-file)",
        ),
        (
            "check_cluster",
            ["--crm-mon-file", CLUSTAT],
            "UNKNOWN",
            "(it looks like clustat -x XML: give it to --clustat-file)",
        ),
    ],
)
def test_a_file_of_the_wrong_format_names_the_option_it_belongs_to(command, args, state, words):
    run = run_plugin(command, *args)
    assert run.returncode == {"CRITICAL": 2, "UNKNOWN": 3}[state], run
    assert f" {state} - " in run.first_line and words in run.first_line, run
    assert len(run.stdout.split(" | ")[0].splitlines()) == 1


def test_ps_output_is_no_uptime_any_more():
    """It read as uptime=1s OK: the first word of ps output is a pid."""
    run = run_plugin("check_cluster_daemons", "--ps-file", PS, "--uptime-file", PS)
    assert "uptime=1s" not in run.stdout
    ok = run_plugin("check_cluster_daemons", "--ps-file", PS, "--uptime-file",
                    fixture("proc-uptime_42-minutes.txt"))  # fmt: skip
    assert ok.returncode == 0 and "uptime=2520s" in ok.stdout, ok


def test_a_right_file_costs_no_sniffing_and_gets_no_hint():
    assert misplaced(Path(PROC).read_text(), "/proc/drbd") == ""
    assert misplaced("garbage garbage\n", "/proc/drbd") == ""  # nothing known: no guess


def test_the_sniffer_knows_the_fixtures_by_their_family():
    families = {
        "proc-drbd_": "proc-drbd",
        "drbdsetup-status-json_": "drbd-json",
        "drbdadm-status_": "drbd-status",
        "cib_": "cib",
        "crm-mon_": "crm_mon",
        "clustat-x_": "clustat",
        "cluster-conf_": "cluster.conf",
        "pvs_": "pvs",
        "vgs_": "vgs",
        "lvs_": "lvs",
        "ps_": "ps",
        "proc-uptime_": "uptime",
        "corosync-cfgtool_": "cfgtool",
        "cman-tool-nodes_": "cman-nodes",
        "lvm-conf_": "lvm.conf",
    }
    checked = 0
    for path in sorted(Path(FIXTURES).iterdir()):
        kind = next((k for prefix, k in families.items() if path.name.startswith(prefix)), None)
        if kind is None or not path.is_file():
            continue
        assert looks_like(path.read_bytes()) == kind, path.name
        checked += 1
    assert checked >= 100


@pytest.mark.parametrize(
    "path, words",
    [
        (PVS, "it looks like pvs output: give it to --pvs-file"),
        (CIB, "it looks like a Pacemaker CIB (cibadmin -Q): give it to --cib-file"),
        (fixture("etc-hosts_seed.txt"), "its content is not recognised"),
    ],
)
def test_status_from_a_file_that_is_no_capture_says_so_in_one_line(path, words):
    run = run_plugin("kvmcluster", "status", "--from", path)
    assert run.returncode == 3, run
    (line,) = run.stderr.splitlines()
    assert line == (
        f"kvmcluster status: capture {path}: not a capture (a directory, or the .tar.gz of "
        f"kvmcluster collect): {words}"
    )


def test_a_capture_of_a_node_after_a_reboot_is_known_by_its_traces():
    """Nothing of the stack runs; `tail -f /var/log/cluster/rgmanager.log` and the SysV udevd
    say cman/rgmanager: the README's line, from the capture alone."""
    run = run_plugin(
        "check_cluster_daemons",
        "--ps-file",
        fixture("ps_rhcs-node-after-reboot.txt"),
        "--uptime-file",
        fixture("proc-uptime_42-minutes.txt"),
    )
    assert run.returncode == 2, run
    assert run.stdout.strip() == (
        "DAEMONS CRITICAL - cluster stack not started after the reboot (up 42m): service cman "
        "start; service clvmd start; service rgmanager start; service ricci start | "
        "expected=9;;;0 running=3;;;0;9 missing=6;;0;0;9 uptime=2520s;;;0"
    )


def test_a_capture_without_any_trace_still_asks_for_the_profile(tmp_path):
    plain = tmp_path / "ps.txt"
    plain.write_text(
        "    1     0 Ss   /lib/systemd/systemd\n  402     1 Ss   /lib/systemd/journald\n"
    )
    run = run_plugin("check_cluster_daemons", "--ps-file", str(plain))
    assert run.returncode == 3 and "give --profile rhcs, pacemaker or libvirt" in run.first_line


DENIED = "permission denied: the cluster runs but this user may not read it"
FIX = "use --sudo with icinga/sudoers, run as root, or add the user to group haclient"


def test_the_real_crm_mon_of_a_user_without_rights_is_permission_denied():
    """crm_mon 2.1.5 run as nobody against a running cluster (fixture): status 4."""
    run = run_plugin(
        "check_cluster", "--crm-mon-file", fixture("crm-mon_21-nobody-insufficient-privileges.xml")
    )
    assert run.returncode == 3, run
    assert DENIED in run.first_line and FIX in run.first_line, run
    assert "start" not in run.first_line.split(FIX)[0], run


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    test_cluster = live_pacemaker.TestCluster(tmp_path_factory.mktemp("pacemaker-e21"))
    try:
        test_cluster.start()
        yield test_cluster
    finally:
        test_cluster.close()


@pytest.mark.real
@pytest.mark.skipif(live_pacemaker.why_not() is not None, reason=str(live_pacemaker.why_not()))
def test_check_cluster_as_a_user_who_may_not_read_the_cluster_says_permission_denied(cluster):
    """The real corosync-quorumtool says "Cannot initialize CMAP service" to nobody, as when
    corosync is down; crm_mon tells them apart."""
    prefix = [*cluster.enter, "runuser", "-u", "nobody", "--"]
    run = run_plugin("check_cluster", "--stack", "pacemaker", prefix=prefix)
    assert run.returncode == 3, run
    assert run.first_line.startswith(f"CLUSTER UNKNOWN - {DENIED} (corosync-quorumtool: "), run
    assert FIX in run.first_line and "crm_mon: Insufficient privileges" in run.first_line, run
    as_root = run_plugin("check_cluster", "--stack", "pacemaker", prefix=cluster.enter)
    assert as_root.returncode == 0, as_root


@pytest.mark.real
@pytest.mark.skipif(live_pacemaker.why_not() is not None, reason=str(live_pacemaker.why_not()))
def test_check_cluster_services_as_a_user_without_rights_says_permission_denied(cluster):
    prefix = [*cluster.enter, "runuser", "-u", "nobody", "--"]
    run = run_plugin("check_cluster_services", "--stack", "pacemaker", prefix=prefix)
    assert run.returncode == 3, run
    assert DENIED in run.first_line and FIX in run.first_line, run


@pytest.mark.real
@pytest.mark.skipif(live_pacemaker.why_not() is not None, reason=str(live_pacemaker.why_not()))
def test_check_vm_alloc_as_a_user_without_rights_says_permission_denied(cluster):
    """check_vm_alloc reads crm_mon too: its status 4 is the same permission denied."""
    prefix = [*cluster.enter, "runuser", "-u", "nobody", "--"]
    run = run_plugin("check_vm_alloc", "--stack", "pacemaker", prefix=prefix)
    assert run.returncode == 3, run
    assert DENIED in run.first_line and FIX in run.first_line, run
