"""Run shell lines of a runbook or of advice with the real tools, without touching a cluster:
each drbdadm invocation with the real drbdadm of its version in dry-run mode (-d, the config
via -c, `__DRBD_NODE__` to pretend the node), each pcs line with the real pcs on a CIB file."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

# one drbdadm invocation inside a line: `drbdadm up r`, `"$(drbdadm dstate r)"`, up to a
# shell operator, a quote, a closing parenthesis or a comment
DRBDADM = re.compile(r"\bdrbdadm((?: +[^\s;|&()\"'#]+)+)")
FRONT_ENDS = {"8.3": "/lib/drbd/drbdadm-83", "8.4": "/lib/drbd/drbdadm-84", "9": "drbdadm"}


def front_end(version: str) -> str | None:
    binary = FRONT_ENDS[version]
    return binary if shutil.which(binary) else None


def drbdadm_calls(lines: list[str]) -> list[list[str]]:
    """The argument lists of every drbdadm invocation in the command lines (comments skipped)."""
    calls = []
    for line in lines:
        if line.lstrip().startswith("#"):
            continue
        for match in DRBDADM.finditer(line):
            calls.append(shlex.split(match.group(1)))
    return calls


def dry_run(version: str, conf: str, node: str, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "__DRBD_NODE__": node}
    command = [front_end(version) or FRONT_ENDS[version], "-c", conf, "-d", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)


def code_blocks(markdown: str) -> list[list[str]]:
    blocks, current = [], None
    for line in markdown.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def lines_by_node(lines: list[str], nodes: list[str], default: str) -> list[tuple[str, str]]:
    """(node, line) for each command line: the node of the last `# on NODE` comment above it
    in its block, else `default` (steps done on every node)."""
    out, node = [], default
    for line in lines:
        if line.startswith("# on "):
            named = line[len("# on ") :].split(":")[0].strip()
            node = named if named in nodes else default
            continue
        if line.strip() and not line.lstrip().startswith("#"):
            out.append((node, line))
    return out


def pcs_cib(directory: Path, pcs_setup: Path, nodes: list[str]) -> Path:
    """A CIB file built by the generated pcs-setup.sh (PCS_CIB dry run), with the nodes."""
    cib = directory / "cib.xml"
    empty = subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True, timeout=60)
    cib.write_text(empty.stdout)
    env = {**os.environ, "PCS_CIB": str(cib)}
    applied = subprocess.run(
        ["sh", str(pcs_setup)], capture_output=True, text=True, env=env, timeout=400
    )
    assert applied.returncode == 0, applied.stderr
    for number, node in enumerate(nodes, 1):
        added = subprocess.run(
            ["cibadmin", "--create", "-o", "nodes", "-X", f'<node id="{number}" uname="{node}"/>'],
            capture_output=True,
            text=True,
            env={**os.environ, "CIB_file": str(cib)},
            timeout=60,
        )
        assert added.returncode == 0, added.stderr
    return cib


# pcs commands that act on the live cluster only (pcs refuses -f for them): with CIB_file
# they still look the resource up (crm_resource), then fail to reach the controller
LIVE_ONLY = {("resource", "cleanup"), ("resource", "refresh")}


def pcs_run(cib: Path, line: str) -> tuple[bool, str]:
    """Run one `pcs ...` line on the CIB file; (accepted, output)."""
    words = shlex.split(line.split(" #", 1)[0])
    assert words[0] == "pcs", line
    args = words[1:]
    if tuple(args[:2]) in LIVE_ONLY:
        proc = subprocess.run(
            ["pcs", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "CIB_file": str(cib)},
            timeout=120,
        )
        text = proc.stdout + proc.stderr
        found = "not found" not in text and "No such" not in text and "Usage" not in text
        return found and "Unable to" in text, text
    proc = subprocess.run(
        ["pcs", "-f", str(cib), *args], capture_output=True, text=True, timeout=120
    )
    return proc.returncode == 0, proc.stdout + proc.stderr
