"""The Debian package and the RPM (issue 23), for real: scripts/package.sh builds both from a
copy of the tree, lintian checks the .deb, apt-get installs it with Debian's own Python
packages, every installed plugin answers the example captures and the fixtures exactly as the
working tree does, icinga2 finds the CheckCommands through `include <plugins-contrib>`, and
`apt-get purge` leaves nothing behind. The package is purged even when a test fails.

Needs root, debhelper, dh-python, lintian, rpm (rpmbuild) and icinga2; about 60 s."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

import kvmcluster
from tests.plugin_cases import ENTRY_POINTS, PLUGINS, REPO, case_id, cases, comparable

VERSION = kvmcluster.__version__
PLUGIN_DIR = "/usr/lib/nagios/plugins/kvmcluster"
RPM_PLUGIN_DIR = "/usr/lib64/nagios/plugins/kvmcluster"
CONTRIB = "/usr/share/icinga2/include/plugins-contrib.d/kvmcluster.conf"
NRPE = "/etc/nagios/nrpe.d/kvmcluster.cfg"
SUDOERS = "/etc/kvmcluster/sudoers"
SUDOERS_ENABLED = "/etc/sudoers.d/kvmcluster"
APT = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q"]
# the installed package runs with nothing of the tree or the venv around it
CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "HOME": "/root",
}


def sh(*argv: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, **kwargs)
    if check:
        assert proc.returncode == 0, f"{argv}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_the_packages_carry_the_version_of_the_code():
    changelog = (REPO / "debian/changelog").read_text().splitlines()[0]
    assert changelog.startswith(f"kvmcluster ({VERSION}) ")
    spec = (REPO / "kvmcluster.spec").read_text()
    assert re.search(rf"^Version:\s+{re.escape(VERSION)}$", spec, re.M)


def _missing_tools() -> list[str]:
    tools = ("dpkg-buildpackage", "dh", "dh_python3", "lintian", "rpmbuild", "rpm2archive")
    return [tool for tool in tools if shutil.which(tool) is None]


BUILD_ARTEFACTS = ("debian/.debhelper", "debian/kvmcluster", "debian/files", ".pybuild")


def _debian_dir() -> set[str]:
    return {str(p.relative_to(REPO)) for p in (REPO / "debian").rglob("*")}


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    missing = _missing_tools()
    if missing:
        pytest.skip(
            f"packaging tools missing: {', '.join(missing)} (debhelper dh-python lintian rpm)"
        )
    out = tmp_path_factory.mktemp("hF-packages")
    before = _debian_dir()
    sh("sh", str(REPO / "scripts/package.sh"), str(out))
    deb = out / f"kvmcluster_{VERSION}_all.deb"
    rpms = sorted(out.glob(f"kvmcluster-{VERSION}-*.noarch.rpm"))
    assert deb.exists() and len(rpms) == 1, sorted(p.name for p in out.iterdir())
    return {"deb": deb, "rpm": rpms[0], "debian_before": before, "debian_after": _debian_dir()}


@pytest.mark.real
def test_the_build_leaves_nothing_in_the_tree(packages):
    assert packages["debian_after"] == packages["debian_before"]
    for artefact in BUILD_ARTEFACTS:
        assert not (REPO / artefact).exists(), artefact
    assert not list(REPO.parent.glob("kvmcluster_*"))  # dpkg-buildpackage writes to ..


@pytest.mark.real
def test_lintian_reports_no_error(packages):
    deb = packages["deb"]
    proc = sh("lintian", "--fail-on", "error", str(deb), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not [line for line in proc.stdout.splitlines() if line.startswith("E:")]


def _field(deb: Path, name: str) -> str:
    return sh("dpkg-deb", "-f", str(deb), name).stdout.strip()


@pytest.mark.real
def test_the_deb_depends_on_debians_python_packages(packages):
    deb = packages["deb"]
    assert _field(deb, "Architecture") == "all"
    depends = {d.split()[0] for d in _field(deb, "Depends").split(", ")}
    assert {"python3-nagiosplugin", "python3-lxml", "python3-psutil"} <= depends
    assert "python3-libvirt" not in depends  # optional: check_vm_alloc says what to install
    assert "python3-libvirt" in _field(deb, "Recommends")


@pytest.fixture(scope="module")
def installed(packages):
    """The .deb installed with apt-get; purged at the end whatever happened."""
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    status = sh("dpkg-query", "-W", "-f=${Status}", "kvmcluster", check=False).stdout
    if "installed" in status.split():
        pytest.skip("a kvmcluster package is installed on this machine already: not touched")
    deb = packages["deb"]
    contents = sh("dpkg-deb", "-c", str(deb)).stdout.splitlines()
    names = [line.split(None, 5)[5].split(" -> ")[0] for line in contents]  # ./usr/bin/
    paths = ["/" + name[2:].rstrip("/") for name in names]
    existed = {p for p in paths if os.path.lexists(p)}
    env = {**CLEAN_ENV, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        sh(*APT, "install", f"./{deb.name}", cwd=deb.parent, env=env)
        listed = sh("dpkg", "-L", "kvmcluster").stdout.split("\n")
        yield {"listed": [os.path.normpath(p) for p in listed if p], "existed": existed}
    finally:
        status = sh("dpkg-query", "-W", "-f=${Status}", "kvmcluster", check=False).stdout
        if "not-installed" not in status:
            sh(*APT, "purge", "kvmcluster", env=env, check=False)
        if os.path.islink(SUDOERS_ENABLED) and os.readlink(SUDOERS_ENABLED) == SUDOERS:
            os.unlink(SUDOERS_ENABLED)


@pytest.mark.real
def test_every_dependency_is_an_installed_debian_package(installed):
    """apt-get resolved the dependencies from Debian's packages alone (no pip, no venv)."""
    depends = sh("dpkg-query", "-W", "-f=${Depends}", "kvmcluster").stdout
    for clause in depends.split(", "):
        names = [alternative.split()[0].split(":")[0] for alternative in clause.split(" | ")]
        states = [
            sh("dpkg-query", "-W", "-f=${Status}", name, check=False).stdout for name in names
        ]
        assert "install ok installed" in states, (clause, states)


