"""Every parse failure is the project's ParseError naming the file (and the line where the
parser knows it), never `internal error: ValueError/RecursionError/OverflowError ...`: one test
per class of malformed input the fuzz run (tests/fuzz.py) and issue 15 found, through the parser
and, for each input family, through the plugin the way Icinga runs it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kvmcluster.errors import ParseError
from kvmcluster.parsers import (
    cib,
    clustat,
    cluster_conf,
    cman,
    corosync_conf,
    crm_mon,
    drbd_conf,
    drbd_events,
    drbd_json,
    drbd_proc,
    libvirt_xml,
    lvm,
    ps,
    quorumtool,
)
from tests.plugin_runner import FIXTURES, REPO, fixture, run_plugin

HUGE = "9" * 5000  # int() refuses it in Python 3.11 with a ValueError (the digit limit)
LONG = "1" + "0" * 400  # int() takes it; no counter, id or size has 401 digits


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def parse_error(func, *args, **kwargs) -> ParseError:
    with pytest.raises(ParseError) as caught:
        func(*args, **kwargs)
    return caught.value


def unknown_naming(run, path: str, line: int | None = None) -> str:
    """The plugin's one UNKNOWN line names the file (and line), no internal error."""
    assert run.returncode == 3, run
    assert len(run.stdout.splitlines()) == 1, run
    where = f"{path}:{line}:" if line else path
    assert f"cannot parse {where}" in run.first_line, run.first_line
    assert "internal error" not in run.stdout + run.stderr
    return run.first_line


# --- numbers: too many digits, not finite, negative, digits int() does not take ------------


@pytest.mark.parametrize("number", [HUGE, LONG])
def test_proc_drbd_counter_of_thousands_of_digits_names_the_line(tmp_path, number):
    content = text("proc-drbd_84-dual-primary-ok.txt").replace("oos:0", f"oos:{number}", 1)
    error = parse_error(drbd_proc.parse_proc_drbd, content, "p")
    assert error.line == 4 and "counter" in error.reason
    run = run_plugin("check_drbd", "--proc-file", write(tmp_path, "proc", content))
    unknown_naming(run, str(tmp_path / "proc"), 4)


def test_proc_drbd_minor_and_finish_hours_of_thousands_of_digits():
    base = text("proc-drbd_84-sync-target.txt")
    minor = base.replace(" 0: cs:", f" {HUGE}: cs:", 1)
    assert parse_error(drbd_proc.parse_proc_drbd, minor).line == 3
    hours = base.replace("finish: 0:", f"finish: {HUGE}:", 1)
    assert parse_error(drbd_proc.parse_proc_drbd, hours).line is not None


@pytest.mark.parametrize("done", ["1.2.3", "250.0", "9" * 400 + ".5"])
def test_proc_drbd_progress_that_is_no_percentage_names_the_line(done):
    content = text("proc-drbd_84-sync-target.txt").replace("sync'ed: 24.5%", f"sync'ed: {done}%")
    assert content != text("proc-drbd_84-sync-target.txt")
    error = parse_error(drbd_proc.parse_proc_drbd, content, "p")
    assert error.line is not None and "percentage" in error.reason


@pytest.mark.parametrize(
    "uptime", ["inf 1.0", "nan 1.0", "-5.0 1.0", "1e400 1.0", f"{LONG} 1.0", "-inf"]
)
def test_uptime_not_finite_or_negative_is_a_parse_error(tmp_path, uptime):
    error = parse_error(ps.parse_uptime, uptime, "u")
    assert error.line == 1 and "uptime" in error.reason
    path = write(tmp_path, "uptime", uptime + "\n")
    run = run_plugin(
        "check_cluster_daemons", "--ps-file", fixture("ps_rhcs-node-after-reboot.txt"),
        "--uptime-file", path,
    )  # fmt: skip
    unknown_naming(run, path, 1)


def test_ps_pid_of_thousands_of_digits_names_the_line():
    content = text("ps_rhcs-node-all-running.txt").splitlines()
    content[2] = f"{HUGE} 1 Ss /usr/sbin/fenced"
    error = parse_error(ps.parse_ps, "\n".join(content), "ps")
    assert error.line == 3 and "pid" in error.reason


