"""icinga/: validated by the real icinga2, NRPE commands run by the real nrpe + check_nrpe,
sudoers checked by visudo and against the commands the plugins really run."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.plugin_cases import ENTRY_POINTS
from tests.plugin_runner import FIXTURES, REPO

ICINGA = REPO / "icinga"


def plugin_parser(plugin: str):
    import importlib

    if plugin == "kvmcluster":
        from kvmcluster.cli import build_parser

        return build_parser()
    return importlib.import_module(ENTRY_POINTS[plugin]).build_parser()


def option_strings(parser) -> set[str]:
    import argparse

    found = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.update(option_strings(sub))
    return found


@pytest.fixture(scope="module")
def icinga_config():
    """A config dir icinga2 can use as the unprivileged user it drops to (nobody)."""
    if shutil.which("icinga2") is None:
        pytest.skip("icinga2 is not installed (icinga2-bin, icinga2-common)")
    directory = Path(tempfile.mkdtemp(prefix="kvmcluster-icinga-", dir="/tmp"))
    directory.chmod(0o755)
    cache = directory / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    conf = directory / "icinga2.conf"
    includes = "\n".join(
        f'include "{ICINGA / name}"'
        for name in ("constants.conf", "commands.conf", "services.conf", "example-hosts.conf")
    )
    conf.write_text(
        'const PluginDir = "/usr/lib/nagios/plugins"\n'
        'const NodeName = "monitor.example.com"\n'
        "const ZoneName = NodeName\n"
        "object Endpoint NodeName {}\n"
        "object Zone ZoneName { endpoints = [ NodeName ] }\n"
        "include <itl>\ninclude <plugins>\n" + includes + "\n"
    )
    conf.chmod(0o644)
    yield conf, cache
    shutil.rmtree(directory, ignore_errors=True)


def icinga2(*args, cache):
    env = {**os.environ, "ICINGA2_USER": "nobody", "ICINGA2_GROUP": "nogroup"}
    return subprocess.run(
        ["icinga2", *args, f"-DCacheDir={cache}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.real
def test_icinga2_validates_the_config_without_warnings(icinga_config):
    conf, cache = icinga_config
    proc = icinga2("daemon", "-C", "-c", str(conf), "-x", "warning", cache=cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning/" not in proc.stdout and "critical/" not in proc.stdout, proc.stdout


def object_list(cache, type_: str = "Service") -> dict[str, str]:
    """`icinga2 object list` of the last validated config: {object name: its text}."""
    listing = icinga2("object", "list", "--type", type_, cache=cache).stdout
    objects = {}
    for block in re.split(r"^(?=Object ')", listing, flags=re.M):
        m = re.match(r"Object '([^']+)' of type '" + type_ + "'", block)
        if m:
            objects[m.group(1)] = block
    return objects


def attribute(block: str, name: str) -> str:
    m = re.search(r"^  \* " + re.escape(name) + r" = (.*)$", block, re.M)
    return m.group(1) if m else ""


SEED = "node05.c01.cloud.agarik.com"
NODE_SERVICES = {"cluster-quorum", "cluster-daemons", "cluster-lvm", "cluster-config-lint"}
CLUSTER_SERVICES = {"cluster-services", "vm-alloc", "cluster-view"}


@pytest.mark.real
def test_icinga2_builds_the_expected_services(icinga_config):
    conf, cache = icinga_config
    assert icinga2("daemon", "-C", "-c", str(conf), cache=cache).returncode == 0
    services = object_list(cache)
    by_host: dict[str, set[str]] = {}
    for name in services:
        host, _, service = name.partition("!")
        by_host.setdefault(host, set()).add(service)
    n06, n07, n08 = (f"node0{i}.c01.cloud.agarik.com" for i in (6, 7, 8))
    assert by_host == {
        SEED: NODE_SERVICES | {"drbd-drbd0", "drbd-drbd1", "drbd-drbd2", "kvmcluster-agent"},
        n06: NODE_SERVICES | {"drbd", "kvmcluster-agent"},
        "c01.cloud.agarik.com": CLUSTER_SERVICES,
        n07: NODE_SERVICES | {"drbd", "kvmcluster-nrpe"},
        # agentless: lint reads the node's files, so it cannot run from here
        n08: NODE_SERVICES - {"cluster-config-lint"}
        | {"drbd-drbd0", "drbd-drbd1", "kvmcluster-ssh"},
    }
    for name, block in services.items():
        host, _, service = name.partition("!")
        command = attribute(block, "check_command")
        endpoint = attribute(block, "command_endpoint")
        if service.startswith("kvmcluster-"):
            assert endpoint == '""', name  # the transport checks run here
        elif host in (SEED, n06):
            assert endpoint == f'"{host}"' and not command.endswith('-by-ssh"'), name
        elif host == "c01.cloud.agarik.com":  # the cluster's checks run on node05's agent
            assert endpoint == f'"{SEED}"', name
        elif host == n07:
            assert command == '"nrpe"' and endpoint == '""', name
            assert re.search(r'\* nrpe_command = "check_kvmcluster_\w+"', block), name
        elif host == n08:
            assert command.endswith('-by-ssh"') and endpoint == '""', name
            assert '* kvmcluster_ssh = "nagios@192.168.10.17"' in block, name


@pytest.mark.real
def test_icinga2_silences_checks_behind_their_transport_and_quorum(icinga_config):
    conf, cache = icinga_config
    assert icinga2("daemon", "-C", "-c", str(conf), cache=cache).returncode == 0
    dependencies = object_list(cache, "Dependency")
    parents = {
        name: (attribute(b, "parent_host_name"), attribute(b, "parent_service_name"))
        for name, b in dependencies.items()
    }
    n08 = "node08.c01.cloud.agarik.com"
    assert parents[f"{SEED}!drbd-drbd0!kvmcluster-transport"] == (f'"{SEED}"', '"kvmcluster-agent"')
    assert parents[f"{n08}!drbd-drbd1!kvmcluster-transport"] == (f'"{n08}"', '"kvmcluster-ssh"')
    assert parents["c01.cloud.agarik.com!vm-alloc!kvmcluster-quorum"] == (
        f'"{SEED}"',
        '"cluster-quorum"',
    )
    assert parents["c01.cloud.agarik.com!vm-alloc!kvmcluster-transport"] == (
        f'"{SEED}"',
        '"kvmcluster-agent"',
    )
    # a node's own checks are never silenced by quorum: a split brain must alert
    assert not any(n.endswith("!kvmcluster-quorum") and n.startswith("node") for n in parents)


def test_every_checkcommand_argument_is_an_option_of_its_plugin():
    text = (ICINGA / "commands.conf").read_text()
    common = set(re.findall(r'^\t\t"(-[^"]+)" = \{', text.split("object CheckCommand")[0], re.M))
    ssh_template = text.split('template CheckCommand "kvmcluster-by-ssh"')[1].split("}\n\n")[0]
    ssh_arguments = set(re.findall(r'^\t\t"(-[^"]+)" = \{', ssh_template, re.M))
    assert ssh_arguments == {"--ssh", "--ssh-option"}
    for block in text.split('object CheckCommand "')[1:]:
        name = block.split('"', 1)[0]
        if name.endswith("-by-ssh"):
            continue  # its own arguments are the template's, checked with every plugin below
        plugin = re.search(r'KvmclusterPluginDir \+ "/([^"]+)"', block).group(1)
        arguments = set(re.findall(r'^\t\t"(-[^"]+)" = \{', block, re.M)) | common
        if plugin != "kvmcluster":
            arguments |= ssh_arguments
        unknown = arguments - option_strings(plugin_parser(plugin))
        assert not unknown, f"{name}: {plugin} has no option {sorted(unknown)}"


def nrpe_commands(path: Path) -> dict[str, list[str]]:
    commands = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^command\[([^\]]+)\]=(.*)$", line)
        if m:
            commands[m.group(1)] = shlex.split(m.group(2))
    return commands


def test_every_nrpe_command_line_parses_with_its_plugin():
    commands = nrpe_commands(ICINGA / "nrpe.cfg")
    assert len(commands) == 7
    for name, argv in commands.items():
        assert "$ARG" not in " ".join(argv), f"{name}: dont_blame_nrpe=0 allows no $ARGn$"
        plugin = Path(argv[0]).name
        parser = plugin_parser(plugin)
        parser.parse_args(argv[1:])  # exits 3 on an unknown option


def test_sudoers_is_valid():
    if shutil.which("visudo") is None:
        pytest.skip("sudo is not installed")
    proc = subprocess.run(
        ["visudo", "-cf", str(ICINGA / "sudoers")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sudoers_allows_exactly_the_commands_the_plugins_run_with_sudo():
    from kvmcluster.parsers import lvm
    from kvmcluster.sources import cluster, drbd
    from kvmcluster.sources.lvm import DUMPCONFIG_ARGV, LVMCONFIG_ARGV

    text = (ICINGA / "sudoers").read_text().replace("\\\n", " ")
    allowed = set()
    for alias in re.findall(r"^Cmnd_Alias \w+ = (.*)$", text, re.M):
        for command in re.split(r"(?<!\\),", alias):
            binary, _, args = command.strip().replace("\\,", ",").replace("\\=", "=").partition(" ")
            args = "" if args == '""' else args  # "": no argument at all
            allowed.add(f"{binary.rsplit('/', 1)[-1]} {args}".strip())
    wanted = [
        drbd.STATUS_JSON_ARGV,
        drbd.EVENTS2_ARGV,
        cluster.CMAN_STATUS_ARGV,
        cluster.CMAN_NODES_ARGV,
        cluster.CLUSTAT_ARGV,
        cluster.CRM_MON_ARGV,
        cluster.QUORUMTOOL_ARGV,
        cluster.CIB_ARGV,
        ["cat", "/etc/cluster/cluster.conf"],
        lvm.VGS_ARGV,
        lvm.PVS_ARGV,
        lvm.LVS_ARGV,
        LVMCONFIG_ARGV,
        DUMPCONFIG_ARGV,
    ]
    for argv in wanted:
        assert " ".join(argv) in allowed, f"sudoers lacks: {' '.join(argv)}"
    assert not any("*" in a for a in allowed), "no wildcards"


# --- NRPE round trip ----------------------------------------------------------------------

NRPE = "/usr/sbin/nrpe"
CHECK_NRPE = "/usr/lib/nagios/plugins/check_nrpe"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def nrpe_server():
    """A real nrpe on 127.0.0.1 running the plugin entry files from a tree the nagios user
    can read (nrpe refuses to run as root, and the checkout may sit under /root)."""
    if not (os.path.exists(NRPE) and os.path.exists(CHECK_NRPE) and os.geteuid() == 0):
        pytest.skip("needs root, nagios-nrpe-server and nagios-nrpe-plugin")
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("needs /usr/bin/python3 for the nagios user")
    import nagiosplugin

    root = Path(tempfile.mkdtemp(prefix="kvmcluster-nrpe-", dir="/tmp"))
    try:
        lib = root / "lib"
        shutil.copytree(REPO / "kvmcluster", lib / "kvmcluster")
        shutil.copytree(Path(nagiosplugin.__file__).parent, lib / "nagiosplugin")
        shutil.copytree(REPO / "plugins", root / "plugins")
        shutil.copytree(FIXTURES, root / "fixtures")
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() or path.suffix == ".py" else 0o644)
        run = f"/usr/bin/env PYTHONPATH={lib} /usr/bin/python3 {root}/plugins"
        fx = root / "fixtures"
        commands = {
            "drbd_ok": f"{run}/check_drbd.py --proc-file {fx}/proc-drbd_84-dual-primary-ok.txt",
            "drbd_warning": f"{run}/check_drbd.py --proc-file {fx}/proc-drbd_84-sync-target.txt",
            "drbd_critical": f"{run}/check_drbd.py --proc-file "
            f"{fx}/proc-drbd_84-standalone-split-brain.txt",
            "drbd_unknown": f"{run}/check_drbd.py --proc-file {fx}/proc-drbd_84-truncated.txt",
            "cluster_critical": f"{run}/check_cluster.py --cman-status-file "
            f"{fx}/cman-tool-status_inquorate-activity-blocked.txt",
            "services_warning": f"{run}/check_cluster_services.py --crm-mon-file "
            f"{fx}/crm-mon_seed-node06-standby.xml --ignore-disabled -x drbd-volnode05-clone "
            "--failcount-warning 1 --promoted 1",
            "daemons_ok": f"{run}/check_cluster_daemons.py --ps-file "
            f"{fx}/ps_rhcs-node-all-running.txt",
        }
        port = free_port()
        conf = root / "nrpe.cfg"
        conf.write_text(
            f"server_address=127.0.0.1\nserver_port={port}\nallowed_hosts=127.0.0.1\n"
            f"dont_blame_nrpe=0\npid_file={root}/nrpe.pid\nnrpe_user=nagios\nnrpe_group=nagios\n"
            f"log_file={root}/nrpe.log\ncommand_timeout=30\n"
            + "".join(f"command[{name}]={line}\n" for name, line in commands.items())
        )
        server = subprocess.Popen(
            [NRPE, "-c", str(conf), "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [CHECK_NRPE, "-H", "127.0.0.1", "-p", str(port)], capture_output=True, text=True
            )
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        yield port
        server.terminate()
        server.wait(timeout=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.real
@pytest.mark.parametrize(
    "command, code, first",
    [
        ("drbd_ok", 0, "DRBD OK - 3 resources Connected and UpToDate (Primary/Primary)"),
        ("drbd_warning", 1, "DRBD WARNING - drbd1 SyncTarget 24.5% done, ETA 0:05:12"),
        ("drbd_critical", 2, "DRBD CRITICAL - drbd0 StandAlone (possible split brain)"),
        ("drbd_unknown", 3, "DRBD UNKNOWN - cannot parse "),
        ("cluster_critical", 2, "CLUSTER CRITICAL - not quorate (activity blocked"),
        ("services_warning", 1, "SERVICES WARNING - stonith-enabled=false with 2 VMs"),
        ("daemons_ok", 0, "DAEMONS OK - 10 of 10 daemons running (rhcs profile)"),
    ],
)
def test_nrpe_round_trip_keeps_output_and_exit_code(nrpe_server, command, code, first):
    proc = subprocess.run(
        [CHECK_NRPE, "-H", "127.0.0.1", "-p", str(nrpe_server), "-c", command, "-t", "30"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == code, proc.stdout
    assert proc.stdout.startswith(first), proc.stdout
    if code != 3:
        assert "|" in proc.stdout.splitlines()[0], "perfdata survives the round trip"


# --- the cluster-config-lint service: kvmcluster lint with no file finds the node's own ----


def node_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for target, fixture in files.items():
        path = tmp_path / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / fixture, path)
    return tmp_path


def run_lint(*args):
    from tests.plugin_runner import run_plugin

    return run_plugin("kvmcluster", "lint", *args)


def test_lint_without_files_lints_the_nodes_own_files(tmp_path):
    root = node_tree(
        tmp_path,
        {
            "etc/cluster/cluster.conf": "cluster-conf_seed-as-is.conf",
            "etc/drbd.conf": "etc-drbd-conf_seed-84.conf",
            "etc/hosts": "etc-hosts_seed.txt",
        },
    )
    run = run_lint("--root", str(root))
    assert run.returncode == 2, run.stdout
    assert run.first_line.startswith(
        "LINT CRITICAL - 7 error(s), 2 warning(s) in cluster.conf, drbd.conf, hosts: "
        "not well-formed XML"
    ), run.first_line
    assert any(line.startswith(f"{root}/etc/cluster/cluster.conf:35: error:") for line in run.lines)


def test_lint_without_files_skips_the_files_a_node_does_not_have(tmp_path):
    root = node_tree(tmp_path, {"etc/hosts": "etc-hosts_seed.txt"})
    run = run_lint("--root", str(root))
    assert (run.returncode, run.first_line) == (0, "LINT OK - no findings in hosts")


def test_lint_is_unknown_only_when_the_node_has_none_of_its_files(tmp_path):
    run = run_lint("--root", str(tmp_path))
    assert run.returncode == 3, run.stdout
    assert run.first_line.startswith(
        "LINT UNKNOWN - nothing to lint: none of /etc/cluster/cluster.conf, /etc/drbd.conf, "
        "/etc/hosts, /etc/corosync/corosync.conf, /etc/lvm/lvm.conf exists under "
    ), run.first_line
    assert len(run.lines) == 1


def test_lint_with_files_given_reads_only_those(tmp_path):
    root = node_tree(tmp_path, {"etc/cluster/cluster.conf": "cluster-conf_seed-as-is.conf"})
    run = run_lint("--root", str(root), "--hosts", str(FIXTURES / "etc-hosts_seed.txt"))
    assert (run.returncode, run.first_line) == (0, "LINT OK - no findings in etc-hosts_seed.txt")


# --- what `kvmcluster generate` writes for Icinga, loaded by the real icinga2 ---------------

EXAMPLES = REPO / "examples"


def generated_config(tmp_path: Path, example: str, monitoring: str | None = None) -> Path:
    from tests.plugin_runner import run_plugin

    text = (EXAMPLES / example).read_text()
    if monitoring is not None:
        head, _, tail = text.partition("\n[monitoring]\n")
        rest = tail.split("\n[", 1)
        text = (
            head
            + "\n[monitoring]\n"
            + monitoring
            + "\n"
            + ("\n[" + rest[1] if len(rest) > 1 else "")
        )
    description = tmp_path / example
    description.write_text(text)
    out = tmp_path / "out"
    run = run_plugin("kvmcluster", "generate", str(description), "--output", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    return out


@pytest.fixture
def load_generated(tmp_path):
    """icinga2 -C on icinga/ plus a generated monitoring/icinga-hosts.conf: its services."""
    if shutil.which("icinga2") is None:
        pytest.skip("icinga2 is not installed (icinga2-bin, icinga2-common)")

    def load(out: Path) -> dict[str, str]:
        directory = Path(tempfile.mkdtemp(prefix="kvmcluster-hE-gen-", dir="/tmp"))
        try:
            directory.chmod(0o755)
            cache = directory / "cache"
            cache.mkdir()
            cache.chmod(0o777)
            hosts = directory / "icinga-hosts.conf"
            shutil.copy(out / "monitoring" / "icinga-hosts.conf", hosts)
            hosts.chmod(0o644)
            zones = directory / "zones.conf"
            zones.write_text("")
            if (out / "monitoring" / "icinga-zones.conf").exists():
                shutil.copy(out / "monitoring" / "icinga-zones.conf", zones)
            zones.chmod(0o644)
            conf = directory / "icinga2.conf"
            conf.write_text(
                'const PluginDir = "/usr/lib/nagios/plugins"\n'
                'const NodeName = "master.example.com"\nconst ZoneName = "master"\n'
                "object Endpoint NodeName {}\n"
                "object Zone ZoneName { endpoints = [ NodeName ] }\n"
                "include <itl>\ninclude <plugins>\n"
                + "".join(
                    f'include "{ICINGA / n}"\n'
                    for n in ("constants.conf", "commands.conf", "services.conf")
                )
                + f'include "{zones}"\ninclude "{hosts}"\n'
            )
            conf.chmod(0o644)
            proc = icinga2("daemon", "-C", "-c", str(conf), "-x", "warning", cache=cache)
            assert proc.returncode == 0, proc.stdout
            return object_list(cache)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    return load


def description_nodes(example: str) -> tuple[str, list[tuple[str, str]]]:
    import tomllib

    data = tomllib.loads((EXAMPLES / example).read_text())
    nodes = [(n["name"], n["admin_address"]) for n in data["nodes"]]
    return data["cluster"]["name"], nodes


@pytest.mark.real
@pytest.mark.parametrize(
    "example, monitoring, mode",
    [
        ("seed-cluster.toml", None, "agent"),
        ("pacemaker-cluster.toml", None, "agent"),
        ("seed-cluster.toml", 'mode = "ssh"', "ssh"),
        ("pacemaker-cluster.toml", "nrpe = true", "nrpe"),
    ],
)
def test_generated_config_puts_every_service_where_it_belongs(
    tmp_path, load_generated, example, monitoring, mode
):
    out = generated_config(tmp_path, example, monitoring)
    services = load_generated(out)
    cluster, nodes = description_nodes(example)
    via, via_address = nodes[0]
    addresses = dict(nodes)
    hosts = {name.split("!")[0] for name in services}
    assert hosts == {cluster, *addresses}
    cluster_services = {n.split("!")[1] for n in services if n.startswith(f"{cluster}!")}
    view = {"cluster-view"} if mode != "nrpe" else set()  # check_kvmcluster: not by NRPE
    assert cluster_services == {"cluster-services", "vm-alloc", *view}
    for name, block in services.items():
        host, _, service = name.partition("!")
        runner = via if host == cluster else host
        command = attribute(block, "check_command")
        endpoint = attribute(block, "command_endpoint")
        assert host == cluster or service not in ("cluster-services", "vm-alloc", "cluster-view")
        if service.startswith("kvmcluster-"):  # agent/NRPE/SSH reachability, from here
            assert service == f"kvmcluster-{mode}" and host != cluster, name
            assert endpoint == '""', name
        elif mode == "agent":
            assert endpoint == f'"{runner}"', name
            assert command.startswith('"kvmcluster-') and not command.endswith('-by-ssh"'), name
        elif mode == "ssh":
            assert command.startswith('"kvmcluster-') and command.endswith('-by-ssh"'), name
            assert endpoint == '""', name
            assert f'* kvmcluster_ssh = "nagios@{addresses[runner]}"' in block, name
        else:
            assert command == '"nrpe"' and endpoint == '""', name
            assert f'* nrpe_address = "{addresses[runner]}"' in block, name
    if mode != "nrpe":
        assert {n.split("!")[1] for n in services if n.startswith(f"{via}!drbd-")}, "per resource"
        hosts_conf = (out / "monitoring" / "icinga-hosts.conf").read_text()
        for node, address in nodes:  # check_kvmcluster's --node: each node's admin address
            assert f'"{node}=nagios@{address}"' in hosts_conf


def test_generated_nrpe_cfg_has_every_command_of_the_services_and_parses(tmp_path):
    out = generated_config(tmp_path, "pacemaker-cluster.toml", 'mode = "nrpe"')
    commands = nrpe_commands(out / "monitoring" / "nrpe.cfg")
    used = set(
        re.findall(r'nrpe = "(check_kvmcluster_\w+)"', (ICINGA / "services.conf").read_text())
    )
    assert set(commands) == used == set(nrpe_commands(ICINGA / "nrpe.cfg"))
    for argv in commands.values():
        plugin_parser(Path(argv[0]).name).parse_args(argv[1:])
    assert "--vg kvm01=vg_kvm01" in " ".join(commands["check_kvmcluster_vm_alloc"])


@pytest.mark.parametrize(
    "monitoring, problem",
    [
        ('mode = "snmp"', "monitoring.mode: must be one of agent, nrpe, ssh"),
        ('checks = ["drbd", "disk"]', "monitoring.checks: unknown check 'disk'"),
        ('via = "node09"', "monitoring.via: 'node09' is not a node"),
        ('nrpe = true\nmode = "ssh"', "monitoring.nrpe: contradicts mode = 'ssh'"),
    ],
)
def test_description_refuses_a_bad_monitoring_section(tmp_path, monitoring, problem):
    from tests.plugin_runner import run_plugin

    text = (EXAMPLES / "pacemaker-cluster.toml").read_text()
    head, _, _ = text.partition("\n[monitoring]\n")
    description = tmp_path / "bad.toml"
    description.write_text(head + "\n[monitoring]\n" + monitoring + "\n")
    run = run_plugin("kvmcluster", "generate", str(description), "--output", str(tmp_path / "o"))
    assert run.returncode != 0
    assert problem in run.stdout + run.stderr, run.stdout + run.stderr


# --- the Icinga Director basket: generated from the same files, never edited by hand -------

BASKET = ICINGA / "director-basket.json"


def test_director_basket_is_the_generators_output():
    from kvmcluster.config.director import build

    assert BASKET.read_text() == build(str(ICINGA)), (
        "icinga/director-basket.json is stale: "
        "python3 -m kvmcluster.config.director -o icinga/director-basket.json"
    )


def test_director_basket_follows_the_schema_and_references_resolve():
    import json

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        (REPO / "kvmcluster" / "schemas" / "director-basket.schema.json").read_text()
    )
    basket = json.loads(BASKET.read_text())
    jsonschema.validate(basket, schema)
    commands, templates, fields = basket["Command"], basket["ServiceTemplate"], basket["Datafield"]
    for name, command in commands.items():
        assert command["object_name"] == name
        names = {fields[str(f["datafield_id"])]["varname"] for f in command["fields"]}
        macros = {
            (a.get("value") or a.get("set_if")).strip("$") for a in command["arguments"].values()
        }
        assert names == macros, name
        plugin = command["command"].split()[0]
        options = option_strings(plugin_parser(plugin))
        assert set(command["arguments"]) <= options, name
    for name, template in templates.items():
        assert template["object_name"] == name
        assert template["check_command"] in commands or template["check_command"] == "nrpe"
        if template["check_command"] == "nrpe":
            assert template["vars"]["nrpe_command"] in nrpe_commands(ICINGA / "nrpe.cfg")
    uuids = [o["uuid"] for part in basket.values() for o in part.values()]
    assert len(uuids) == len(set(uuids))
    # every plain CheckCommand of commands.conf, and every check of services.conf, is there
    text = (ICINGA / "commands.conf").read_text()
    assert set(commands) == set(re.findall(r'^object CheckCommand "([^"]+)"', text, re.M))
    checks = re.findall(r'^\t"([a-z-]+)" = \{$', (ICINGA / "services.conf").read_text(), re.M)
    checks = [c for c in checks if c != "cluster-view"]  # nrpe = false: reads the peers itself
    assert {t.removesuffix("-nrpe") for t in templates if t.endswith("-nrpe")} == {
        f"kvmcluster-{c}" for c in checks
    }


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ('object CheckCommand "x" {\n\tcommand = "check_x"\n}\n', 2, "not understood"),
        ('object CheckCommand "x" {\n\tvars.a = 3m\n}\n', 2, "not a literal"),
        ('object CheckCommand "x" {\n\targuments = {\n\t\t"-a" = {\n\t\t\tskip_key = true\n', 4,
         "unexpected in an argument"),
    ],
)  # fmt: skip
def test_director_reader_refuses_what_it_does_not_understand(text, line, reason):
    from kvmcluster.config.director import parse_commands
    from kvmcluster.errors import ParseError

    with pytest.raises(ParseError) as caught:
        parse_commands(text, "commands.conf")
    assert (caught.value.line, caught.value.reason[: len(reason)]) == (line, reason)


@pytest.mark.real
def test_a_node_gets_a_cluster_check_only_when_it_lists_it(tmp_path, load_generated):
    (tmp_path / "monitoring").mkdir()
    (tmp_path / "monitoring" / "icinga-hosts.conf").write_text(
        'object Host "lone" {\n\tcheck_command = "dummy"\n\tvars.kvmcluster_node = true\n'
        '\tvars.kvmcluster_checks = [ "drbd", "vm-alloc" ]\n}\n'
        'object Host "plain" {\n\tcheck_command = "dummy"\n\tvars.kvmcluster_node = true\n'
        '\tvars.kvmcluster_mode = "local"\n}\n'
    )
    services = set(load_generated(tmp_path))
    assert services == {"lone!drbd", "lone!vm-alloc"} | {
        f"plain!{s}" for s in ("drbd", *NODE_SERVICES)
    }


@pytest.mark.real
def test_the_old_mode_variables_still_select_the_mode(tmp_path, load_generated):
    """vars.kvmcluster_by_ssh/_agent/_nrpe = true, as before the mode variable: every check of
    a by-ssh host with drbd_resources goes by SSH (per-resource DRBD ran locally before)."""
    (tmp_path / "monitoring").mkdir()
    (tmp_path / "monitoring" / "icinga-hosts.conf").write_text(
        'object Host "old-ssh" {\n\tcheck_command = "dummy"\n\taddress = "192.0.2.8"\n'
        "\tvars.kvmcluster_node = true\n\tvars.kvmcluster_by_ssh = true\n"
        '\tvars.drbd_resources = [ "r0", "r1" ]\n\tvars.kvmcluster_check_interval = 5m\n}\n'
        'object Host "old-nrpe" {\n\tcheck_command = "dummy"\n\taddress = "192.0.2.9"\n'
        "\tvars.kvmcluster_node = true\n\tvars.kvmcluster_nrpe = true\n}\n"
    )
    services = load_generated(tmp_path)
    ssh = {n: b for n, b in services.items() if n.startswith("old-ssh!")}
    assert set(ssh) == {
        f"old-ssh!{s}"
        for s in ("drbd-r0", "drbd-r1", "cluster-quorum", "cluster-daemons", "cluster-lvm")
    } | {"old-ssh!kvmcluster-ssh"}
    for name, block in ssh.items():
        if not name.endswith("!kvmcluster-ssh"):
            assert attribute(block, "check_command").endswith('-by-ssh"'), name
            assert '* kvmcluster_ssh = "192.0.2.8"' in block, name
            assert attribute(block, "check_interval") == "300", name
    nrpe = {n: b for n, b in services.items() if n.startswith("old-nrpe!")}
    assert all(attribute(b, "check_command") == '"nrpe"' for b in nrpe.values())
    assert "old-nrpe!drbd" in nrpe and "old-nrpe!cluster-config-lint" in nrpe