@pytest.mark.real
def test_the_plugins_and_the_command_are_installed(installed):
    for plugin in PLUGINS:
        path = Path(PLUGIN_DIR) / plugin
        assert path.is_file() and os.access(path, os.X_OK), path
        assert path.read_text().startswith("#!/usr/bin/python3\n")
    assert os.path.realpath(f"{PLUGIN_DIR}/kvmcluster") == "/usr/bin/kvmcluster"
    assert shutil.which("kvmcluster", path=CLEAN_ENV["PATH"]) == "/usr/bin/kvmcluster"
    assert not [p for p in installed["listed"] if p.startswith("/usr/bin/check_")]
    # the Monitoring Plugins' own check_cluster is left alone
    if os.path.exists("/usr/lib/nagios/plugins/check_cluster"):
        owner = sh("dpkg", "-S", "/usr/lib/nagios/plugins/check_cluster").stdout
        assert not owner.startswith("kvmcluster:")


@pytest.mark.real
def test_nrpe_and_sudoers_are_conffiles_and_sudoers_is_disabled(installed):
    conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", "kvmcluster").stdout
    names = {line.split()[0] for line in conffiles.splitlines() if line.strip()}
    assert names == {NRPE, SUDOERS}
    mode = os.stat(SUDOERS)
    assert (stat.S_IMODE(mode.st_mode), mode.st_uid, mode.st_gid) == (0o440, 0, 0)
    sh("visudo", "-cf", SUDOERS)
    assert not os.path.lexists(SUDOERS_ENABLED)  # shipped disabled: one ln -s enables it
    for line in Path(NRPE).read_text().splitlines():
        if line.startswith("command["):
            binary = line.split("=", 1)[1].split()[0]
            assert binary.startswith(PLUGIN_DIR + "/") and os.access(binary, os.X_OK), line


@pytest.mark.real
def test_the_installed_code_runs_on_debians_libraries(installed):
    code = (
        "import kvmcluster, nagiosplugin, lxml; print(kvmcluster.__file__, nagiosplugin.__file__)"
    )
    out = sh("/usr/bin/python3", "-c", code, cwd="/", env=CLEAN_ENV).stdout.split()
    assert out[0] == "/usr/lib/python3/dist-packages/kvmcluster/__init__.py"
    assert out[1] == "/usr/lib/python3/dist-packages/nagiosplugin/__init__.py"


@pytest.mark.real
def test_the_installed_package_does_not_shadow_the_venv_or_the_tree(installed):
    code = "import kvmcluster; print(kvmcluster.__file__)"
    tree = str(REPO / "kvmcluster" / "__init__.py")
    assert sh(sys.executable, "-c", code, cwd="/").stdout.strip() == tree
    env = {**CLEAN_ENV, "PYTHONPATH": str(REPO)}
    assert sh("/usr/bin/python3", "-c", code, cwd="/", env=env).stdout.strip() == tree


