"""Fuzz every plugin input: mutated fixtures given to the real plugins, and mutated captures and
configs given to `kvmcluster status --from`, `lint`, `import` and `generate`.

Each case runs the console script's own entry point (`kvmcluster.checks.drbd:main` ...) in a
forked child of this process, with the argv, stdin (/dev/null), stdout and stderr of a standalone
run: the imports are paid once, the child starts from a clean state (nagiosplugin's Runtime is a
process singleton), and ends through the plugin's own exit path (`os._exit`). What escapes the
entry point is printed as the interpreter would (a traceback, exit 1), so a crash is seen exactly
as in a standalone run. A case fails on:

- an exit code outside 0-3 (or a signal);
- "Traceback" or "internal error" in stdout or stderr;
- a run longer than -t + 1 s (the child is killed at -t + 10 s);
- a plugin that prints nothing on stdout, or more than one line without -v.

    python -m tests.fuzz --count 5000 --seed 1 [--jobs 2] [--save DIR] [--standalone]

prints one line per failure and a summary; exit 1 when a case failed. tests/test_fuzz.py runs a
small fixed-seed count in CI (FUZZ_COUNT raises it). --standalone runs the installed console
scripts as subprocesses instead (slower, the same judgement).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
CAPTURES = REPO / "examples" / "captures"
TIMEOUT = 3  # the -t of every run that has one (plugins, status, lint)
SLACK = 1.0  # a run may take -t + SLACK seconds
NO_T_LIMIT = 10.0  # import and generate have no -t: they may take this long

if str(REPO) not in sys.path:  # run as a script: tests.* is found from the top of the tree
    sys.path.insert(0, str(REPO))
from tests.plugin_cases import ENTRY_POINTS  # noqa: E402

N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"


def fx(name: str) -> str:
    return str(FIXTURES / name)


# Fixed inputs beside the mutated one.
PROC = ["--proc-file", fx("proc-drbd_84-dual-primary-ok.txt")]
NODES = ["--cman-nodes-file", fx("cman-tool-nodes_both-members.txt")]
STATUS = ["--cman-status-file", fx("cman-tool-status_quorate-two-node.txt")]
CRM = ["--crm-mon-file", fx("crm-mon_seed-healthy.xml")]
CIB = ["--cib-file", fx("cib_seed-healthy.xml")]
QUORUMTOOL = ["--quorumtool-file", fx("corosync-quorumtool_3-quorate.txt")]
CLUSTAT = ["--clustat-file", fx("clustat-x_411-all-started.xml")]
CONF = ["--cluster-conf", fx("cluster-conf_seed-fixed.conf")]
VGS = ["--vgs-file", fx("vgs_rhel6-clustered-on-drbd.txt")]
PVS = ["--pvs-file", fx("pvs_rhel6-clustered-on-drbd.txt")]
DRBD_CONF = ["--drbd-conf", fx("etc-drbd-conf_seed-84.conf")]
LVM_CONF = ["--lvm-conf-file", fx("lvm-conf_rhel6-clustered-filtered.conf")]
UPTIME = ["--uptime-file", fx("proc-uptime_15-days.txt")]
PS = ["--ps-file", fx("ps_rhcs-node-after-reboot.txt")]
LIBVIRT = ["{libvirt}"]  # the --libvirt options of two test-driver hypervisors
LIBVIRT_URI = ["{libvirt_uri}"]  # check_drbd --libvirt: one hypervisor's URI

# (program, option that reads the mutated file, fixture name prefix, fixed arguments)
PLUGIN_TARGETS = [
    ("check_drbd", "--proc-file", "proc-drbd_", []),
    ("check_drbd", "--json-file", "drbdsetup-status-json_", []),
    ("check_drbd", "--events-file", "drbdsetup-events2_", []),
    ("check_drbd", "--drbd-conf", "etc-drbd-conf_", PROC),
    ("check_drbd", "--status-file", "drbdadm-status_", []),
    ("check_drbd", "--pvs-file", "pvs_", PROC + LIBVIRT_URI),
    ("check_cluster", "--cman-status-file", "cman-tool-status_", NODES),
    ("check_cluster", "--cman-nodes-file", "cman-tool-nodes_", STATUS),
    ("check_cluster", "--clustat-file", "clustat-x_", []),
    ("check_cluster", "--quorumtool-file", "corosync-quorumtool_", CRM),
    ("check_cluster", "--crm-mon-file", "crm-mon_", []),
    ("check_cluster", "--cfgtool-file", "corosync-cfgtool_", QUORUMTOOL),
    ("check_cluster", "--fence-file", "fence-tool-ls", STATUS + NODES),
    ("check_cluster", "--group-file", "group-tool-ls", STATUS + NODES),
    ("check_cluster", "--dlm-file", "dlm-tool-ls_", STATUS + NODES),
    ("check_cluster_services", "--clustat-file", "clustat-x_", []),
    ("check_cluster_services", "--crm-mon-file", "crm-mon_", CIB),
    ("check_cluster_services", "--cib-file", "cib_", CRM),
    ("check_cluster_services", "--cluster-conf", "cluster-conf_", CLUSTAT),
    ("check_cluster_daemons", "--ps-file", "ps_", UPTIME),
    ("check_cluster_daemons", "--uptime-file", "proc-uptime_", PS),
    ("check_vm_alloc", "--cluster-conf", "cluster-conf_", CLUSTAT + LIBVIRT),
    ("check_vm_alloc", "--clustat-file", "clustat-x_", CONF + LIBVIRT),
    ("check_vm_alloc", "--cib-file", "cib_", CRM + LIBVIRT),
    ("check_vm_alloc", "--crm-mon-file", "crm-mon_", CIB + LIBVIRT),
    ("check_cluster_lvm", "--vgs-file", "vgs_", PVS),
    ("check_cluster_lvm", "--pvs-file", "pvs_", VGS),
    ("check_cluster_lvm", "--lvs-file", "lvs_", VGS + PVS),
    ("check_cluster_lvm", "--lvm-conf-file", "lvm-conf_", VGS + PVS + DRBD_CONF),
    ("check_cluster_lvm", "--drbd-conf", "etc-drbd-conf_", VGS + PVS + LVM_CONF),
]

# kvmcluster lint/import: (option, fixture prefix or generated file, fixed arguments)
LINT_TARGETS = [
    ("--cluster-conf", "cluster-conf_"),
    ("--drbd-conf", "etc-drbd-conf_"),
    ("--hosts", "etc-hosts_"),
    ("--lvm-conf", "lvm-conf_"),
    ("--corosync-conf", "generated:corosync.conf"),
]


# --- mutations --------------------------------------------------------------------------------

_DIGITS = re.compile(rb"\d+")
_NUMBERS = [
    b"9" * 5000,
    b"-" + b"9" * 5000,
    b"1" + b"0" * 400,
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"inf",
    b"-inf",
    b"Infinity",
    b"-Infinity",
    b"nan",
    b"NaN",
    b"-1",
    b"-0",
    b"18446744073709551616",
    b"9223372036854775808",
    b"0x10",
    b"1_000",
    b"\xc2\xb2",  # superscript two: str.isdigit() says yes, int() says no
    b"\xd9\xa3",  # ARABIC-INDIC DIGIT THREE
    b"1.5",
    b"",
]
_JUNK = [
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",  # a UTF-8 encoded surrogate
    b"\xe2\x80\xa8",  # LINE SEPARATOR: a line break for str.splitlines()
    b"\x1b[31m",
    b"\r",
    b"\x0b\x0c\x1c\x85",
    b"\n\n",
    b"|",
    b"'\"<>&;{}[]:=,#",
    b"&amp;&lt;&#0;&#x110000;&#xD800;&undefined;",
]
_ENTITY_DTD = (
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">'
    b'<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">'
    b'<!ENTITY file SYSTEM "file:///etc/passwd"><!ENTITY net SYSTEM "http://127.0.0.1:9/x">]>'
)


def _pos(rng: random.Random, data: bytes) -> int:
    return rng.randint(0, len(data)) if data else 0


def _insert(rng: random.Random, data: bytes, junk: bytes) -> bytes:
    at = _pos(rng, data)
    return data[:at] + junk + data[at:]


def m_truncate(rng, data):
    return data[: _pos(rng, data)]


def m_flip(rng, data):
    if not data:
        return bytes([rng.randrange(256)])
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def m_random_bytes(rng, data):
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = _pos(rng, out)
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
        out[at : at + rng.randint(0, 3)] = junk
    return bytes(out)


def m_number(rng, data):
    """Replace a number (a run of digits, with its sign and fraction) by a hostile one."""
    spans = [m.span() for m in _DIGITS.finditer(data)]
    if not spans:
        return _insert(rng, data, rng.choice(_NUMBERS))
    for _ in range(rng.randint(1, 3)):
        start, end = rng.choice(spans)
        data = data[:start] + rng.choice(_NUMBERS) + data[end:]
        spans = [m.span() for m in _DIGITS.finditer(data)] or [(0, 0)]
    return data


def m_junk(rng, data):
    return _insert(rng, data, rng.choice(_JUNK))


def m_invalid_utf8(rng, data):
    bad = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]
    return _insert(rng, data, rng.choice(bad))


def m_nul(rng, data):
    return _insert(rng, data, b"\x00" * rng.randint(1, 3))


def m_long_line(rng, data):
    filler = rng.choice([b"x", b"9", b" ", b"a:b ", b"<", b"{", b"["])
    return _insert(rng, data, filler * rng.choice([5000, 100_000, 1_000_000]))


def m_deep_nesting(rng, data):
    depth = rng.choice([200, 1000, 5000, 100_000])
    text = data.lstrip()
    if text.startswith((b"[", b"{")):  # JSON
        opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    elif text.startswith(b"<"):  # XML: inside the root element
        opener, closer = rng.choice(
            [(b"<a>", b"</a>"), (b"<group>", b"</group>"), (b"<clone>", b"</clone>")]
        )
        at = data.find(b">") + 1 if b">" in data else 0
        if data[at - 2 : at - 1] == b"?":  # after <?xml ...?>
            at = data.find(b">", at) + 1
        return data[:at] + opener * depth + closer * depth + data[at:]
    else:  # brace configs (drbd.conf, lvm.conf, corosync.conf)
        opener, closer = b"x {\n", b"}\n"
    if rng.random() < 0.5:
        closer = b""
    return opener * depth + data + closer * depth


def m_entities(rng, data):
    """A DTD with nested (billion laughs), external and network entities, and references."""
    body = data
    if body.startswith(b"<?xml"):
        end = body.find(b"?>") + 2
        head, body = body[:end], body[end:]
    else:
        head = b""
    ref = rng.choice([b"&g;", b"&file;", b"&net;", b"&e;", b"&undefined;"])
    spots = [m.start() for m in re.finditer(rb'="', body)]
    if spots and rng.random() < 0.7:
        at = rng.choice(spots) + 2
    else:
        at = body.find(b">") + 1 if b">" in body else 0
    return head + _ENTITY_DTD + body[:at] + ref + body[at:]


def m_lines(rng, data):
    lines = data.splitlines(keepends=True)
    if not lines:
        return data
    i = rng.randrange(len(lines))
    choice = rng.randrange(4)
    if choice == 0:
        del lines[i]
    elif choice == 1:
        lines.insert(i, lines[i] * rng.randint(2, 50))
    elif choice == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = lines[i].rstrip(b"\n") + rng.choice(_JUNK) + b"\n"
    return b"".join(lines)


def m_duplicate(rng, data):
    return data * rng.choice([2, 3, 1000])


def m_empty(rng, data):
    return rng.choice([b"", b"\n", b" ", b"\x00", b"\xef\xbb\xbf"])


MUTATORS = [
    (m_truncate, 3),
    (m_flip, 3),
    (m_random_bytes, 2),
    (m_number, 5),
    (m_junk, 2),
    (m_invalid_utf8, 2),
    (m_nul, 1),
    (m_long_line, 1),
    (m_deep_nesting, 2),
    (m_entities, 2),
    (m_lines, 2),
    (m_duplicate, 1),
    (m_empty, 1),
]
_NAMES = [m for m, w in MUTATORS for _ in range(w)]


def mutate(rng: random.Random, data: bytes) -> tuple[bytes, list[str]]:
    applied = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        mutator = rng.choice(_NAMES)
        data = mutator(rng, data)
        applied.append(mutator.__name__[2:])
        if len(data) > 8_000_000:
            data = data[:8_000_000]
    return data, applied


# --- cases ------------------------------------------------------------------------------------


class Case:
    def __init__(self, number, program, argv, files, mutations, label, verbose=False):
        self.number = number
        self.program = program
        self.argv = argv
        self.files = files  # {path: bytes} to write before the run
        self.mutations = mutations
        self.label = label
        self.verbose = verbose


def _tar(directory: Path) -> bytes:
    """The capture as `collect` packs it (one top directory), uncompressed, reproducibly."""
    import io as _io
    import tarfile

    buffer = _io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in [directory, *sorted(directory.iterdir())]:
            info = tar.gettarinfo(
                str(path),
                arcname=f"kvmcluster-{directory.name}/{path.name}"
                if path != directory
                else f"kvmcluster-{directory.name}",
            )
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_file():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


class Inputs:
    """Everything the cases are built from, made once per fuzz run in WORK."""

    def __init__(self, work: Path):
        self.work = work
        self.fixtures = sorted(p for p in FIXTURES.iterdir() if p.is_file())
        self.libvirt = self._hypervisors()
        self.generated = self._generated()
        self.archives = {d.name: _tar(d) for d in sorted(CAPTURES.iterdir()) if d.is_dir()}

    def _hypervisors(self) -> list[str]:
        sys.path.insert(0, str(REPO))
        from tests.libvirt_nodes import hypervisor, vm199, vm200

        uri05 = hypervisor(self.work, "node05", vm200())
        uri06 = hypervisor(self.work, "node06", vm199())
        self.libvirt_uri = ["--libvirt", uri05]
        return ["--libvirt", f"{N05}={uri05}", "--libvirt", f"{N06}={uri06}"]

    def _generated(self) -> dict[str, Path]:
        """corosync.conf and the descriptions (TOML), as `kvmcluster generate` writes them."""
        found = {}
        for toml in sorted((REPO / "examples").glob("*.toml")):
            found[f"toml:{toml.name}"] = toml
            out = self.work / f"generated-{toml.stem}"
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "kvmcluster"),
                    "generate",
                    str(toml),
                    "--output",
                    str(out),
                ],
                capture_output=True,
                cwd=REPO,
                check=False,
            )
            for path in sorted(out.rglob("*")) if out.exists() else []:
                if path.is_file():
                    found.setdefault(f"generated:{path.name}", path)
        return found

    def matching(self, prefix: str) -> list[Path]:
        if prefix.startswith("generated:"):
            return [self.generated[prefix]] if prefix in self.generated else []
        return [p for p in self.fixtures if p.name.startswith(prefix)]


def build_case(number: int, seed: int, inputs: Inputs, work: Path) -> Case:
    rng = random.Random(f"{seed}:{number}")
    kinds = ["plugin", "status", "archive", "lint", "import", "generate"]
    kind = rng.choices(kinds, [68, 10, 4, 10, 4, 4])[0]
    case_dir = work / f"case-{number}"
    if kind == "plugin":
        targets = [t for t in PLUGIN_TARGETS if inputs.matching(t[2])]  # fixtures not yet there
        program, option, prefix, fixed = rng.choice(targets)
        original = rng.choice(inputs.matching(prefix))
        data, applied = mutate(rng, original.read_bytes())
        path = case_dir / original.name
        args = []
        for arg in fixed:
            placeholders = {"{libvirt}": inputs.libvirt, "{libvirt_uri}": inputs.libvirt_uri}
            args.extend(placeholders.get(arg, [arg]))
        verbose = rng.random() < 0.3
        argv = [option, str(path), *args, "-t", str(TIMEOUT), *(["-v"] if verbose else [])]
        return Case(
            number,
            program,
            argv,
            {path: data},
            applied,
            f"{program} {option} {original.name}",
            verbose,
        )
    if kind == "status":
        capture = rng.choice(sorted(p for p in CAPTURES.iterdir() if p.is_dir()))
        members = sorted(p for p in capture.iterdir() if p.is_file())
        files = {case_dir / "capture" / p.name: p.read_bytes() for p in members}
        victims = rng.sample(members, rng.choice([1, 1, 1, 2, 3]))
        applied = []
        for victim in victims:
            data, how = mutate(rng, victim.read_bytes())
            files[case_dir / "capture" / victim.name] = data
            applied.extend(f"{victim.name}:{h}" for h in how)
        json_flag = ["--json"] if rng.random() < 0.3 else []
        argv = [
            "status",
            "--from",
            str(case_dir / "capture"),
            "--no-color",
            "-t",
            str(TIMEOUT),
            *json_flag,
        ]
        label = f"status --from {capture.name} ({', '.join(v.name for v in victims)})"
        return Case(number, "kvmcluster", argv, files, applied, label, True)
    if kind == "archive":  # status --from a .tar.gz: the tar headers or the gzip stream mutated
        name = rng.choice(sorted(inputs.archives))
        raw = inputs.archives[name]
        if rng.random() < 0.5:
            data, applied = mutate(rng, raw)
            data, applied = _gzip(data), [f"tar:{m}" for m in applied]
        else:
            data, applied = mutate(rng, _gzip(raw))
            applied = [f"gzip:{m}" for m in applied]
        path = case_dir / f"{name}.tar.gz"
        argv = ["status", "--from", str(path), "--no-color", "-t", str(TIMEOUT)]
        return Case(
            number, "kvmcluster", argv, {path: data}, applied, f"status --from {name}.tar.gz", True
        )
    if kind in ("lint", "import"):
        if kind == "lint":
            option, prefix = rng.choice(LINT_TARGETS)
        else:
            option, prefix = rng.choice(LINT_TARGETS[:3])
        candidates = inputs.matching(prefix)
        if not candidates:
            return build_case(number + 1_000_000, seed, inputs, work)
        original = rng.choice(candidates)
        data, applied = mutate(rng, original.read_bytes())
        path = case_dir / original.name
        if kind == "lint":
            argv = ["lint", option, str(path), "-t", str(TIMEOUT)]
        else:
            base = {
                "--cluster-conf": fx("cluster-conf_seed-fixed.conf"),
                "--drbd-conf": fx("etc-drbd-conf_seed-84.conf"),
                "--hosts": fx("etc-hosts_seed.txt"),
            }
            base[option] = str(path)
            argv = ["import", *[a for kv in base.items() for a in kv]]
        return Case(
            number,
            "kvmcluster",
            argv,
            {path: data},
            applied,
            f"{kind} {option} {original.name}",
            True,
        )
    tomls = [p for key, p in inputs.generated.items() if key.startswith("toml:")]
    original = rng.choice(tomls)
    data, applied = mutate(rng, original.read_bytes())
    path = case_dir / original.name
    argv = ["generate", str(path), "--output", str(case_dir / "out")]
    return Case(
        number, "kvmcluster", argv, {path: data}, applied, f"generate {original.name}", True
    )


# --- running ----------------------------------------------------------------------------------


PROBE_MODULE = "tests.fuzz_probe"  # a program misbehaving on purpose (tests/test_fuzz.py)


def preload() -> None:
    """Import what the plugins import, once, before the children fork."""
    import importlib

    for module in ENTRY_POINTS.values():
        importlib.import_module(module)
    importlib.import_module(PROBE_MODULE)
    for module in (
        "json",
        "tomllib",
        "lxml.etree",
        "xml.etree.ElementTree",
        "psutil",
        "libvirt",
        "kvmcluster.runtime.np",
        "kvmcluster.status",
        "kvmcluster.capture",
        "kvmcluster.config.lint",
        "kvmcluster.config.importer",
        "kvmcluster.config.generate",
    ):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    from kvmcluster.runtime.np import nagiosplugin  # noqa: F401 - the real module, loaded


def _child(case: Case, out: int, err: int) -> None:
    """In the forked child: the standalone run of the console script, then _exit."""
    import atexit
    import importlib
    import traceback

    atexit._clear()  # the parent's handlers (its temporary directory) are not the plugin's
    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    code = 1
    # Fresh streams on fds 0-2, as the interpreter makes them (the parent's may be a test
    # runner's capture objects).
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        like = getattr(sys, f"__{name}__") or sys.__stdout__
        stream = io.TextIOWrapper(
            io.FileIO(fd, "r" if fd == 0 else "w", closefd=False),
            encoding=getattr(like, "encoding", None) or "utf-8",
            errors="backslashreplace" if fd == 2 else (getattr(like, "errors", None) or "strict"),
            line_buffering=fd == 2,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    try:
        sys.argv = [case.program, *case.argv]
        module = ENTRY_POINTS.get(case.program, PROBE_MODULE)
        importlib.import_module(module).main()
        code = 0
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code & 0xFF
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


class Running:
    def __init__(self, case, pid, out_path, err_path, started, proc=None):
        self.case, self.pid, self.proc = case, pid, proc
        self.out_path, self.err_path, self.started = out_path, err_path, started


def start(case: Case, work: Path, standalone: bool) -> Running:
    for path, data in case.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    out_path, err_path = work / f"out-{case.number}", work / f"err-{case.number}"
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    started = time.monotonic()
    try:
        if standalone:
            program = Path(sys.executable).parent / case.program
            if case.program in ENTRY_POINTS:  # the console script pip installed
                command = [str(program)]
            else:  # what a console script does, for the probe of tests/test_fuzz.py
                script = f"import sys, {PROBE_MODULE} as m; sys.exit(m.main())"
                command = [sys.executable, "-c", script]
            proc = subprocess.Popen(
                [*command, *case.argv],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            return Running(case, proc.pid, out_path, err_path, started, proc)
        pid = os.fork()
        if pid == 0:
            _child(case, out, err)
        return Running(case, pid, out_path, err_path, started)
    finally:
        os.close(out)
        os.close(err)


def judge(run: Running, status: int, elapsed: float) -> dict:
    case = run.case
    stdout = run.out_path.read_bytes().decode("utf-8", "replace")
    stderr = run.err_path.read_bytes().decode("utf-8", "replace")
    problems = []
    if os.WIFSIGNALED(status):
        code = -os.WTERMSIG(status)
        problems.append(f"killed by signal {os.WTERMSIG(status)}")
    else:
        code = os.WEXITSTATUS(status)
        if not 0 <= code <= 3:
            problems.append(f"exit {code}")
    both = stdout + stderr
    if "Traceback" in both:
        problems.append("traceback")
    if "internal error" in both:
        problems.append("internal error")
    limit = TIMEOUT + SLACK if "-t" in case.argv else NO_T_LIMIT
    if elapsed > limit:
        problems.append(f"took {elapsed:.2f}s (limit {limit:g}s)")
    if case.program != "kvmcluster":
        if not stdout.strip():
            problems.append("no output")
        elif not case.verbose and code == 3 and len(stdout.splitlines()) != 1:
            problems.append("UNKNOWN in more than one line")
    first = (stdout.splitlines() or [""])[0]
    return {
        "case": case.number,
        "label": case.label,
        "mutations": case.mutations,
        "argv": [case.program, *case.argv],
        "code": code,
        "elapsed": round(elapsed, 3),
        "first_line": first[:300],
        "stderr": stderr[-2000:],
        "problems": problems,
    }


def finish(run: Running, save: Path | None, result: dict) -> None:
    case_dir = run.out_path.parent / f"case-{run.case.number}"
    if result["problems"] and save is not None:
        target = save / case_dir.name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(case_dir, target)
        (target / "result.json").write_text(json.dumps(result, indent=1))
    for path in (run.out_path, run.err_path):
        path.unlink(missing_ok=True)
    shutil.rmtree(case_dir, ignore_errors=True)


def _wait_any(running: list[Running], standalone: bool) -> list[tuple[Running, int, float]]:
    done = []
    deadline_kill = NO_T_LIMIT + 10
    while not done:
        for run in list(running):
            pid, status = os.waitpid(run.pid, os.WNOHANG)
            elapsed = time.monotonic() - run.started
            if pid:
                done.append((run, status, elapsed))
            elif elapsed > deadline_kill:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.pid, signal.SIGKILL)
        if not done:
            select.select([], [], [], 0.002)
    return done


def _report(result: dict, note: str = "FAIL") -> None:
    print(
        f"{note} case {result['case']} {result['label']} {result['mutations']}: "
        f"{', '.join(result['problems'])}: {result['first_line'][:160]!r} "
        f"{result['stderr'][-300:]!r}",
        flush=True,
    )


def _only_slow(result: dict) -> bool:
    return bool(result["problems"]) and all(p.startswith("took") for p in result["problems"])


def fuzz(
    count: int,
    seed: int,
    jobs: int = 2,
    save: Path | None = None,
    standalone: bool = False,
    first: int = 0,
    progress: bool = False,
) -> dict:
    """Run the cases; a case that failed by its time alone runs once more, alone: when it is in
    time then, the first run was a stall of this (shared) machine, counted apart."""
    if not standalone:
        preload()
    started = time.monotonic()
    results: list[dict] = []
    stalls: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="kvmcluster-fuzz-hC-") as tmp:
        work = Path(tmp)
        inputs = Inputs(work)

        def run_all(numbers: list[int], parallel: int) -> list[dict]:
            done_results = []
            pending = list(numbers)
            running: list[Running] = []
            while pending or running:
                while pending and len(running) < parallel:
                    case = build_case(pending.pop(0), seed, inputs, work)
                    running.append(start(case, work, standalone))
                for run, status, elapsed in _wait_any(running, standalone):
                    running.remove(run)
                    if run.proc is not None:
                        run.proc.returncode = 0  # reaped by waitpid above
                    result = judge(run, status, elapsed)
                    finish(run, save, result)
                    done_results.append(result)
                    if result["problems"] and not _only_slow(result):
                        _report(result)
                    if progress and len(done_results) % 500 == 0:
                        print(f"{len(done_results)} cases, {time.monotonic() - started:.0f}s")
            return done_results

        results = run_all(list(range(first, first + count)), jobs)
        slow = [r for r in results if _only_slow(r)]
        if slow:
            again = {r["case"]: r for r in run_all([r["case"] for r in slow], 1)}
            for first_run in slow:
                second = again[first_run["case"]]
                if second["problems"]:
                    _report(first_run)
                    _report(second, "FAIL (run again)")
                else:
                    first_run["problems"] = []
                    first_run["stall"] = {"first": first_run["elapsed"], "again": second["elapsed"]}
                    stalls.append(first_run)
                    _report({**first_run, "problems": [f"took {first_run['elapsed']}s"]}, "STALL")
    failures = [r for r in results if r["problems"]]
    in_time = [r for r in results if "stall" not in r]
    timed = sorted(r["elapsed"] for r in in_time)
    slowest = max(in_time, key=lambda r: r["elapsed"], default=None)
    codes: dict[int, int] = {}
    for r in results:
        codes[r["code"]] = codes.get(r["code"], 0) + 1
    return {
        "count": len(results),
        "seed": seed,
        "failures": failures,
        "stalls": [{"case": r["case"], "label": r["label"], **r["stall"]} for r in stalls],
        "wall_seconds": round(time.monotonic() - started, 1),
        "max_run_seconds": slowest["elapsed"] if slowest else 0,
        "p99_run_seconds": timed[int(len(timed) * 0.99)] if timed else 0,
        "slowest": slowest["label"] if slowest else "",
        "timeout": TIMEOUT,
        "exit_codes": dict(sorted(codes.items())),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=int(os.environ.get("FUZZ_COUNT", "300")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "1")))
    parser.add_argument("--first", type=int, default=0, help="number of the first case")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--save", type=Path, help="keep the inputs of failing cases here")
    parser.add_argument("--standalone", action="store_true", help="run the console scripts")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    summary = fuzz(args.count, args.seed, args.jobs, args.save, args.standalone, args.first, True)
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['count']} cases (seed {summary['seed']}), "
            f"{len(summary['failures'])} failed, "
            f"{summary['wall_seconds']}s, {len(summary['stalls'])} stalls of the machine "
            f"(slow once, in time when run again), slowest run {summary['max_run_seconds']}s, "
            f"p99 {summary['p99_run_seconds']}s "
            f"(-t {TIMEOUT}): {summary['slowest']}; exit codes {summary['exit_codes']}"
        )
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