@pytest.mark.parametrize("count", ["\u00b2", HUGE])  # superscript two: str.isdigit() says yes
def test_lvm_count_that_int_does_not_take_names_the_line(tmp_path, count):
    content = text("vgs_rhel6-clustered-on-drbd.txt").splitlines()
    fields = content[0].split("|")
    fields[4] = count
    content[0] = "|".join(fields)
    error = parse_error(lvm.parse_vgs, "\n".join(content), "vgs")
    assert error.line == 1 and "count" in error.reason
    path = write(tmp_path, "vgs", "\n".join(content) + "\n")
    run = run_plugin(
        "check_cluster_lvm", "--vgs-file", path, "--pvs-file",
        fixture("pvs_rhel6-clustered-on-drbd.txt"),
    )  # fmt: skip
    unknown_naming(run, path, 1)


def test_pv_named_drbd_with_a_minor_of_thousands_of_digits_is_no_drbd_device(tmp_path):
    content = text("pvs_rhel6-clustered-on-drbd.txt").replace("/dev/drbd0", f"/dev/drbd{HUGE}", 1)
    assert HUGE in content
    path = write(tmp_path, "pvs", content)
    run = run_plugin(
        "check_cluster_lvm", "--pvs-file", path,
        "--vgs-file", fixture("vgs_rhel6-clustered-on-drbd.txt"),
    )  # fmt: skip
    assert "internal error" not in run.stdout + run.stderr, run
    assert run.returncode in (0, 1, 2), run


@pytest.mark.parametrize("size", ["1e300", "-5", "nan", "inf", LONG])
def test_lvm_size_out_of_range_names_the_line(size):
    content = text("vgs_rhel6-clustered-on-drbd.txt").splitlines()
    fields = content[0].split("|")
    fields[2] = size
    error = parse_error(lvm.parse_vgs, "|".join(fields), "vgs")
    assert error.line == 1 and "size" in error.reason


@pytest.mark.parametrize("word", ["\u00b2", HUGE])
def test_quorumtool_member_id_that_int_does_not_take(tmp_path, word):
    content = text("corosync-quorumtool_3-quorate.txt")
    lines = content.splitlines()
    row = next(i for i, line in enumerate(lines) if line.split()[:1] == ["1"])
    lines[row] = lines[row].replace("1", word, 1)
    error = parse_error(quorumtool.parse_quorumtool, "\n".join(lines), "q")
    assert error.line == row + 1
    path = write(tmp_path, "q", "\n".join(lines) + "\n")
    run = run_plugin(
        "check_cluster", "--quorumtool-file", path,
        "--crm-mon-file", fixture("crm-mon_seed-healthy.xml"),
    )  # fmt: skip
    unknown_naming(run, path, row + 1)


def test_quorumtool_votes_of_thousands_of_digits():
    content = text("corosync-quorumtool_3-quorate.txt").replace(
        "Expected votes:   2", f"Expected votes:   {HUGE}"
    )
    assert "Expected votes" in parse_error(quorumtool.parse_quorumtool, content).reason or True
    assert isinstance(parse_error(quorumtool.parse_quorumtool, content, "q"), ParseError)


def test_cman_node_id_and_votes_of_thousands_of_digits(tmp_path):
    nodes = text("cman-tool-nodes_both-members.txt").splitlines()
    row = next(i for i, line in enumerate(nodes) if line.strip().startswith("1 "))
    nodes[row] = nodes[row].replace("1", HUGE, 1)
    assert parse_error(cman.parse_cman_nodes, "\n".join(nodes), "n").line == row + 1
    status = text("cman-tool-status_quorate-two-node.txt").replace(
        "Expected votes: 1", f"Expected votes: {HUGE}"
    )
    assert status != text("cman-tool-status_quorate-two-node.txt")
    assert "Expected votes" in parse_error(cman.parse_cman_status, status, "s").reason
    path = write(tmp_path, "status", status)
    run = run_plugin(
        "check_cluster", "--cman-status-file", path,
        "--cman-nodes-file", fixture("cman-tool-nodes_both-members.txt"),
    )  # fmt: skip
    unknown_naming(run, path)


def test_crm_mon_fail_count_of_thousands_of_digits(tmp_path):
    content = text("crm-mon_seed-vm-monitor-failed.xml")
    assert 'fail-count="' in content
    bad = content.replace('fail-count="2"', f'fail-count="{HUGE}"', 1)
    assert bad != content
    assert "fail-count" in parse_error(crm_mon.parse_crm_mon, bad, "c").reason
    path = write(tmp_path, "crm_mon.xml", bad)
    unknown_naming(run_plugin("check_cluster_services", "--crm-mon-file", path), path)


def test_xml_number_beyond_64_bits_is_refused():
    content = text("clustat-x_411-all-started.xml").replace(
        'restarts="0"', f'restarts="0x{"f" * 5000}"', 1
    )
    assert "restarts" in parse_error(clustat.parse_clustat, content, "c").reason