def _tree_run(command: str, args: list[str]) -> tuple[int, str, str]:
    code = (
        f"import sys; sys.argv[0] = {command!r}; from {ENTRY_POINTS[command]} import main; main()"
    )
    env = {**CLEAN_ENV, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd="/"
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.real
@pytest.mark.parametrize("case", cases(), ids=case_id)
def test_every_installed_plugin_answers_as_the_tree_does(installed, case):
    command, args = case
    binary = f"{PLUGIN_DIR}/{command}"
    proc = subprocess.run(
        [binary, *args], capture_output=True, text=True, env=CLEAN_ENV, cwd="/", timeout=60
    )
    installed_answer = comparable((proc.returncode, proc.stdout, proc.stderr))
    assert installed_answer == comparable(_tree_run(command, args))
    assert 0 <= proc.returncode <= 3 and proc.stdout


@pytest.mark.real
def test_the_plugins_run_as_the_monitoring_user(installed, tmp_path):
    if shutil.which("runuser") is None or sh("id", "nagios", check=False).returncode:
        pytest.skip("no user nagios (nagios-nrpe-server creates it) or no runuser")
    readable = Path(tempfile.mkdtemp(prefix="hF-nagios-", dir="/tmp"))
    try:
        readable.chmod(0o755)
        proc_file = readable / "proc-drbd.txt"
        shutil.copy(REPO / "examples/captures/split-brain/proc-drbd.txt", proc_file)
        proc_file.chmod(0o644)
        proc = sh(
            "runuser", "-u", "nagios", "--", f"{PLUGIN_DIR}/check_drbd", "--proc-file",
            str(proc_file), check=False, cwd="/", env=CLEAN_ENV,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stdout.startswith("DRBD CRITICAL - drbd0 StandAlone (possible split brain)")
    finally:
        shutil.rmtree(readable, ignore_errors=True)


@pytest.mark.real
def test_the_demo_runs_on_the_installed_examples(installed):
    proc = sh("kvmcluster", "demo", "/usr/share/kvmcluster/examples/captures", check=False,
              cwd="/", env=CLEAN_ENV)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "=== healthy" in proc.stdout and "=== split-brain" in proc.stdout
    # without an argument, from any directory: the captures inside the Python package
    proc = sh("kvmcluster", "demo", check=False, cwd="/", env=CLEAN_ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "=== healthy" in proc.stdout and "=== split-brain" in proc.stdout
    assert "/kvmcluster/demo_captures/split-brain" in proc.stdout


def _icinga(tmp_path: Path, body: str, name: str) -> tuple[subprocess.CompletedProcess, Path]:
    directory = Path(tempfile.mkdtemp(prefix=f"hF-icinga-{name}-", dir="/tmp"))
    directory.chmod(0o755)
    cache = directory / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    conf = directory / "icinga2.conf"
    conf.write_text(body)
    conf.chmod(0o644)
    env = {**CLEAN_ENV, "ICINGA2_USER": "nobody", "ICINGA2_GROUP": "nogroup"}
    args = ["-c", str(conf), f"-DCacheDir={cache}"]
    proc = subprocess.run(
        ["icinga2", "daemon", "-C", "-x", "warning", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    objects = subprocess.run(
        ["icinga2", "object", "list", "--type", "CheckCommand", f"-DCacheDir={cache}"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    shutil.rmtree(directory, ignore_errors=True)
    return proc, objects.stdout


def _head(extra: str = "") -> str:
    return (
        'const PluginDir = "/usr/lib/nagios/plugins"\n'
        'const PluginContribDir = "/usr/lib/nagios/plugins"\n'  # as in Debian's constants.conf
        'const NodeName = "hf-monitor.example.com"\n'
        "const ZoneName = NodeName\n" + extra + "object Endpoint NodeName {}\n"
        "object Zone ZoneName { endpoints = [ NodeName ] }\n"
        "include <itl>\ninclude <plugins>\ninclude <plugins-contrib>\n"
    )


def _commands(listing: str) -> dict[str, list[str]]:
    """CheckCommand name -> its command array, from `icinga2 object list`."""
    found = {}
    for block in listing.split("Object '")[1:]:
        name = block.split("'", 1)[0]
        match = re.search(r"\* command = \[ (.*?) \]", block)
        if name.startswith("kvmcluster-") and match:
            found[name] = re.findall(r'"([^"]*)"', match.group(1))
    return found


@pytest.mark.real
def test_icinga_finds_the_checkcommands_through_include_plugins_contrib(installed, tmp_path):
    if shutil.which("icinga2") is None:
        pytest.skip("icinga2 is not installed (icinga2-bin, icinga2-common)")
    names = re.findall(r'^object CheckCommand "([^"]+)"', Path(CONTRIB).read_text(), re.M)
    assert {"kvmcluster-drbd", "kvmcluster-vm-alloc", "kvmcluster-lint"} <= set(names)
    services = "".join(
        f'object Service "{n}" {{ host_name = "hf-node"; check_command = "{n}" }}\n' for n in names
    )
    host = 'object Host "hf-node" { check_command = "dummy"; address = "127.0.0.1" }\n'
    proc, listing = _icinga(tmp_path, _head() + host + services, "contrib")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    commands = _commands(listing)
    assert set(commands) == set(names)
    for name, argv in commands.items():
        assert argv[0].startswith(PLUGIN_DIR + "/") and os.access(argv[0], os.X_OK), (name, argv)
    # a plugin directory of the admin's own, set before the includes, wins
    mine = 'const KvmclusterPluginDir = "/opt/hf-plugins"\n'
    proc, listing = _icinga(tmp_path, _head(mine) + host + services, "own-dir")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _commands(listing)["kvmcluster-drbd"] == ["/opt/hf-plugins/check_drbd"]


@pytest.mark.real
def test_the_shipped_apply_rules_load_with_the_installed_checkcommands(installed, tmp_path):
    if shutil.which("icinga2") is None:
        pytest.skip("icinga2 is not installed (icinga2-bin, icinga2-common)")
    shipped = Path("/usr/share/kvmcluster/icinga")
    includes = "".join(
        f'include "{shipped / name}"\n'
        for name in ("services.conf", "example-hosts.conf")
        if (shipped / name).exists()
    )
    proc, _ = _icinga(tmp_path, _head() + includes, "apply")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.real
def test_the_prometheus_rules_ship_and_pass_their_unit_tests(installed):
    shipped = Path("/usr/share/kvmcluster/prometheus")
    for name in ("alerts.yml", "alerts_test.yml", "grafana-dashboard.json"):
        assert (shipped / name).is_file(), name
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (prometheus)")
    proc = sh("promtool", "test", "rules", str(shipped / "alerts_test.yml"), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.real
def test_purge_leaves_nothing_behind(installed):
    """Last test of the module: enable the sudoers rules the documented way, purge, and find
    no file of the package (nor the link) left, only the directories that existed before."""
    os.symlink(SUDOERS, SUDOERS_ENABLED)
    sh("visudo", "-c")
    env = {**CLEAN_ENV, "DEBIAN_FRONTEND": "noninteractive"}
    sh(*APT, "purge", "kvmcluster", env=env)
    status = sh("dpkg-query", "-W", "-f=${Status}", "kvmcluster", check=False).stdout
    assert status in ("", "unknown ok not-installed", "purge ok not-installed"), status
    left = [p for p in installed["listed"] if os.path.lexists(p) and p not in installed["existed"]]
    assert left == []
    for path in (
        SUDOERS_ENABLED,
        "/etc/kvmcluster",
        "/usr/share/kvmcluster",
        "/usr/lib/python3/dist-packages/kvmcluster",
        PLUGIN_DIR,
        CONTRIB,
        NRPE,
    ):
        assert not os.path.lexists(path), path


@pytest.mark.real
def test_the_rpm_is_noarch_with_the_same_layout(packages, tmp_path):
    rpm = packages["rpm"]
    query = ["rpm", "-qp", str(rpm)]
    assert sh(*query, "--qf", "%{ARCH}").stdout == "noarch"
    files = set(sh(*query, "-l").stdout.split())
    for plugin in PLUGINS:
        assert f"{RPM_PLUGIN_DIR}/{plugin}" in files
    assert {"/usr/bin/kvmcluster", f"{RPM_PLUGIN_DIR}/kvmcluster", CONTRIB} <= files
    assert set(sh(*query, "-c").stdout.split()) == {"/etc/nrpe.d/kvmcluster.cfg", SUDOERS}
    modes = sh(*query, "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]").stdout
    assert f"-r--r----- {SUDOERS}" in modes.splitlines()
    requires = sh(*query, "-R").stdout
    for package in ("python3-nagiosplugin", "python3-lxml", "python3-psutil"):
        assert package in requires
    # the contents point at the RHEL plugin directory
    archive = tmp_path / "payload.tgz"
    with rpm.open("rb") as source, archive.open("wb") as target:
        subprocess.run(["rpm2archive", "-"], stdin=source, stdout=target, check=True)
    with tarfile.open(archive) as payload:
        nrpe = payload.extractfile("./etc/nrpe.d/kvmcluster.cfg").read().decode()
        contrib = payload.extractfile(f".{CONTRIB}").read().decode()
        plugin = payload.extractfile(f".{RPM_PLUGIN_DIR}/check_drbd").read().decode()
    commands = [line for line in nrpe.splitlines() if line.startswith("command[")]
    assert commands and all(f"={RPM_PLUGIN_DIR}/" in line for line in commands)
    assert f'const KvmclusterPluginDir = "{RPM_PLUGIN_DIR}"' in contrib
    assert plugin.startswith("#!/usr/bin/python3\n")
