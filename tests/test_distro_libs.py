"""The plugins on the distributions' libraries: Debian 12's python3-nagiosplugin 1.3.2,
python3-lxml 4.9, python3-psutil 5.9 and python3-libvirt 9.0 (run with /usr/bin/python3 and
the working tree on PYTHONPATH) give byte for byte the output of the current releases in .venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugin_cases import ENTRY_POINTS, REPO, case_id, cases, comparable

SYSTEM_PYTHON = "/usr/bin/python3"


def _system_versions() -> dict[str, str] | None:
    code = (
        "import nagiosplugin, lxml.etree, psutil, libvirt; "
        "print(nagiosplugin.__version__, lxml.etree.__version__, psutil.__version__, "
        "libvirt.getVersion())"
    )
    try:
        proc = subprocess.run(
            [SYSTEM_PYTHON, "-c", code], capture_output=True, text=True, timeout=30, cwd="/"
        )
    except OSError:
        return None
    if proc.returncode:
        return None
    names = ("nagiosplugin", "lxml", "psutil", "libvirt")
    return dict(zip(names, proc.stdout.split()))


SYSTEM = _system_versions()
needs_debian_libs = pytest.mark.skipif(
    SYSTEM is None,
    reason="Debian's python3-nagiosplugin python3-lxml python3-psutil python3-libvirt "
    "are not installed for /usr/bin/python3",
)


def run(python: str, command: str, args: list[str], pythonpath: str = str(REPO)):
    """The command's main() under this interpreter, as the console script would run it."""
    code = (
        f"import sys; sys.argv[0] = {command!r}; from {ENTRY_POINTS[command]} import main; main()"
    )
    env = {**os.environ, "PYTHONPATH": pythonpath, "LC_ALL": "C"}
    proc = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, env=env, timeout=60, cwd="/"
    )
    return proc.returncode, proc.stdout, proc.stderr


@needs_debian_libs
def test_the_system_python_has_debian_12s_library_versions():
    assert SYSTEM["nagiosplugin"] == "1.3.2"
    assert SYSTEM["lxml"].startswith("4.9")
    assert SYSTEM["psutil"].startswith("5.9")
    assert SYSTEM["libvirt"].startswith("9")  # 9000000: libvirt 9.0


@needs_debian_libs
@pytest.mark.parametrize("case", cases(), ids=case_id)
def test_same_output_on_debian_libraries_and_current_releases(case):
    command, args = case
    debian = comparable(run(SYSTEM_PYTHON, command, args))
    current = comparable(run(sys.executable, command, args))
    assert debian == current
    assert 0 <= debian[0] <= 3
    assert "Traceback" not in debian[1] + debian[2]
    assert "internal error" not in debian[1]


def _probe(python: str, pythonpath: str) -> list[str]:
    code = """
import sys
from kvmcluster.runtime import np
print(np.nagiosplugin.__version__, "logging" in sys.modules, "traceback" in sys.modules)

class Silent(np.nagiosplugin.Resource):
    def probe(self):
        return []

try:
    np.nagiosplugin.Check(Silent()).main(verbose=1)
except SystemExit as exc:
    print("exit", exc.code)
"""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    proc = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, env=env, timeout=30, cwd="/"
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@needs_debian_libs
def test_nagiosplugin_1_3_2_loads_with_the_stand_ins_and_still_logs():
    lines = _probe(SYSTEM_PYTHON, str(REPO))
    assert lines[0] == "1.3.2 False False"  # neither logging nor traceback loaded
    assert "resource Silent did not produce any metric" in lines
    assert lines[-1] == "exit 3"


def _copy_of_nagiosplugin(tmp_path: Path, version: str, runtime_prefix: str = "") -> str:
    import nagiosplugin

    target = tmp_path / "site" / "nagiosplugin"
    shutil.copytree(Path(nagiosplugin.__file__).parent, target)
    (target / "version.py").write_text(f'__VERSION__ = "{version}"\n')
    if runtime_prefix:
        runtime = target / "runtime.py"
        runtime.write_text(runtime.read_text().replace("\nimport io\n", runtime_prefix, 1))
    return f"{target.parent}{os.pathsep}{REPO}"


def test_an_unchecked_nagiosplugin_version_gets_a_plain_import(tmp_path):
    path = _copy_of_nagiosplugin(tmp_path, "9.9.9")
    lines = _probe(sys.executable, path)
    assert lines[0] == "9.9.9 True True"  # the real logging and traceback: no stand-ins
    assert "resource Silent did not produce any metric" in lines
    args = ["--proc-file", str(REPO / "tests/fixtures/proc-drbd_84-sync-target.txt"), "-v"]
    assert run(sys.executable, "check_drbd", args, path) == run(sys.executable, "check_drbd", args)


def test_a_package_that_does_not_fit_the_stand_ins_falls_back_to_the_plain_import(tmp_path):
    """A known version number, but the package calls a part of logging the stand-in lacks
    while it loads: the stand-ins are dropped and the real modules imported."""
    path = _copy_of_nagiosplugin(
        tmp_path, "1.4.0", "\nimport io\nimport logging\nlogging.getLevelName(10)\n"
    )
    lines = _probe(sys.executable, path)
    assert lines[0] == "1.4.0 True True"
    assert "resource Silent did not produce any metric" in lines
    args = ["--json-file", str(REPO / "tests/fixtures/drbdsetup-status-json_9-standalone.json")]
    assert run(sys.executable, "check_drbd", args, path) == run(sys.executable, "check_drbd", args)