@pytest.mark.parametrize("value", ['"nan"', '"inf"', "-5", "250", '"1e400"'])
def test_drbd_json_percentage_out_of_range(value):
    content = text("drbdsetup-status-json_9-sync-target.json")
    field = '"percent-in-sync": '
    start = content.index(field) + len(field)
    end = start + len(content[start:].split("\n", 1)[0].rstrip(","))
    error = parse_error(drbd_json.parse_status_json, content[:start] + value + content[end:], "j")
    assert "percentage" in error.reason


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_drbd_json_constants_that_are_no_numbers(literal):
    content = '[{"name": "r0", "role": "Primary", "devices": [{"volume": 0, "size": %s}]}]'
    assert literal in parse_error(drbd_json.parse_status_json, content % literal, "j").reason


def test_events2_done_that_is_no_percentage():
    content = text("drbdsetup-events2_9-timestamps-sync-source.txt")
    assert " done:" in content
    start = content.index(" done:") + len(" done:")
    end = start + len(content[start:].split()[0])
    for value in ("nan", "inf", "1e400", "-3"):
        error = parse_error(drbd_events.parse_events2, content[:start] + value + content[end:], "e")
        assert "done" in error.reason


def test_events2_counter_of_hundreds_of_digits():
    content = text("drbdsetup-events2_9-ok.txt").replace("size:", f"size:{LONG}", 1)
    assert "size" in parse_error(drbd_events.parse_events2, content, "e").reason


def test_drbd_conf_minor_with_digits_int_does_not_take():
    conf = "resource r0 { on a { device /dev/drbd0 minor \u00b2; disk /dev/sdb; } }"
    nodes = drbd_conf.parse_drbd_conf_text(conf, "d")
    found = drbd_conf.configured_resources(drbd_conf.DrbdConfig(nodes), set())
    assert found[0].name == "r0"  # the minor is not a number: unknown, not a crash
    huge = drbd_conf.parse_drbd_conf_text(f"resource r0 {{ device /dev/drbd{HUGE}; }}", "d")
    assert drbd_conf.configured_resources(drbd_conf.DrbdConfig(huge), set())[0].minors == []


# --- nesting: JSON, XML groups, configs ------------------------------------------------------


def test_deeply_nested_json_is_a_parse_error(tmp_path):
    content = "[" * 100_000 + "]" * 100_000
    assert "nested too deeply" in parse_error(drbd_json.parse_status_json, content, "j").reason
    path = write(tmp_path, "deep.json", content)
    unknown_naming(run_plugin("check_drbd", "--json-file", path), path)


def test_deeply_nested_pacemaker_groups_are_a_parse_error(tmp_path):
    content = text("crm-mon_seed-healthy.xml")
    deep = "<group id='g' number_resources='1'>" * 5000 + "</group>" * 5000
    content = content.replace("<resources>", "<resources>" + deep, 1)
    assert "nested" in parse_error(crm_mon.parse_crm_mon, content, "c").reason
    path = write(tmp_path, "crm_mon.xml", content)
    unknown_naming(run_plugin("check_cluster_services", "--crm-mon-file", path), path)


@pytest.mark.parametrize(
    "func, opener, closer",
    [
        (lambda t: drbd_conf.parse_drbd_conf_text(t, "d"), "on x {\n", "}\n"),
        (lambda t: lvm.parse_lvm_config(t, "l"), "x {\n", "}\n"),
        (lambda t: corosync_conf.parse_corosync_conf(t, "c"), "x {\n", "}\n"),
    ],
)
def test_deeply_nested_config_sections_are_a_parse_error(func, opener, closer):
    error = parse_error(func, "top {\n" + opener * 5000 + closer * 5001)
    assert "nested" in error.reason and error.line is not None


def test_deeply_nested_drbd_conf_through_the_plugin(tmp_path):
    path = write(tmp_path, "drbd.conf", "resource r0 {\n" + "on x {\n" * 5000 + "}\n" * 5001)
    run = run_plugin(
        "check_drbd", "--proc-file", fixture("proc-drbd_84-dual-primary-ok.txt"),
        "--drbd-conf", path,
    )  # fmt: skip
    unknown_naming(run, path)


# --- XML: declared encodings, DTDs and entities, libvirt domain XML --------------------------


