"""icinga/ as shipped, run by a real Icinga 2: a daemon of the test (as nagios, its own
dirs, the REST API on 127.0.0.1 with certificates made here) loads icinga/constants.conf,
commands.conf and services.conf unmodified plus the test's hosts, runs every applied check
(agent mode on the local endpoint, NRPE through a real nrpe, agentless through a real sshd),
and the state, output and perfdata it recorded are read back through the REST API."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.plugin_cases import ENTRY_POINTS
from tests.plugin_runner import FIXTURES, REPO

ICINGA2 = "/usr/sbin/icinga2"
NRPE = "/usr/sbin/nrpe"
SSHD = "/usr/sbin/sshd"
ITL_PLUGINS = Path("/usr/lib/nagios/plugins")
NODE_NAME = "monitor-he.kvmcluster.test"
API_USER, API_PASSWORD = "hE-test", "hE-secret-not-for-production"
SEED_NODES = ("node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com")

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(
        not (
            os.geteuid() == 0
            and os.path.exists(ICINGA2)
            and os.path.exists(NRPE)
            and os.path.exists(SSHD)
            and (ITL_PLUGINS / "check_nrpe").exists()
            and (ITL_PLUGINS / "check_ssh").exists()
            and shutil.which("openssl")
            and shutil.which("ssh")
        ),
        reason="needs root, icinga2-bin, nagios-nrpe-server/-plugin, monitoring-plugins-basic, "
        "openssh-server/-client and openssl",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_nagios(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, user="nagios", group="nagios", capture_output=True, text=True, timeout=60, **kwargs
    )


def wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} does not listen on 127.0.0.1:{port}")


def stop(proc: subprocess.Popen | None, pid_file: Path | None = None) -> None:
    """TERM the daemon we started (the pid it wrote, else our child), wait, then KILL."""
    if proc is None or proc.poll() is not None:
        return
    pid = proc.pid
    if pid_file is not None and pid_file.exists():
        text = pid_file.read_text().strip()
        pid = int(text) if text.isdigit() else pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 15)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class Tree:
    """What nagios runs and reads: the working tree's venv if nagios can run it (the
    checkout under /work here), else a copy of the package, its fixtures and the example
    captures under the test's directory, run by /usr/bin/python3 (CI's clone may sit under
    /root, which nagios cannot enter)."""

    def __init__(self, root: Path):
        # PluginDir holds the ITL's plugins; ours are in a directory of their own below it, as
        # the packages install them (KvmclusterPluginDir = PluginDir + "/kvmcluster")
        self.itl_dir = root / "plugins"
        self.plugin_dir = self.itl_dir / "kvmcluster"
        self.plugin_dir.mkdir(parents=True)
        venv_bin = REPO / ".venv" / "bin"
        probe = as_nagios(
            [
                str(venv_bin / "check_drbd"),
                "--proc-file",
                str(FIXTURES / "proc-drbd_84-dual-primary-ok.txt"),
            ]
        )
        forced = os.environ.get("KVMCLUSTER_TEST_COPY_TREE") == "1"
        if probe.returncode == 0 and not forced:
            self.mode = "venv"
            self.fixtures = FIXTURES
            self.captures = REPO / "examples" / "captures"
            for plugin, module in ENTRY_POINTS.items():
                if (venv_bin / plugin).exists():
                    (self.plugin_dir / plugin).symlink_to(venv_bin / plugin)
                else:  # a script the venv gets at its next reinstall
                    wrapper = self.plugin_dir / plugin
                    wrapper.write_text(f'#!/bin/sh\nexec {venv_bin / "python"} -m {module} "$@"\n')
                    wrapper.chmod(0o755)
        else:
            import nagiosplugin

            self.mode = "copy"
            lib = root / "lib"
            shutil.copytree(REPO / "kvmcluster", lib / "kvmcluster")
            shutil.copytree(Path(nagiosplugin.__file__).parent, lib / "nagiosplugin")
            self.fixtures = shutil.copytree(FIXTURES, root / "fixtures")
            self.captures = shutil.copytree(REPO / "examples" / "captures", root / "captures")
            for plugin, module in ENTRY_POINTS.items():
                wrapper = self.plugin_dir / plugin
                wrapper.write_text(
                    f'#!/bin/sh\nPYTHONPATH={lib} exec /usr/bin/python3 -c "import sys; '
                    f"from {module} import main; sys.argv[0] = '{plugin}'; "
                    f'sys.exit(main())" "$@"\n'
                )
            for path in [root, *root.rglob("*")]:
                if not path.is_symlink():
                    path.chmod(0o755 if path.is_dir() or path.parent == self.plugin_dir else 0o644)
        for itl in ("check_nrpe", "check_ssh"):
            (self.itl_dir / itl).symlink_to(ITL_PLUGINS / itl)

    def fx(self, name: str) -> str:
        return str(self.fixtures / name)

    def cap(self, scenario: str, name: str) -> str:
        return str(self.captures / scenario / name)


def openssl(*args) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(directory: Path) -> tuple[Path, Path]:
    """The test's CA (every instance's certificate is signed by it)."""
    directory.mkdir(parents=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=kvmcluster hE test CA", "-keyout", str(ca_key), "-out", str(ca_crt),
    )  # fmt: skip
    return ca_crt, ca_key


def make_certificates(certs: Path, name: str, ca: tuple[Path, Path]) -> None:
    """The node's certificate (CN = NodeName), as Icinga's DataDir/certs wants it."""
    certs.mkdir(parents=True)
    ca_crt, ca_key = ca
    shutil.copy(ca_crt, certs / "ca.crt")
    key, csr, crt = (certs / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-out", str(crt),
    )  # fmt: skip


def ssh_node(root: Path, tree: Tree) -> dict:
    """A real sshd on 127.0.0.1 whose 'node tools' print the split-brain capture."""
    directory = root / "sshd"
    directory.mkdir(parents=True)
    sb = lambda name: tree.cap("split-brain", name)  # noqa: E731
    inquorate = tree.fx("cman-tool-status_inquorate-activity-blocked.txt")
    tools = {
        "cat": "[ $# -eq 0 ] && exec /bin/cat\n"
        'for f in "$@"; do case "$f" in\n'
        f'  /proc/drbd) /bin/cat "{sb("proc-drbd.txt")}";;\n'
        f'  /proc/uptime) /bin/cat "{sb("uptime.txt")}";;\n'
        f'  /etc/cluster/cluster.conf) /bin/cat "{sb("cluster.conf")}";;\n'
        f'  /etc/drbd.conf) /bin/cat "{sb("drbd.conf")}";;\n'
        "  /etc/drbd.d/*) ;;\n"
        '  *) /bin/cat "$f";;\n'
        "esac; done\n",
        "cman_tool": 'case "$*" in\n'
        f'  status) exec /bin/cat "{inquorate}";;\n'
        f'  nodes) exec /bin/cat "{sb("cman-tool-nodes.txt")}";;\n'
        "esac\nexit 1\n",
        "clustat": f'[ "$*" = "-x" ] && exec /bin/cat "{sb("clustat.xml")}"\nexit 1\n',
        "ps": '[ "$*" = "-e -o pid=,ppid=,stat=,args=" ] && '
        f'exec /bin/cat "{tree.fx("ps_rhcs-node-fenced-dlm-dead.txt")}"\nexec /bin/ps "$@"\n',
        "vgs": f'exec /bin/cat "{sb("vgs.txt")}"\n',
        "pvs": f'exec /bin/cat "{sb("pvs.txt")}"\n',
        "lvmconfig": f'exec /bin/cat "{sb("lvmconfig.txt")}"\n',
        "lvs": "exit 0\n",  # the captures have no lvs: no LV to report
    }
    from tests import sshd_real

    sshd_real.keygen(directory / "user_key")
    nagios = pwd.getpwnam("nagios")
    os.chown(directory / "user_key", nagios.pw_uid, nagios.pw_gid)
    server = sshd_real.Sshd(directory / "server", directory / "user_key", tools)
    port, proc = server.port, server.proc
    (directory / "known_hosts").write_text(server.known_host)
    directory.chmod(0o755)
    options = [
        f"Port={port}",
        f"IdentityFile={directory / 'user_key'}",
        f"UserKnownHostsFile={directory / 'known_hosts'}",
        "StrictHostKeyChecking=yes",
    ]
    return {"proc": proc, "port": port, "options": options}


def nrpe_node(root: Path, tree: Tree) -> dict:
    """A real nrpe on 127.0.0.1 with icinga/nrpe.cfg's command names, on the healthy capture."""
    h = lambda name: tree.cap("healthy", name)  # noqa: E731
    p = tree.plugin_dir
    vgs = " ".join(f"--vg {line.strip()}" for line in Path(h("vg-map.txt")).read_text().split())
    libvirt = " ".join(f"--libvirt {n}=test://{h(f'libvirt-{n}.xml')}" for n in SEED_NODES)
    commands = {
        "check_kvmcluster_drbd": f"{p}/check_drbd --role dual-primary "
        f"--proc-file {h('proc-drbd.txt')} --drbd-conf {h('drbd.conf')}",
        "check_kvmcluster_cluster": f"{p}/check_cluster --cman-status-file "
        f"{h('cman-tool-status.txt')} --cman-nodes-file {h('cman-tool-nodes.txt')} "
        f"--clustat-file {h('clustat.xml')}",
        "check_kvmcluster_services": f"{p}/check_cluster_services --clustat-file "
        f"{h('clustat.xml')}",
        "check_kvmcluster_daemons": f"{p}/check_cluster_daemons --ps-file {h('ps.txt')} "
        f"--uptime-file {h('uptime.txt')}",
        "check_kvmcluster_vm_alloc": f"{p}/check_vm_alloc -t 20 --cluster-conf "
        f"{h('cluster.conf')} --clustat-file {h('clustat.xml')} {libvirt} {vgs}",
        "check_kvmcluster_lvm": f"{p}/check_cluster_lvm -w 4% -c 2% --vgs-file {h('vgs.txt')} "
        f"--pvs-file {h('pvs.txt')} --lvm-conf-file {h('lvmconfig.txt')} "
        f"--drbd-conf {h('drbd.conf')}",
        "check_kvmcluster_lint": f"{p}/kvmcluster lint --hosts {tree.fx('etc-hosts_seed.txt')}",
    }
    directory = root / "nrpe"
    directory.mkdir()
    directory.chmod(0o777)
    port = free_port()
    conf = directory / "nrpe.cfg"
    conf.write_text(
        f"server_address=127.0.0.1\nserver_port={port}\nallowed_hosts=127.0.0.1\n"
        f"dont_blame_nrpe=0\npid_file={directory}/nrpe.pid\nnrpe_user=nagios\n"
        f"nrpe_group=nagios\ncommand_timeout=30\n"
        + "".join(f"command[{name}]={line}\n" for name, line in commands.items())
    )
    conf.chmod(0o644)
    proc = subprocess.Popen(
        [NRPE, "-c", str(conf), "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_port(port, proc, "nrpe")
    return {"proc": proc, "port": port, "commands": commands, "pid_file": directory / "nrpe.pid"}


def icinga_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is an Icinga 2 string literal


def icinga_array(values: list[str]) -> str:
    return "[ " + ", ".join(icinga_string(v) for v in values) + " ]"


def hosts_config(tree: Tree, ssh: dict, nrpe: dict) -> str:
    """The hosts Icinga monitors: their vars point the shipped CheckCommands at captures."""

    def node_vars(scenario: str, lvm_warning: str = "4%", lvm_critical: str = "2%") -> list[str]:
        c = lambda name: icinga_string(tree.cap(scenario, name))  # noqa: E731
        return [
            f"vars.kvmcluster_drbd_proc_file = {c('proc-drbd.txt')}",
            f"vars.kvmcluster_drbd_conf = {c('drbd.conf')}",
            f"vars.kvmcluster_cluster_cman_nodes_file = {c('cman-tool-nodes.txt')}",
            f"vars.kvmcluster_cluster_clustat_file = {c('clustat.xml')}",
            f"vars.kvmcluster_cluster_daemons_uptime_file = {c('uptime.txt')}",
            f"vars.kvmcluster_cluster_lvm_vgs_file = {c('vgs.txt')}",
            f"vars.kvmcluster_cluster_lvm_pvs_file = {c('pvs.txt')}",
            f"vars.kvmcluster_cluster_lvm_lvm_conf_file = {c('lvmconfig.txt')}",
            f"vars.kvmcluster_cluster_lvm_drbd_conf = {c('drbd.conf')}",
            f'vars.kvmcluster_cluster_lvm_warning = "{lvm_warning}"',
            f'vars.kvmcluster_cluster_lvm_critical = "{lvm_critical}"',
            "vars.kvmcluster_sudo = false",
        ]

    def cluster_vars(scenario: str) -> list[str]:
        c = lambda name: icinga_string(tree.cap(scenario, name))  # noqa: E731
        libvirt = [f"{n}=test://{tree.cap(scenario, f'libvirt-{n}.xml')}" for n in SEED_NODES]
        vgs = Path(tree.cap(scenario, "vg-map.txt")).read_text().split()
        return [
            f"vars.kvmcluster_cluster_services_clustat_file = {c('clustat.xml')}",
            f"vars.kvmcluster_vm_alloc_cluster_conf = {c('cluster.conf')}",
            f"vars.kvmcluster_vm_alloc_clustat_file = {c('clustat.xml')}",
            f"vars.kvmcluster_vm_alloc_libvirt = {icinga_array(libvirt)}",
            f"vars.kvmcluster_vm_alloc_vg = {icinga_array(vgs)}",
            # the cluster view (check_kvmcluster) on the node's capture
            f"vars.kvmcluster_cluster_view_from = {icinga_array([tree.cap(scenario, '')])}",
            "vars.kvmcluster_sudo = false",
        ]

    def host(name: str, *lines: str) -> str:
        body = [
            'check_command = "dummy"',
            'address = "127.0.0.1"',
            "zone = ZoneName",
            "vars.kvmcluster_max_check_attempts = 1",  # HARD at once: dependencies apply
            *lines,
        ]
        return f"object Host {icinga_string(name)} {{\n" + "".join(f"\t{b}\n" for b in body) + "}\n"

    hosts = [
        # agent mode on the single instance's own endpoint, healthy capture, DRBD per resource
        host(
            "hE-agent-ok",
            "vars.kvmcluster_node = true",
            'vars.kvmcluster_mode = "agent"',
            "vars.kvmcluster_endpoint = NodeName",
            "vars.kvmcluster_zone = ZoneName",
            'vars.drbd_resources = [ "drbd0", "drbd1", "drbd2" ]',
            'vars.kvmcluster_drbd_role = "dual-primary"',
            *node_vars("healthy"),
            "vars.kvmcluster_cluster_cman_status_file = "
            + icinga_string(tree.cap("healthy", "cman-tool-status.txt")),
            "vars.kvmcluster_cluster_daemons_ps_file = "
            + icinga_string(tree.cap("healthy", "ps.txt")),
            "vars.kvmcluster_lint_hosts = " + icinga_string(tree.fx("etc-hosts_seed.txt")),
            'vars.kvmcluster_intervals = { "cluster-config-lint" = 1h }',
        ),
        # agent mode, split-brain capture, lost quorum, dead fence daemons, seed's config
        host(
            "hE-agent-fail",
            "vars.kvmcluster_node = true",
            'vars.kvmcluster_mode = "agent"',
            "vars.kvmcluster_endpoint = NodeName",
            "vars.kvmcluster_zone = ZoneName",
            *node_vars("split-brain", "10%", "5%"),
            "vars.kvmcluster_cluster_cman_status_file = "
            + icinga_string(tree.fx("cman-tool-status_inquorate-activity-blocked.txt")),
            "vars.kvmcluster_cluster_daemons_ps_file = "
            + icinga_string(tree.fx("ps_rhcs-node-fenced-dlm-dead.txt")),
            "vars.kvmcluster_lint_cluster_conf = "
            + icinga_string(tree.cap("split-brain", "cluster.conf")),
            "vars.kvmcluster_lint_drbd_conf = "
            + icinga_string(tree.cap("split-brain", "drbd.conf")),
        ),
        host(
            "hE-cluster-ok",
            "vars.kvmcluster_cluster = true",
            'vars.kvmcluster_via = "hE-agent-ok"',
            *cluster_vars("healthy"),
        ),
        host(
            "hE-cluster-fail",
            "vars.kvmcluster_cluster = true",
            'vars.kvmcluster_via = "hE-agent-fail"',
            *cluster_vars("split-brain"),
        ),
        # agentless: the plugins run here and read the node over the real sshd
        host(
            "hE-ssh",
            "vars.kvmcluster_node = true",
            'vars.kvmcluster_mode = "ssh"',
            'vars.kvmcluster_ssh = "root@127.0.0.1"',
            f"vars.kvmcluster_ssh_options = {icinga_array(ssh['options'])}",
            f"vars.kvmcluster_ssh_port = {ssh['port']}",
            'vars.kvmcluster_cluster_stack = "cman"',
            'vars.kvmcluster_cluster_daemons_profile = "rhcs"',
            'vars.drbd_resources = [ "drbd0", "drbd1" ]',
            "vars.kvmcluster_sudo = false",
        ),
        # NRPE: the commands are fixed in the node's nrpe.cfg
        host(
            "hE-nrpe",
            "vars.kvmcluster_node = true",
            'vars.kvmcluster_mode = "nrpe"',
            f"vars.nrpe_port = {nrpe['port']}",
        ),
        host(
            "hE-cluster-nrpe",
            "vars.kvmcluster_cluster = true",
            'vars.kvmcluster_via = "hE-nrpe"',
        ),
    ]
    return "\n".join(hosts)


class Icinga:
    """One `icinga2 daemon` as nagios, every directory its own under root, the REST API on
    127.0.0.1:port. conf is the body of its icinga2.conf after the common head."""

    def __init__(
        self,
        root: Path,
        name: str,
        ca: tuple[Path, Path],
        conf: str,
        zones: dict[str, dict[str, str]] | None = None,
        zone: str | None = None,
        plugin_dir: Path | None = None,
        port: int | None = None,
    ):
        self.root = root
        self.name = name
        self.port = port or free_port()
        d = {n: root / n for n in ("etc", "data", "log", "cache", "spool", "run", "zones.d")}
        for path in d.values():
            path.mkdir(parents=True)
        for zone_name, files in (zones or {}).items():
            (d["zones.d"] / zone_name).mkdir()
            for file_name, text in files.items():
                (d["zones.d"] / zone_name / file_name).write_text(text)
        make_certificates(d["data"] / "certs", name, ca)
        nagios = pwd.getpwnam("nagios")
        for n in ("data", "log", "cache", "spool", "run"):
            for path in [d[n], *d[n].rglob("*")]:
                os.chown(path, nagios.pw_uid, nagios.pw_gid)
        config = d["etc"] / "icinga2.conf"
        config.write_text(
            f"const PluginDir = {icinga_string(str(plugin_dir or ITL_PLUGINS))}\n"
            f"const NodeName = {icinga_string(name)}\n"
            f"const ZoneName = {icinga_string(zone or name)}\n"
            'const TicketSalt = ""\n'
            'object IcingaApplication "app" {}\n'
            'object FileLogger "main-log" { severity = "information"; '
            'path = LogDir + "/icinga2.log" }\n'
            f"object ApiUser {icinga_string(API_USER)} {{ password = "
            f'{icinga_string(API_PASSWORD)}; permissions = [ "*" ] }}\n'
            "include <itl>\ninclude <plugins>\n" + conf
        )
        for path in (d["etc"], *d["etc"].rglob("*"), d["zones.d"], *d["zones.d"].rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.pid_file = d["run"] / "icinga2.pid"
        self.log = d["log"] / "icinga2.log"
        env = {**os.environ, "ICINGA2_USER": "nagios", "ICINGA2_GROUP": "nagios"}
        argv = [
            ICINGA2, "daemon", "-c", str(config),
            f"-DConfigDir={d['etc']}", f"-DDataDir={d['data']}", f"-DLogDir={d['log']}",
            f"-DCacheDir={d['cache']}", f"-DSpoolDir={d['spool']}", f"-DInitRunDir={d['run']}",
            f"-DPidPath={self.pid_file}", f"-DZonesDir={d['zones.d']}",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.context = ssl.create_default_context(cafile=str(ca[0]))
        self.context.check_hostname = False
        token = base64.b64encode(f"{API_USER}:{API_PASSWORD}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"icinga2 exited {self.proc.returncode}: {self.log_tail()}")
            try:
                self.api("GET", "/v1/status/IcingaApplication")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def log_tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"https://127.0.0.1:{self.port}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={**self.headers, "X-HTTP-Method-Override": method},
        )
        with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
            return json.loads(response.read())

    def services(self) -> dict[str, dict]:
        attrs = "&".join(
            f"attrs={a}"
            for a in (
                "last_check_result",
                "last_reachable",
                "check_command",
                "command_endpoint",
                "notes_url",
                "groups",
                "check_interval",
                "max_check_attempts",
                "vars",
            )
        )
        found = self.api("GET", f"/v1/objects/services?{attrs}")["results"]
        return {r["name"]: r["attrs"] for r in found}

    def check_round(self, timeout: float = 40) -> dict[str, dict]:
        """Force every check now; wait until each has a result from after the request."""
        started = time.time()
        self.api(
            "POST",
            "/v1/actions/reschedule-check",
            {"type": "Service", "filter": "true", "force": True, "next_check": started},
        )
        deadline = time.monotonic() + timeout
        while True:
            services = self.services()
            pending = [
                name
                for name, attrs in services.items()
                if not attrs["last_check_result"]
                or attrs["last_check_result"]["execution_end"] < started
            ]
            if not pending:
                return services
            if time.monotonic() > deadline:
                raise AssertionError(f"no check result for {pending}: {self.log_tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        stop(self.proc, self.pid_file)


@pytest.fixture(scope="module")
def icinga():
    root = Path(tempfile.mkdtemp(prefix="kvmcluster-hE-icinga-", dir="/tmp"))
    root.chmod(0o755)
    daemons = []
    try:
        tree = Tree(root)
        ssh = ssh_node(root, tree)
        daemons.append((ssh["proc"], None))
        nrpe = nrpe_node(root, tree)
        daemons.append((nrpe["proc"], nrpe["pid_file"]))
        port = free_port()
        includes = "".join(
            f"include {icinga_string(str(REPO / 'icinga' / name))}\n"
            for name in ("constants.conf", "commands.conf", "services.conf")
        )
        (root / "hosts.conf").write_text(hosts_config(tree, ssh, nrpe))
        (root / "hosts.conf").chmod(0o644)
        instance = Icinga(
            root / "icinga",
            NODE_NAME,
            make_ca(root / "ca"),
            "object Endpoint NodeName {}\n"
            "object Zone ZoneName { endpoints = [ NodeName ] }\n"
            'object CheckerComponent "checker" {}\n'
            f'object ApiListener "api" {{ bind_host = "127.0.0.1"; bind_port = {port}; '
            "accept_commands = true; accept_config = false }\n"
            + includes
            + f"include {icinga_string(str(root / 'hosts.conf'))}\n",
            plugin_dir=tree.itl_dir,
            port=port,
        )
        daemons.append((instance.proc, instance.pid_file))
        instance.check_round()  # the parents' HARD states are known after this round
        instance.results = instance.check_round()
        instance.tree = tree
        instance.ssh_proc = ssh["proc"]
        instance.plugin_dir = tree.plugin_dir
        yield instance
    finally:
        for proc, pid_file in reversed(daemons):
            stop(proc, pid_file)
        shutil.rmtree(root, ignore_errors=True)


def result(icinga, name: str) -> tuple[int, str, list[str]]:
    check = icinga.results[name]["last_check_result"]
    return int(check["state"]), check["output"], list(check["performance_data"] or [])


# Every service Icinga built from icinga/services.conf for the test hosts, with the state,
# the start of the output and perfdata labels it recorded.
SPLIT = "DRBD CRITICAL - drbd0 StandAlone (possible split brain)"
DEAD = "DAEMONS CRITICAL - not running: fenced, dlm_controld"
LOW = "LVM WARNING - volnode05 free 5.0% (2.0 GiB) below 10%"
MOVED = "VM_ALLOC WARNING - aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr runs on node05, belongs on"
PLACED = "VM_ALLOC OK - 2 VMs on their preferred nodes"
LVM_OK = "LVM OK - 3 volume groups on DRBD OK"
EXPECTED = {
    "hE-agent-ok!drbd-drbd0": (0, "DRBD OK - 1 resource Connected and UpToDate", "drbd0_oos"),
    "hE-agent-ok!drbd-drbd1": (0, "DRBD OK - 1 resource Connected and UpToDate", "drbd1_oos"),
    "hE-agent-ok!drbd-drbd2": (0, "DRBD OK - 1 resource Connected and UpToDate", "drbd2_oos"),
    "hE-agent-ok!cluster-quorum": (0, "CLUSTER OK - quorate, 2 of 2 nodes online", "nodes_online"),
    "hE-agent-ok!cluster-daemons": (0, "DAEMONS OK - 10 of 10 daemons running", "running"),
    "hE-agent-ok!cluster-lvm": (0, LVM_OK, "volnode05_free"),
    "hE-agent-ok!cluster-config-lint": (0, "LINT OK - no findings in etc-hosts_seed.txt", None),
    "hE-agent-fail!drbd": (2, SPLIT, "drbd0_oos"),
    "hE-agent-fail!cluster-quorum": (2, "CLUSTER CRITICAL - not quorate", None),
    "hE-agent-fail!cluster-daemons": (2, DEAD, None),
    "hE-agent-fail!cluster-lvm": (1, LOW, "volnode05_free"),
    "hE-agent-fail!cluster-config-lint": (2, "LINT CRITICAL - 2 error(s), 2 warning(s)", None),
    "hE-cluster-ok!cluster-services": (0, "SERVICES OK - 2 services OK", "services_started"),
    "hE-cluster-ok!vm-alloc": (0, PLACED, "vms_misplaced"),
    "hE-cluster-fail!cluster-services": (0, "SERVICES OK - 2 services OK", "services_started"),
    "hE-cluster-fail!vm-alloc": (1, MOVED, "vms_misplaced"),
    "hE-cluster-ok!cluster-view": (0, "KVMCLUSTER OK - 1 node, no cluster", "nodes_reachable"),
    "hE-cluster-fail!cluster-view": (2, "KVMCLUSTER CRITICAL - ", "nodes_reachable"),
    "hE-ssh!drbd-drbd0": (2, SPLIT, "drbd0_oos"),
    "hE-ssh!drbd-drbd1": (1, "DRBD WARNING - drbd1 SyncSource", "drbd1_sync"),
    "hE-ssh!cluster-quorum": (2, "CLUSTER CRITICAL - not quorate", None),
    "hE-ssh!cluster-daemons": (2, DEAD, None),
    "hE-ssh!cluster-lvm": (0, LVM_OK, "volnode05_free"),
    "hE-ssh!kvmcluster-ssh": (0, "SSH OK - OpenSSH", None),
    "hE-nrpe!drbd": (0, "DRBD OK - 3 resources Connected and UpToDate", "drbd0_oos"),
    "hE-nrpe!cluster-quorum": (0, "CLUSTER OK - quorate, 2 of 2 nodes online", "nodes_online"),
    "hE-nrpe!cluster-daemons": (0, "DAEMONS OK - 10 of 10 daemons running", "running"),
    "hE-nrpe!cluster-lvm": (0, LVM_OK, "volnode05_free"),
    "hE-nrpe!cluster-config-lint": (0, "LINT OK - no findings in etc-hosts_seed.txt", None),
    "hE-nrpe!kvmcluster-nrpe": (0, "NRPE v", None),
    "hE-cluster-nrpe!cluster-services": (0, "SERVICES OK - 2 services OK", "services_started"),
    "hE-cluster-nrpe!vm-alloc": (0, PLACED, "vms_misplaced"),
}  # fmt: skip


def test_icinga_applies_exactly_the_expected_services(icinga):
    assert sorted(icinga.results) == sorted(EXPECTED)


@pytest.mark.parametrize("service", sorted(EXPECTED))
def test_icinga_records_state_output_and_perfdata(icinga, service):
    state, output, perfdata = result(icinga, service)
    want_state, want_output, want_label = EXPECTED[service]
    assert (state, output[: len(want_output)]) == (want_state, want_output), output
    assert "Traceback" not in output, output
    if want_label:
        labels = [p.split("=", 1)[0].strip("'") for p in perfdata]
        assert want_label in labels, perfdata


def test_agent_checks_run_on_the_nodes_endpoint(icinga):
    for name, attrs in icinga.results.items():
        if name.startswith(("hE-agent-", "hE-cluster-ok!", "hE-cluster-fail!")):
            if not name.endswith("!kvmcluster-agent"):
                assert attrs["command_endpoint"] == NODE_NAME, name
                assert attrs["check_command"].startswith("kvmcluster-"), name
        else:
            assert attrs["command_endpoint"] == "", name


def test_ssh_host_runs_every_check_by_ssh_and_no_lint(icinga):
    for name, attrs in icinga.results.items():
        if name.startswith("hE-ssh!") and name != "hE-ssh!kvmcluster-ssh":
            assert attrs["check_command"].endswith("-by-ssh"), name
    assert "hE-ssh!cluster-config-lint" not in icinga.results


def test_nrpe_host_names_the_nrpe_cfg_commands(icinga):
    for name, attrs in icinga.results.items():
        if name.startswith(("hE-nrpe!", "hE-cluster-nrpe!")):
            assert attrs["check_command"] == "nrpe", name


def test_cluster_checks_are_silenced_while_the_node_running_them_has_lost_quorum(icinga):
    for name in ("hE-cluster-fail!vm-alloc", "hE-cluster-fail!cluster-services"):
        assert icinga.results[name]["last_reachable"] is False, name
    for name in ("hE-cluster-ok!vm-alloc", "hE-cluster-ok!cluster-services"):
        assert icinga.results[name]["last_reachable"] is True, name
    # the node's own checks stay loud: a split brain is never silenced by lost quorum
    assert icinga.results["hE-agent-fail!drbd"]["last_reachable"] is True


def test_per_host_overrides_and_notes_url(icinga):
    lint = icinga.results["hE-agent-ok!cluster-config-lint"]
    assert lint["check_interval"] == 3600
    assert icinga.results["hE-agent-fail!cluster-config-lint"]["check_interval"] == 900
    assert icinga.results["hE-agent-ok!drbd-drbd0"]["max_check_attempts"] == 1
    assert icinga.results["hE-agent-ok!drbd-drbd0"]["notes_url"].endswith("README.md#check_drbd")
    assert icinga.results["hE-cluster-ok!vm-alloc"]["notes_url"].endswith("#check_vm_alloc")
    assert icinga.results["hE-ssh!drbd-drbd0"]["groups"] == ["kvmcluster", "kvmcluster-drbd"]


def test_the_node_of_a_dead_transport_is_silenced(icinga):
    """Stop the test's sshd: the SSH check goes CRITICAL and the node's checks unreachable."""
    stop(icinga.ssh_proc)
    for _ in range(5):  # the SSH check turns HARD on its 2nd attempt; then the children follow
        services = icinga.check_round()
        if services["hE-ssh!cluster-quorum"]["last_reachable"] is False:
            break
    assert services["hE-ssh!kvmcluster-ssh"]["last_check_result"]["state"] == 2
    assert "refused" in services["hE-ssh!cluster-quorum"]["last_check_result"]["output"]
    assert services["hE-ssh!cluster-quorum"]["last_reachable"] is False
    assert services["hE-ssh!cluster-quorum"]["last_check_result"]["state"] == 3
    assert services["hE-agent-ok!drbd-drbd0"]["last_reachable"] is True


def test_director_basket_commands_are_what_icinga_built_from_commands_conf(icinga):
    """The real Icinga's CheckCommand objects (imports resolved by Icinga itself) against the
    generated Director basket: same command line, arguments and default vars."""
    basket = json.loads((REPO / "icinga" / "director-basket.json").read_text())["Command"]
    found = icinga.api("GET", "/v1/objects/checkcommands?attrs=command&attrs=arguments&attrs=vars")
    built = {r["name"]: r["attrs"] for r in found["results"] if r["name"] in basket}
    assert set(built) == set(basket)
    for name, command in basket.items():
        plugin, *fixed = command["command"].split()
        assert built[name]["command"] == [str(icinga.plugin_dir / plugin), *fixed], name
        assert built[name]["vars"] == command["vars"], name
        arguments = {
            option: {
                k: v
                for k, v in spec.items()
                if k in ("value", "set_if", "repeat_key", "description")
            }
            for option, spec in built[name]["arguments"].items()
        }
        assert arguments == command["arguments"], name


# --- a master and an agent, set up as README's "Icinga 2" section says ---------------------

MASTER, AGENT = "master-he.kvmcluster.test", "agent-he.kvmcluster.test"
AGENT_DESCRIPTION = f"""
[cluster]
name = "hE-c02"
stack = "pacemaker"

[[nodes]]
name = "{AGENT}"
node_id = 1
admin_address = "127.0.0.1"

[monitoring]
mode = "agent"
checks = ["drbd", "cluster", "daemons", "lint", "services"]
"""
PREFIXES = {
    "drbd": "DRBD ",
    "cluster-quorum": "CLUSTER ",
    "cluster-daemons": "DAEMONS ",
    "cluster-config-lint": "LINT ",
    "cluster-services": "SERVICES ",
}


@pytest.fixture(scope="module")
def master_and_agent():
    """The master holds icinga/ (commands.conf in the global zone global-templates, synced to
    the agent; services.conf and the generated hosts in zones.d/master) and the generated
    zones; the agent has only its constant KvmclusterPluginDir and accepts config and
    commands. The agent connects to the master; the checks run on the agent."""
    from tests.plugin_runner import run_plugin

    root = Path(tempfile.mkdtemp(prefix="kvmcluster-hE-agent-", dir="/tmp"))
    root.chmod(0o755)
    started = []
    try:
        tree = Tree(root)
        (root / "cluster.toml").write_text(AGENT_DESCRIPTION)
        out = root / "generated"
        run = run_plugin("kvmcluster", "generate", str(root / "cluster.toml"), "--output", str(out))
        assert run.returncode == 0, run.stdout + run.stderr
        (root / "zones.conf").write_text((out / "monitoring" / "icinga-zones.conf").read_text())
        (root / "zones.conf").chmod(0o644)
        ca = make_ca(root / "ca")
        master_port, agent_port = free_port(), free_port()
        icinga_files = REPO / "icinga"
        master = Icinga(
            root / "master",
            MASTER,
            ca,
            f"const KvmclusterPluginDir = {icinga_string(str(tree.plugin_dir))}\n"
            'const KvmclusterReadmeUrl = "https://git.example.com/kvmcluster/README.md"\n'
            "object Endpoint NodeName {}\n"
            "object Zone ZoneName { endpoints = [ NodeName ] }\n"
            'object Zone "global-templates" { global = true }\n'
            f"include {icinga_string(str(root / 'zones.conf'))}\n"
            'object CheckerComponent "checker" {}\n'
            f'object ApiListener "api" {{ bind_host = "127.0.0.1"; bind_port = {master_port}; '
            "accept_commands = false; accept_config = false }\n",
            zones={
                "global-templates": {
                    "kvmcluster-commands.conf": (icinga_files / "commands.conf").read_text()
                },
                "master": {
                    "kvmcluster-services.conf": (icinga_files / "services.conf").read_text(),
                    "kvmcluster-hosts.conf": (out / "monitoring" / "icinga-hosts.conf").read_text(),
                },
            },
            zone="master",
            port=master_port,
        )
        started.append(master)
        agent = Icinga(
            root / "agent",
            AGENT,
            ca,
            f"const KvmclusterPluginDir = {icinga_string(str(tree.plugin_dir))}\n"
            f'object Endpoint "{MASTER}" {{ host = "127.0.0.1"; port = {master_port} }}\n'
            f'object Zone "master" {{ endpoints = [ "{MASTER}" ] }}\n'
            "object Endpoint NodeName {}\n"
            'object Zone ZoneName { endpoints = [ NodeName ]; parent = "master" }\n'
            'object Zone "global-templates" { global = true }\n'
            f'object ApiListener "api" {{ bind_host = "127.0.0.1"; bind_port = {agent_port}; '
            "accept_commands = true; accept_config = true }\n",
            port=agent_port,
        )
        started.append(agent)
        master.tree = tree
        master.agent = agent
        yield master
    finally:
        for instance in reversed(started):
            instance.stop()
        shutil.rmtree(root, ignore_errors=True)


def agent_round(master, timeout: float = 45) -> dict[str, dict]:
    """Force the checks until the agent (synced commands.conf) has answered every one."""
    deadline = time.monotonic() + timeout
    while True:
        services = master.check_round()
        done = {
            name: attrs
            for name, attrs in services.items()
            if attrs["last_check_result"]["check_source"] == AGENT
            or name.endswith("!kvmcluster-agent")
        }
        waiting = [
            name
            for name, attrs in services.items()
            if name not in done
            or "does not exist" in attrs["last_check_result"]["output"]
            or "is not connected" in attrs["last_check_result"]["output"]
        ]
        if not waiting:
            return services
        if time.monotonic() > deadline:
            raise AssertionError({n: services[n]["last_check_result"]["output"] for n in waiting})
        time.sleep(1)


def test_master_runs_the_generated_services_on_the_agent(master_and_agent):
    services = agent_round(master_and_agent)
    assert sorted(services) == sorted(
        [f"{AGENT}!{s}" for s in ("drbd", "cluster-quorum", "cluster-daemons")]
        + [f"{AGENT}!cluster-config-lint", f"{AGENT}!kvmcluster-agent", "hE-c02!cluster-services"]
    )
    for name, attrs in services.items():
        check = attrs["last_check_result"]
        service = name.split("!")[1]
        if service == "kvmcluster-agent":  # the master asks its own cluster component
            assert check["check_source"] == MASTER and int(check["state"]) == 0, check
            assert check["output"].startswith(f"Zone '{AGENT}' is connected."), check
            continue
        # the plugin itself answered, on the agent, with the command synced from the master
        assert attrs["command_endpoint"] == AGENT, name
        assert check["check_source"] == AGENT, name
        assert check["output"].startswith(PREFIXES[service]), check["output"]
        assert 0 <= int(check["state"]) <= 3
        assert check["command"][0].startswith(f"{master_and_agent.tree.plugin_dir}/"), check


def test_agent_got_the_commands_through_the_global_zone(master_and_agent):
    agent = master_and_agent.agent
    found = agent.api(
        "GET",
        "/v1/objects/checkcommands?attrs=package&filter=match(%22kvmcluster-*%22,checkcommand.name)",
    )
    assert {r["name"] for r in found["results"]} >= {"kvmcluster-drbd", "kvmcluster-lint"}
    assert {r["attrs"]["package"] for r in found["results"]} == {"_cluster"}
