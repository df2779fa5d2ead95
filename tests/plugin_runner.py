"""Run a plugin as a subprocess (nagiosplugin's Runtime is a process singleton) and read its
answer the way Icinga does: exit code, first line, perfdata. The console script beside this
interpreter runs with the working tree first on PYTHONPATH, so a test always runs the source
it sits beside, whatever copy is installed (the venv's is an editable install anyway)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent

_PERF = re.compile(r"('[^']+'|[^\s=]+)=([-\d.]+)([^;\s]*)((?:;[^;\s]*){0,4})")


def fixture(name: str) -> str:
    path = FIXTURES / name
    assert path.exists(), f"missing fixture {name}"
    return str(path)


def plugin_command(name: str) -> list[str]:
    """The console script pip installed beside this interpreter (what Icinga would run)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    assert found, f"{name} is not installed: run pip install . first"
    return [found]


@dataclass
class PluginRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def first_line(self) -> str:
        return self.stdout.splitlines()[0].split("|")[0].strip() if self.stdout else ""

    @property
    def lines(self) -> list[str]:
        return [line.split("|")[0].rstrip() for line in self.stdout.splitlines()]

    @property
    def perfdata(self) -> dict[str, tuple[float, str, list[str]]]:
        """label -> (value, uom, [warn, crit, min, max])."""
        text = " ".join(part.split("|", 1)[1] for part in self.stdout.splitlines() if "|" in part)
        result = {}
        for label, value, uom, rest in _PERF.findall(text):
            result[label.strip("'")] = (float(value), uom, rest.split(";")[1:])
        return result

    def perf(self, label: str) -> float:
        assert label in self.perfdata, f"no perfdata {label!r} in {self.stdout!r}"
        return self.perfdata[label][0]


def plugin_env(env: dict | None = None) -> dict:
    """The environment of a plugin run: the working tree first on PYTHONPATH (unless `env`
    sets PYTHONPATH itself)."""
    merged = {**os.environ, **(env or {})}
    if "PYTHONPATH" not in (env or {}):
        rest = os.environ.get("PYTHONPATH", "")
        merged["PYTHONPATH"] = f"{REPO}:{rest}" if rest else str(REPO)
    return merged


def run_plugin(
    name: str,
    *args: str,
    stdin: str | None = None,
    env: dict | None = None,
    timeout: float = 60,
    prefix: list[str] | None = None,
) -> PluginRun:
    proc = subprocess.run(
        [*(prefix or []), *plugin_command(name), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=plugin_env(env),
    )
    run = PluginRun(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr, f"traceback from {name}: {run}"
    assert 0 <= proc.returncode <= 3, f"{name} exited {proc.returncode}: {run}"
    return run