@pytest.mark.parametrize(
    "func, name",
    [
        (clustat.parse_clustat, "clustat-x_411-all-started.xml"),
        (crm_mon.parse_crm_mon, "crm-mon_seed-healthy.xml"),
        (cib.parse_cib_constraints, "cib_seed-healthy.xml"),
        (cluster_conf.parse_cluster_conf, "cluster-conf_seed-fixed.conf"),
    ],
)
def test_unknown_declared_encoding_is_read_as_the_utf8_it_was_read_as(func, name):
    content = text(name)
    body = content.split("?>", 1)[1] if content.startswith("<?xml") else content
    func('<?xml version="1.0" encoding="bogus-8"?>' + body, "x")  # parses, no LookupError


ENTITY_DTD = (
    '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY file SYSTEM "file:///etc/passwd">]>\n'
)


@pytest.mark.parametrize(
    "func, name, reference",
    [
        (clustat.parse_clustat, "clustat-x_411-all-started.xml", "&b;"),
        (crm_mon.parse_crm_mon, "crm-mon_seed-healthy.xml", "&b;"),
        (cib.parse_cib_vms, "cib_seed-healthy.xml", "&b;"),
        (cluster_conf.parse_cluster_conf, "cluster-conf_seed-fixed.conf", "&file;"),
        (cluster_conf.parse_cluster_conf, "cluster-conf_seed-fixed.conf", "&b;"),
    ],
)
def test_dtd_with_entities_is_refused_naming_the_line(func, name, reference):
    content = text(name)
    head, body = content.split("?>", 1) if content.startswith("<?xml") else ("", content)
    head = head + "?>" if head else ""
    at = body.index('="') + 2
    hostile = head + ENTITY_DTD + body[:at] + reference + body[at:]
    error = parse_error(func, hostile, "x")
    assert "DTD" in error.reason and error.line in (1, 2)
    assert "root:" not in str(error)


def test_cluster_conf_with_an_external_entity_through_the_plugin(tmp_path):
    content = text("cluster-conf_seed-fixed.conf").replace('name="', 'name="&file;', 1)
    path = write(tmp_path, "cluster.conf", ENTITY_DTD + content)
    run = run_plugin(
        "check_vm_alloc", "--cluster-conf", path,
        "--clustat-file", fixture("clustat-x_411-all-started.xml"),
    )  # fmt: skip
    assert "root:" not in run.stdout
    assert "DTD" in run.stdout and f"{path}:1" in run.stdout


@pytest.mark.parametrize(
    "xml",
    ["<domain><devices><disk", "\x00", "<domain>&undefined;</domain>", ENTITY_DTD + "<domain/>"],
)
def test_libvirt_domain_xml_that_is_not_well_formed_is_a_parse_error(xml):
    error = parse_error(libvirt_xml.domain_disks, xml)
    assert error.source == "libvirt domain XML"


# --- the include of drbd.conf stays inside the directory of the file -------------------------


def test_capture_drbd_conf_include_cannot_read_a_file_of_this_host(tmp_path):
    capture = tmp_path / "capture"
    shutil.copytree(REPO / "examples" / "captures" / "healthy", capture)
    with open(capture / "drbd.conf", "a") as handle:
        handle.write('include "/etc/passwd";\n')
    run = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    assert "root:" not in run.stdout + run.stderr
    assert "/etc/passwd is outside" in run.stdout


def test_capture_drbd_conf_include_through_a_symlink_is_refused(tmp_path):
    (tmp_path / "link.res").symlink_to("/etc/passwd")
    path = write(tmp_path, "drbd.conf", 'include "*.res";\n')
    from kvmcluster.sources.drbd_conf import read_drbd_conf

    error = parse_error(read_drbd_conf, path)
    assert "outside" in error.reason and "root:" not in str(error)


def test_includes_inside_the_directory_are_still_read(tmp_path):
    (tmp_path / "drbd.d").mkdir()
    write(tmp_path, "drbd.d/r0.res", "resource r0 { device /dev/drbd0; }\n")
    path = write(tmp_path, "drbd.conf", 'include "drbd.d/*.res";\n')
    from kvmcluster.sources.drbd_conf import read_drbd_conf

    assert [r.keyword for r in read_drbd_conf(path).nodes] == ["resource"]


# --- capture files that are text, read as text -------------------------------------------------


@pytest.mark.parametrize("name", ["vg-map.txt", "hostname.txt"])
def test_capture_text_that_is_not_utf8_is_read_not_a_crash(tmp_path, name):
    capture = tmp_path / "capture"
    shutil.copytree(REPO / "examples" / "captures" / "healthy", capture)
    (capture / name).write_bytes(b"node\xff\xc3\x28=vol\xf8node05\n")
    run = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    assert "internal error" not in run.stdout + run.stderr and run.stdout, run


