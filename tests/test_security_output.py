"""Names from the input are data: a newline or a control character in a DRBD resource, a
node, a VM, a service, a volume group or a host name cannot forge a second status line nor
reach the terminal as an escape sequence. Each case runs the plugin (or kvmcluster status)
on a real fixture whose name was replaced by a hostile one, and on the fixture as it is:
same exit code, same number of lines, every line printable, the name shown escaped."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kvmcluster.model.findings import Perf, PerfColumns, PerfRow, printable
from kvmcluster.output.perfdata import quote_label, row_text, value_text
from tests.libvirt_nodes import VM200, domain, hypervisor
from tests.plugin_runner import FIXTURES, REPO, fixture, plugin_command, run_plugin

# what an attacker puts into a name, in each input syntax
FORGED = "\nOK - forged\x1b[31m\u2028x\u202e"  # JSON strings can say it all
FORGED_XML = "&#10;OK - forged&#x9b;31m&#x2028;x&#x202e;"  # XML 1.0 has no ESC: C1 CSI instead
FORGED_TEXT = "\x1b[31m\x9b1m\u202e\x7f"  # whitespace-separated text: no newline in a name
SHOWN = r"\nOK - forged\x1b[31m\u2028x\u202e"  # how the JSON name is printed
SHOWN_TEXT = r"\x1b[31m\x9b1m\u202e\x7f"


def variant(tmp_path: Path, name: str, replacements: dict[str, str]) -> str:
    """The fixture `name` with each key replaced by its value, as a file of the test."""
    text = (FIXTURES / name).read_text()
    for old, new in replacements.items():
        assert old in text, f"{old!r} not in {name}"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def assert_clean(output: str) -> None:
    """Every line printable: no ESC, no C1 control, no U+2028/2029, no bidi override; no
    line is a forged status line."""
    for line in output.split("\n"):
        assert line.isprintable(), f"unescaped control character in {line!r}"
        assert not line.startswith("OK - forged"), output
    assert "\x1b" not in output and "\r" not in output


def cases(tmp_path: Path) -> list[tuple[str, list[str], list[str], str]]:
    """(plugin, args on the fixtures, args on the hostile variants, how the name shows)."""
    json_name = json.dumps(FORGED)[1:-1]
    drbd = "drbdsetup-status-json_9-standalone.json"
    mon = "crm-mon_seed-node06-down.xml"
    failed = "crm-mon_seed-vm-monitor-failed.xml"
    trouble = "clustat-x_411-qdisk-services-in-trouble.xml"
    status, nodes = "cman-tool-status_quorate-two-node.txt", "cman-tool-nodes_node06-offline.txt"
    vgs, pvs = "vgs_rhel6-clustered-on-drbd.txt", "pvs_rhel6-clustered-on-drbd.txt"
    n06 = "node06.c01.cloud.agarik.com"
    return [
        (
            "check_drbd",
            ["--json-file", fixture(drbd)],
            [
                "--json-file",
                variant(tmp_path, drbd, {'"name": "volnode05"': f'"name": "volnode05{json_name}"'}),
            ],
            SHOWN,
        ),
        (
            "check_cluster",
            ["--crm-mon-file", fixture(mon)],
            ["--crm-mon-file", variant(tmp_path, mon, {'name="node06"': f'name="n6{FORGED_XML}"'})],
            r"\nOK - forged\x9b31m\u2028x\u202e",
        ),
        (
            "check_cluster",
            ["--cman-status-file", fixture(status), "--cman-nodes-file", fixture(nodes)],
            [
                "--cman-status-file",
                fixture(status),
                "--cman-nodes-file",
                variant(tmp_path, nodes, {n06: f"node06{FORGED_TEXT}"}),
            ],
            SHOWN_TEXT,
        ),
        (
            "check_cluster_services",
            ["--crm-mon-file", fixture(failed)],
            [
                "--crm-mon-file",
                variant(tmp_path, failed, {"vm-aquarius199": f"vm-aquarius199{FORGED_XML}"}),
            ],
            r"\nOK - forged\x9b31m\u2028x\u202e",
        ),
        (
            "check_cluster_services",
            ["--clustat-file", fixture(trouble)],
            ["--clustat-file", variant(tmp_path, trouble, {"vm:db01": f"vm:db01{FORGED_XML}"})],
            r"\nOK - forged\x9b31m\u2028x\u202e",
        ),
        (
            "check_cluster_daemons",
            ["--ps-file", fixture("ps_rhcs-node-all-running.txt"), "--require", "corosync2"],
            ["--ps-file", fixture("ps_rhcs-node-all-running.txt"), "--require", f"c2{FORGED}"],
            SHOWN,
        ),
        (
            "check_cluster_lvm",
            ["--vgs-file", fixture(vgs), "--pvs-file", fixture(pvs)],
            [
                "--vgs-file",
                variant(tmp_path, vgs, {"volnode05|": f"volnode05{FORGED_TEXT}|"}),
                "--pvs-file",
                variant(tmp_path, pvs, {"volnode05|": f"volnode05{FORGED_TEXT}|"}),
            ],
            SHOWN_TEXT,
        ),
    ]


CASE_IDS = ["drbd-json", "crm-mon-node", "cman-node", "crm-mon-resource", "clustat-vm"]
CASE_IDS += ["daemon-require", "lvm-vg"]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["", "v"])
def test_a_hostile_name_is_printed_escaped_on_one_line(tmp_path, index, verbose):
    plugin, plain_args, hostile_args, shown = cases(tmp_path)[index]
    plain = run_plugin(plugin, *plain_args, *verbose)
    hostile = run_plugin(plugin, *hostile_args, *verbose)
    assert_clean(hostile.stdout)
    assert hostile.returncode == plain.returncode, hostile.stdout
    assert len(hostile.stdout.splitlines()) == len(plain.stdout.splitlines()), hostile.stdout
    assert shown in hostile.stdout
    if not verbose:
        assert len(hostile.stdout.splitlines()) == 1
    for label in hostile.perfdata:
        assert label.isprintable(), label


def test_vm_names_from_cluster_conf_and_clustat_are_escaped(tmp_path):
    vm199 = "aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr"
    forged = {vm199: vm199 + FORGED_XML}
    conf = variant(tmp_path, "cluster-conf_seed-fixed.conf", forged)
    placement = variant(tmp_path, "clustat-x_411-all-started.xml", forged)
    uri05 = hypervisor(tmp_path, "node05", domain(VM200, 1))
    uri06 = hypervisor(tmp_path, "node06")
    common = ["--libvirt", f"node05.c01.cloud.agarik.com={uri05}"]
    common += ["--libvirt", f"node06.c01.cloud.agarik.com={uri06}", "-v"]
    run = run_plugin("check_vm_alloc", "--cluster-conf", conf, "--clustat-file", placement, *common)
    plain = run_plugin(
        "check_vm_alloc",
        "--cluster-conf",
        fixture("cluster-conf_seed-fixed.conf"),
        "--clustat-file",
        fixture("clustat-x_411-all-started.xml"),
        *common,
    )
    assert_clean(run.stdout)
    assert run.returncode == plain.returncode == 2
    assert len(run.stdout.splitlines()) == len(plain.stdout.splitlines())
    assert vm199 + r"\nOK - forged\x9b31m\u2028x\u202e" in run.first_line


# --- kvmcluster status ------------------------------------------------------------------------


def hostile_capture(tmp_path: Path) -> Path:
    """The split-brain example capture with a hostile host name, DRBD resource and VM name."""
    capture = tmp_path / "capture"
    shutil.copytree(REPO / "examples" / "captures" / "split-brain", capture)
    vm199 = "aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr"
    for path in capture.iterdir():
        if path.suffix in (".xml", ".conf"):
            text = path.read_text().replace(vm199, vm199 + FORGED_XML)
            path.write_text(text)
    (capture / "hostname.txt").write_text(f"node05{FORGED}.c01.cloud.agarik.com\n")
    drbd_conf = (capture / "drbd.conf").read_text()
    assert "resource drbd0" in drbd_conf
    (capture / "drbd.conf").write_text(drbd_conf.replace("resource drbd0", "resource drbd0\x1b[2J"))
    return capture


def kvmcluster_status(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*plugin_command("kvmcluster"), "status", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("flags", [[], ["--no-color"], ["-v"]], ids=["plain", "no-color", "v"])
def test_status_text_escapes_names_from_the_capture(tmp_path, flags):
    capture = hostile_capture(tmp_path)
    run = kvmcluster_status("--from", str(capture), *flags)
    plain = kvmcluster_status("--from", str(REPO / "examples" / "captures" / "split-brain"), *flags)
    assert "Traceback" not in run.stderr
    assert_clean(run.stdout)
    assert run.returncode == plain.returncode == 2
    assert len(run.stdout.splitlines()) == len(plain.stdout.splitlines()), run.stdout
    first = run.stdout.splitlines()[0]
    assert first.startswith(r"kvmcluster status: CRITICAL   node node05\nOK - forged\x1b[31m")
    assert r"\nOK - forged\x9b31m\u2028x\u202e" in run.stdout  # the VM, in summary and advice


def _drain_until_exit(pid: int, fd: int, seconds: float = 10) -> None:
    """Read the terminal until the child has exited: a child blocked writing a screen to a
    full terminal buffer can only finish (and see its ^C) while someone reads."""
    import contextlib
    import select
    import signal

    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
            if select.select([fd], [], [], 0.1)[0]:
                with contextlib.suppress(OSError):
                    os.read(fd, 65536)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    finally:
        os.close(fd)


def test_status_on_a_terminal_sends_only_its_own_colours(tmp_path):
    """With colours (a terminal) and --watch (which clears the screen), the only escape
    sequences are the status screen's own: SGR colours and the clear-screen."""
    capture = hostile_capture(tmp_path)
    command = [*plugin_command("kvmcluster"), "status", "--watch", "0.3", "--from", str(capture)]
    pid, fd = pty.fork()
    if pid == 0:  # the child: kvmcluster on the terminal
        os.execv(command[0], command)
    output = b""
    deadline = time.monotonic() + 10
    try:
        while output.count(b"kvmcluster status:") < 2 and time.monotonic() < deadline:
            try:
                output += os.read(fd, 65536)
            except OSError:
                break
    finally:
        os.kill(pid, 2)  # SIGINT: --watch ends on ^C
        _drain_until_exit(pid, fd)
    text = output.decode("utf-8")
    assert text.count("kvmcluster status:") >= 2
    assert "\033[31m" in text and "\033[H\033[2J" in text  # colours and the refresh are there
    ours = re.sub(r"\033\[(?:\d+m|H|2J)", "", text)
    assert "\x1b" not in ours and "\x9b" not in ours and "\u2028" not in ours
    assert r"drbd0\x1b[2J" in ours


