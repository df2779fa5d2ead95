"""Snapshot of every plugin's answer on every fixture, to compare a refactoring before/after.

    .venv/bin/python tests/snapshot.py record /tmp/before.json   # on the old code
    .venv/bin/python tests/snapshot.py compare /tmp/before.json  # on the new code: what differs

The cases are tests/plugin_cases.py's (every plugin on every fixture and capture it reads), each
also without -v, plus `kvmcluster status --from` each capture (text, -v, --json) and
`kvmcluster lint` on the config fixtures. Each run records exit code, stdout and the first line of
stderr, with the time of the run masked. The plugins are the console scripts beside this
interpreter (the venv's editable install: the working tree)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import plugin_cases  # noqa: E402

REPO = plugin_cases.REPO
FIXTURES = plugin_cases.FIXTURES
CAPTURES = plugin_cases.CAPTURES


def all_cases() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for command, args in plugin_cases.cases():
        found.append((command, args))
        if "-v" in args:
            found.append((command, [a for a in args if a != "-v"]))
    for capture in sorted(p for p in CAPTURES.iterdir() if p.is_dir()):
        found.append(("kvmcluster", ["status", "--from", str(capture), "--no-color", "-v"]))
    fixtures = sorted(FIXTURES.iterdir())
    for path in fixtures:
        name = path.name
        if name.startswith("cluster-conf_"):
            found.append(("kvmcluster", ["lint", "--cluster-conf", str(path)]))
        elif name.startswith("etc-drbd-conf_"):
            found.append(("kvmcluster", ["lint", "--drbd-conf", str(path)]))
            found.append(
                (
                    "check_drbd",
                    [
                        "--proc-file",
                        str(FIXTURES / _first("proc-drbd_")),
                        "--drbd-conf",
                        str(path),
                        "-v",
                    ],
                )
            )
        elif name.startswith("lvm-conf_"):
            found.append(("kvmcluster", ["lint", "--lvm-conf", str(path)]))
        elif name.startswith("etc-hosts_"):
            found.append(("kvmcluster", ["lint", "--hosts", str(path)]))
        elif name.startswith("corosync-cfgtool_"):
            found.append(("check_cluster", ["--cfgtool-file", str(path), "-v"]))
        elif name.startswith("cman-tool-status_"):
            nodes = FIXTURES / name.replace("cman-tool-status_", "cman-tool-nodes_", 1)
            extra = ["--cman-nodes-file", str(nodes)] if nodes.exists() else []
            found.append(("check_cluster", ["--cman-status-file", str(path), *extra, "-v"]))
        elif name.startswith("pvs_"):
            vgs = FIXTURES / name.replace("pvs_", "vgs_", 1)
            if vgs.exists():
                found.append(
                    ("check_cluster_lvm", ["--vgs-file", str(vgs), "--pvs-file", str(path), "-v"])
                )
        elif name.startswith("proc-uptime_"):
            found.append(
                (
                    "check_cluster_daemons",
                    ["--ps-file", str(FIXTURES / _first("ps_")), "--uptime-file", str(path), "-v"],
                )
            )
        elif name.startswith("cib_"):
            found.append(("check_cluster_services", ["--cib-file", str(path), "-v"]))
    return found


def _first(prefix: str) -> str:
    return sorted(p.name for p in FIXTURES.iterdir() if p.name.startswith(prefix))[0]


def key(case: tuple[str, list[str]]) -> str:
    command, args = case
    return " ".join([command, *(a.replace(str(REPO) + "/", "") for a in args)])


def run(case: tuple[str, list[str]]) -> dict:
    command, args = case
    binary = Path(sys.executable).parent / command
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "NO_COLOR": "1"}
    proc = subprocess.run(
        [str(binary), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    code, out, err = plugin_cases.comparable((proc.returncode, proc.stdout, proc.stderr))
    return {"code": code, "stdout": out, "stderr": (err.splitlines() or [""])[0]}


def record() -> dict[str, dict]:
    cases = all_cases()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cases))
    return {key(c): r for c, r in zip(cases, results)}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("record", "compare"):
        print(__doc__)
        return 2
    now = record()
    if argv[0] == "record":
        Path(argv[1]).write_text(json.dumps(now, indent=1, sort_keys=True))
        print(f"{len(now)} runs recorded in {argv[1]}")
        return 0
    before = json.loads(Path(argv[1]).read_text())
    differ = 0
    for name in sorted(set(before) ^ set(now)):  # fixtures added or removed meanwhile
        print(f"only {'after' if name in now else 'before'}: {name}")
    for name in sorted(set(before) & set(now)):
        if before[name] != now[name]:
            differ += 1
            print(f"--- {name}")
            print(f"  before: {json.dumps(before[name])}\n  after:  {json.dumps(now[name])}")
    print(f"{len(set(before) & set(now))} runs compared, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