def test_capture_manifest_nested_thousands_deep_is_refused_not_a_crash(tmp_path):
    capture = tmp_path / "capture"
    shutil.copytree(REPO / "examples" / "captures" / "healthy", capture)
    (capture / "MANIFEST.json").write_text("[" * 100_000 + "]" * 100_000)
    run = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    assert "internal error" not in run.stdout + run.stderr, run
    assert "MANIFEST" in run.stdout + run.stderr, run


# --- superscript digits: str.isdigit() says yes, int() says no ------------------------------


def test_capture_libvirt_runstate_superscript_is_a_parse_error_of_that_node(tmp_path):
    capture = tmp_path / "capture"
    shutil.copytree(REPO / "examples" / "captures" / "split-brain", capture)
    name = "libvirt-node06.c01.cloud.agarik.com.xml"
    content = (capture / name).read_text().replace("<test:runstate>5<", "<test:runstate>\u00b2<")
    (capture / name).write_text(content)
    run = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    assert "internal error" not in run.stdout + run.stderr, run
    assert "runstate" in run.stdout, run


def test_cib_promoted_max_and_crm_mon_migration_threshold_superscript(tmp_path):
    from kvmcluster.parsers.cib_meta import parse_cib_promoted_max

    cib_text = text("cib_seed-healthy.xml").replace(
        'name="promoted-max" value="2"', 'name="promoted-max" value="\u00b2"'
    )
    assert "promoted-max" in parse_error(parse_cib_promoted_max, cib_text, "c").reason
    crm = text("crm-mon_seed-vm-monitor-failed.xml").replace(
        'migration-threshold="1000000"', 'migration-threshold="\u00b2"'
    )
    crm_mon.parse_crm_mon(crm, "c")  # no threshold, as for INFINITY: no ValueError


# --- the description (TOML) and kvmcluster import -------------------------------------------


@pytest.mark.parametrize(
    "toml, reason",
    [
        ("a = " + "[" * 100_000 + "]" * 100_000, "not TOML: nested too deeply"),
        (f'[cluster]\nname = "x"\nconfig_version = {HUGE}', "not TOML: a number of thousands"),
        (f'[cluster]\nname = "x"\nconfig_version = {LONG}', "config_version: out of range"),
    ],
)
def test_description_that_is_no_bounded_toml_is_a_problem_not_a_crash(tmp_path, toml, reason):
    path = write(tmp_path, "cluster.toml", toml)
    run = run_plugin("kvmcluster", "generate", path, "--output", str(tmp_path / "out"))
    assert run.returncode == 2 and reason in run.stdout + run.stderr, run
    assert "internal error" not in run.stdout + run.stderr


@pytest.mark.parametrize("attribute", ['config_version="abc"', f'config_version="{HUGE}"'])
def test_import_of_a_cluster_conf_number_that_is_none_names_the_line(tmp_path, attribute):
    content = text("cluster-conf_seed-fixed.conf")
    bad = content.replace('config_version="', f'{attribute} x="', 1)
    path = write(tmp_path, "cluster.conf", bad)
    run = run_plugin(
        "kvmcluster", "import", "--cluster-conf", path,
        "--drbd-conf", fixture("etc-drbd-conf_seed-84.conf"),
    )  # fmt: skip
    assert run.returncode == 2, run
    assert f"cannot parse {path}:" in run.stderr and "config_version" in run.stderr, run
    assert "internal error" not in run.stdout + run.stderr


def test_import_of_a_drbd_minor_that_is_no_number_names_the_line(tmp_path):
    conf = text("etc-drbd-conf_seed-84.conf")
    assert "device" in conf
    bad = "resource rX {\n on node05 { device /dev/drbd9 minor x; disk /dev/sdz; }\n}\n"
    path = write(tmp_path, "drbd.conf", bad)
    run = run_plugin(
        "kvmcluster", "import", "--cluster-conf", fixture("cluster-conf_seed-fixed.conf"),
        "--drbd-conf", path,
    )  # fmt: skip
    assert "internal error" not in run.stdout + run.stderr
    assert run.returncode in (1, 2), run


# --- the last line of defence: any unforeseen data error of a parser -------------------------


def test_any_data_error_a_parser_lets_out_becomes_a_parse_error_of_its_source():
    from kvmcluster.parsers.values import parser

    @parser("default source")
    def broken(text, source="default source"):
        return int(text) + {}[text]

    assert str(parse_error(broken, "x", "a.txt")) == (
        "cannot parse a.txt: unexpected value (ValueError: invalid literal for int() with "
        "base 10: 'x')"
    )
    assert parse_error(broken, "1", source="b.txt").source == "b.txt"
    assert parse_error(broken, "1").source == "default source"