def test_status_json_keeps_the_real_names_and_stays_ascii(tmp_path):
    capture = hostile_capture(tmp_path)
    run = kvmcluster_status("--json", "--from", str(capture))
    assert run.stdout.isascii()  # json.dumps escapes (ensure_ascii), no raw control byte
    document = json.loads(run.stdout)
    assert document["node"] == f"node05{FORGED}.c01.cloud.agarik.com"  # the model's real name
    items = {f["item"] for a in document["areas"] if a["captured"] for f in a["findings"]}
    assert "drbd0\x1b[2J" in items
    for area in document["areas"]:  # the summary is the plugin's first line: escaped
        if area["captured"]:
            assert area["summary"].isprintable()


# --- the escaping function --------------------------------------------------------------------


def test_printable_escapes_controls_and_keeps_other_text_as_it_is():
    assert printable("drbd0 Primary/Secondary é ☃ \ufffd") == "drbd0 Primary/Secondary é ☃ \ufffd"
    assert printable("a\nb\rc\td") == r"a\nb\rc\td"
    assert printable("\x00\x1b\x7f\x85\x9b") == r"\x00\x1b\x7f\x85\x9b"
    assert printable("\u2028\u2029\u202e\u200b\ud800") == r"\u2028\u2029\u202e\u200b\ud800"
    assert printable("\U000e0001") == r"\U000e0001"


def test_perfdata_labels_stay_the_same_for_normal_names_and_are_escaped_otherwise():
    assert value_text(Perf("oos", 0, "B", "0", "", 0, None, "drbd0")) == "drbd0_oos=0B;0;;0"
    assert quote_label("vol node05_size") == "'vol node05_size'"
    assert quote_label("a\nb'c|d_size") == r"'a\nb''c/d_size'"
    columns = PerfColumns(("oos", "B", "0", "", 0, None))
    assert row_text(PerfRow("drbd0", (5,), columns)) == "drbd0_oos=5B;0;;0"
    assert row_text(PerfRow("r 0", (5,), columns)) == "'r 0_oos'=5B;0;;0"
    assert row_text(PerfRow("r\x1b0", (5,), columns)) == r"'r\x1b0_oos'=5B;0;;0"
