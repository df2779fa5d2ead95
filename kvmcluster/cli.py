"""The `kvmcluster` command: status, collect, generate, lint, import (and demo)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kvmcluster import __version__


def cmd_demo(args: argparse.Namespace) -> int:
    """`kvmcluster status` on every bundled example capture, one after the other."""
    from kvmcluster import status
    from kvmcluster.model.findings import printable

    # default: the captures that ship inside the package (demo_captures), so the demo runs
    # from any directory and in any installation
    root = Path(args.captures) if args.captures else Path(__file__).parent / "demo_captures"
    if not root.is_dir():
        print(f"kvmcluster demo: {root}: no such directory", file=sys.stderr)
        return 3
    captures = sorted(p for p in root.iterdir() if p.is_dir())
    for capture in captures:
        about = capture / "ABOUT"
        title = about.read_text().strip() if about.is_file() else capture.name
        print(printable(f"=== {capture.name}: {title}"))
        print(f"$ kvmcluster status --from {capture}")
        code = status.run(
            argparse.Namespace(
                from_=str(capture), json=False, watch=None, no_color=False, verbose=False
            )
        )
        print(f"(exit {code})\n")
    return 0 if captures else 3


def cmd_generate(args: argparse.Namespace) -> int:
    from kvmcluster.config.description import DescriptionError, load_description
    from kvmcluster.config.generate import generate_files
    from kvmcluster.config.writer import WouldOverwrite, diff, write_files
    from kvmcluster.errors import KvmclusterError
    from kvmcluster.model.findings import printable

    try:
        description = load_description(args.description)
    except DescriptionError as exc:
        print(
            f"kvmcluster generate: {len(exc.problems)} problem(s) in the description:",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  {printable(str(problem))}", file=sys.stderr)
        return 2
    except KvmclusterError as exc:
        print(f"kvmcluster generate: {printable(str(exc))}", file=sys.stderr)
        return 2
    files = generate_files(description)
    if args.diff:
        changes = diff(files, args.output)
        sys.stdout.write(changes)
        return 1 if changes else 0
    try:
        states = write_files(files, args.output, force=args.force)
    except WouldOverwrite as exc:
        print(f"kvmcluster generate: {printable(str(exc))}", file=sys.stderr)
        return 1
    for relative, state in sorted(states.items()):
        label = {"new": "wrote", "changed": "replaced", "same": "unchanged"}[state]
        print(f"{label:9} {os.path.join(args.output, relative)}")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from kvmcluster.config.lint import lint_files
    from kvmcluster.errors import KvmclusterError
    from kvmcluster.model.findings import printable

    inputs = {
        "cluster_conf": args.cluster_conf,
        "drbd_conf": args.drbd_conf,
        "hosts": args.hosts,
        "corosync_conf": args.corosync_conf,
        "lvm_conf": args.lvm_conf,
    }
    if not any(inputs.values()):
        from kvmcluster.config.lint import NODE_FILES, node_files

        inputs.update(node_files(args.root or "/"))
    if not any(inputs.values()):
        where = f" under {args.root}" if args.root else ""
        print(
            f"LINT UNKNOWN - nothing to lint: none of {', '.join(NODE_FILES.values())} "
            f"exists{where}; give --cluster-conf, --drbd-conf, --hosts, --corosync-conf "
            "or --lvm-conf"
        )
        return 3
    try:
        findings = lint_files(**inputs)
    except KvmclusterError as exc:
        print(f"LINT UNKNOWN - {printable(str(exc))}")
        return 3
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    files = ", ".join(os.path.basename(p) for p in inputs.values() if p)
    if not findings:
        print(printable(f"LINT OK - no findings in {files}"))
        return 0
    state, code = ("CRITICAL", 2) if errors else ("WARNING", 1)
    worst = (errors or warnings)[0]
    print(
        printable(
            f"LINT {state} - {len(errors)} error(s), {len(warnings)} warning(s) in {files}: "
            f"{worst.message}"
        )
    )
    for finding in errors + warnings:
        print(printable(str(finding)))
    return code


def cmd_import(args: argparse.Namespace) -> int:
    from kvmcluster.config.importer import import_cluster
    from kvmcluster.config.writer import write_atomic
    from kvmcluster.errors import KvmclusterError
    from kvmcluster.model.findings import printable
    from kvmcluster.sources.drbd_conf import read_drbd_conf
    from kvmcluster.sources.files import read_text

    warnings: list[str] = []
    try:
        admin = {}
        for item in args.admin_address or []:
            node, sep, address = item.partition("=")
            if not sep or not node or not address:
                raise KvmclusterError(f"--admin-address {item}: expected NODE=IP")
            admin[node] = address
        text = import_cluster(
            read_text(args.cluster_conf, "cluster.conf"),
            args.cluster_conf,
            read_drbd_conf(args.drbd_conf),
            read_text(args.hosts, "hosts file") if args.hosts else None,
            admin_addresses=admin,
            warnings=warnings,
        )
    except KvmclusterError as exc:
        print(f"kvmcluster import: {printable(str(exc))}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"kvmcluster import: warning: {printable(warning)}", file=sys.stderr)
    if args.output:
        if os.path.exists(args.output) and not args.force:
            print(f"kvmcluster import: {args.output} exists (use --force)", file=sys.stderr)
            return 1
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from kvmcluster import status
    from kvmcluster.errors import KvmclusterError
    from kvmcluster.runtime.cli import start

    try:
        return status.run(args, None if args.from_ else start(args))
    except KvmclusterError as exc:
        from kvmcluster.model.findings import printable

        print(f"kvmcluster status: {printable(str(exc))}", file=sys.stderr)
        return 3


def cmd_collect(args: argparse.Namespace) -> int:
    from kvmcluster.collect import collect
    from kvmcluster.runtime.cli import start

    if args.cluster:
        return _collect_cluster(args)
    node = start(args)
    output = args.output or f"kvmcluster-{os.uname().nodename.split('.')[0]}.tar.gz"
    if os.path.exists(output) and not args.force:
        print(f"kvmcluster collect: {output} exists (use --force)", file=sys.stderr)
        return 1
    manifest = collect(
        output, node, sudo=args.sudo, libvirt=args.libvirt, vgs=args.vg, redact=not args.no_redact
    )
    problems = [i for i in manifest["inputs"] if i["status"] != "ok"]
    print(
        f"wrote {output}: {len(manifest['inputs']) - len(problems)} inputs captured, "
        f"{len(problems)} not (see MANIFEST.json)"
    )
    from kvmcluster.model.findings import printable

    for item in problems:
        print(printable(f"  {item['status']:8} {item['file']}: {item.get('reason', '')}"))
    return 0


def _collect_cluster(args: argparse.Namespace) -> int:
    """collect --cluster: every node in parallel into one archive."""
    from kvmcluster.errors import KvmclusterError
    from kvmcluster.model.findings import printable
    from kvmcluster.view.read import collect_cluster
    from kvmcluster.view.run import live_specs

    output = args.output or "kvmcluster-cluster.tar.gz"
    if os.path.exists(output) and not args.force:
        print(f"kvmcluster collect: {output} exists (use --force)", file=sys.stderr)
        return 1
    try:
        specs = live_specs(args)
    except KvmclusterError as exc:
        print(f"kvmcluster collect: {printable(str(exc))}", file=sys.stderr)
        return 3
    manifest = collect_cluster(output, specs, args.timeout, args.sudo, not args.no_redact)
    lost = [n for n in manifest["nodes"] if not n["reachable"]]
    print(
        f"wrote {output}: {len(manifest['nodes']) - len(lost)} of {len(manifest['nodes'])} "
        "nodes captured (see MANIFEST.json)"
    )
    for entry in manifest["nodes"]:
        if entry["reachable"]:
            print(
                printable(
                    f"  {entry['name']}: {entry.get('inputs', 0) - entry.get('not_captured', 0)} "
                    f"inputs captured, {entry.get('not_captured', 0)} not"
                )
            )
        else:
            print(printable(f"  {entry['name']}: not read: {entry['error']}"))
    return 0


class CommandParser(argparse.ArgumentParser):
    """Bad arguments are one line and exit 3, as for the plugins: `LINT UNKNOWN - bad
    arguments: ...` on stdout for lint (an Icinga check), `kvmcluster CMD: bad arguments:
    ...` on stderr for the others (stdout may be JSON)."""

    words: list[str] = []  # the command line being parsed (set by main)

    def error(self, message):
        from kvmcluster.model.findings import printable

        message = printable(message)
        command = self.prog.split()[1] if " " in self.prog else _command_in(self.words)
        if command == "lint":
            message = message.replace("|", "/")
            print(f"LINT UNKNOWN - bad arguments: {message} (see kvmcluster lint -h)")
        else:
            prog = f"kvmcluster {command}" if command else "kvmcluster"
            print(f"{prog}: bad arguments: {message} (see {prog} -h)", file=sys.stderr)
        sys.exit(3)


COMMANDS = ("demo", "generate", "lint", "import", "status", "collect")


def _command_in(words: list[str]) -> str:
    return next((w for w in words if w in COMMANDS), "")


def seconds(text: str) -> float:
    """--watch: a number of seconds, finite and greater than 0."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 86400):
        raise argparse.ArgumentTypeError(f"must be greater than 0 and at most 86400: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from kvmcluster.runtime.cli import timeout_seconds

    parser = CommandParser(
        prog="kvmcluster", description="KVM cluster on DRBD and LVM: checks and tools."
    )
    parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the checks on bundled example captures")
    demo.add_argument(
        "captures",
        nargs="?",
        help="captures directory (default: the example captures installed with kvmcluster)",
    )
    demo.set_defaults(func=cmd_demo)

    generate = commands.add_parser(
        "generate", help="cluster description (TOML) -> drbd.conf, cluster.conf, hosts, ..."
    )
    generate.add_argument("description", help="the cluster description (TOML)")
    generate.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="DIR",
        help="where to write, laid out like the target filesystem",
    )
    generate.add_argument("--force", action="store_true", help="replace files that differ")
    generate.add_argument(
        "--diff",
        action="store_true",
        help="show what would change in DIR, write nothing (exit 1 if anything)",
    )
    generate.set_defaults(func=cmd_generate)

    lint = commands.add_parser(
        "lint",
        help="check existing config files (exit 0 clean, 1 warnings, 2 errors, 3 unreadable)",
    )
    lint.add_argument("--cluster-conf", metavar="FILE")
    lint.add_argument("--drbd-conf", metavar="FILE")
    lint.add_argument("--hosts", metavar="FILE")
    lint.add_argument("--corosync-conf", metavar="FILE")
    lint.add_argument("--lvm-conf", metavar="FILE")
    lint.add_argument(
        "--root",
        metavar="DIR",
        help="with no file given, lint the node's files under DIR instead of / "
        "(e.g. the --output of kvmcluster generate)",
    )
    lint.add_argument("-t", "--timeout", type=timeout_seconds, default=10, help=argparse.SUPPRESS)
    lint.add_argument("--sudo", action="store_true", help=argparse.SUPPRESS)
    lint.set_defaults(func=cmd_lint)

    importer = commands.add_parser("import", help="existing config files -> a description")
    importer.add_argument("--cluster-conf", required=True, metavar="FILE")
    importer.add_argument("--drbd-conf", required=True, metavar="FILE")
    importer.add_argument("--hosts", metavar="FILE")
    importer.add_argument(
        "--admin-address",
        action="append",
        metavar="NODE=IP",
        help="the address Icinga checks NODE on (default: its SHORT-admin line in --hosts)",
    )
    importer.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    importer.add_argument("--force", action="store_true")
    importer.set_defaults(func=cmd_import)

    from kvmcluster.checks.vm_alloc import node_value
    from kvmcluster.runtime.cli import add_ssh_options

    status = commands.add_parser(
        "status", help="every check at once, on one screen (exit code = worst state)"
    )
    status.add_argument(
        "--from",
        dest="from_",
        action="append",
        metavar="CAPTURE",
        help="analyse a capture (directory or .tar.gz of kvmcluster collect); repeated, one "
        "per node, or a collect --cluster capture: the cluster view",
    )
    status.add_argument(
        "--cluster",
        action="store_true",
        help="the cluster view: every node read at once (this one locally, the others over "
        "SSH), a column per node, then what only a view across nodes sees",
    )
    _add_cluster_options(status)
    status.add_argument(
        "--sudo",
        action="store_true",
        help="with --cluster: run the nodes' tools as collect --sudo does (icinga/sudoers)",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--format",
        choices=("text", "json", "openmetrics"),
        help="text (default), json (= --json) or openmetrics (for Prometheus)",
    )
    status.add_argument(
        "--textfile",
        metavar="DIR",
        help="write the metrics to DIR/kvmcluster.prom (atomically) for node_exporter's "
        "textfile collector; prints nothing, exit 0 once written",
    )
    status.add_argument("--watch", type=seconds, metavar="SECONDS", help="refresh every SECONDS")
    status.add_argument("--no-color", action="store_true", help="no colours even on a terminal")
    status.add_argument("-v", "--verbose", action="store_true", help="list the OK items too")
    status.add_argument(
        "-t",
        "--timeout",
        type=timeout_seconds,
        default=30,
        metavar="SECONDS",
        help="time budget of the tools (default %(default)s)",
    )
    add_ssh_options(status)
    status.set_defaults(func=cmd_status, libvirt=None)

    collect = commands.add_parser("collect", help="capture every input of the checks")
    collect.add_argument("--output", "-o", metavar="FILE.tar.gz")
    collect.add_argument("--force", action="store_true")
    collect.add_argument("--sudo", action="store_true", help="run the tools with sudo -n")
    collect.add_argument(
        "--cluster",
        action="store_true",
        help="every node in parallel into one archive (a folder per node, a top MANIFEST.json)",
    )
    _add_cluster_options(collect, libvirt=False)
    collect.add_argument(
        "--no-redact",
        action="store_true",
        help="keep passwords, logins, SNMP communities and DRBD shared secrets (default: "
        "replaced by REDACTED)",
    )
    collect.add_argument(
        "--libvirt",
        action="append",
        type=node_value,
        metavar="NODE=URI",
        help="hypervisors to capture (default: qemu:///system of this node)",
    )
    collect.add_argument(
        "--vg",
        action="append",
        type=node_value,
        metavar="NODE=VG",
        help="record the VG of each node's VMs for status",
    )
    collect.add_argument(
        "-t",
        "--timeout",
        type=timeout_seconds,
        default=120,
        metavar="SECONDS",
        help="time budget of the whole capture (default %(default)s)",
    )
    add_ssh_options(collect)
    collect.set_defaults(func=cmd_collect)
    return parser


def _add_cluster_options(parser, libvirt: bool = True) -> None:
    from kvmcluster.checks.vm_alloc import node_value
    from kvmcluster.view.read import node_arg

    parser.add_argument(
        "--node",
        action="append",
        type=node_arg,
        metavar="NAME[=[USER@]HOST[:PORT]]",
        help="with --cluster: a node to read (repeatable; default: the nodes of this node's "
        "cluster.conf, CIB or corosync.conf); NAME alone is this machine when it is its name, "
        "else SSH to NAME",
    )
    if libvirt:
        parser.add_argument(
            "--libvirt",
            action="append",
            type=node_value,
            metavar="NODE=URI",
            help="with --cluster: the hypervisor of NODE (default: qemu+ssh:// to the node, "
            "its own ssh connection; qemu:///system here)",
        )


class _NoResult(BaseException):  # not caught by an `except Exception` on its way up
    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds


def _end_within_timeout(args: argparse.Namespace) -> None:
    """status, lint and collect end within -t (+ 0.5 s to print their line) even when a huge
    input keeps the parsers busy: commands are already bounded by the deadline, Python work is
    not (the plugins have nagiosplugin's alarm). Not with --watch, whose every refresh gets the
    whole budget. Disarmed by main() before it returns."""
    import signal
    import threading

    seconds = getattr(args, "timeout", None)
    if not seconds or getattr(args, "watch", None):
        return
    if threading.current_thread() is not threading.main_thread():
        return

    def expired(signum, frame):
        raise _NoResult(seconds)

    signal.signal(signal.SIGALRM, expired)
    # the cluster view gives each node's thread a moment past its own deadline (view.read)
    cluster = getattr(args, "cluster", False) or isinstance(getattr(args, "from_", None), list)
    signal.setitimer(signal.ITIMER_REAL, seconds + (1.0 if cluster else 0.5))


def _disarm() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.setitimer(signal.ITIMER_REAL, 0)


def main(argv: list[str] | None = None) -> None:
    from kvmcluster.runtime.cli import discard_stdout, ensure_std_streams

    ensure_std_streams()  # started with stdout closed (`kvmcluster lint ... >&-`)
    CommandParser.words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        _end_within_timeout(args)
        code = args.func(args)
        sys.stdout.flush()  # here, where a closed pipe can still be answered
    except KeyboardInterrupt:
        code = 3
    except _NoResult as exc:
        message = f"no result within {exc.seconds:g}s (raise -t if the input is that large)"
        try:
            if args.command == "lint":
                print(f"LINT UNKNOWN - {message}", flush=True)
            else:
                print(f"kvmcluster {args.command}: {message}", file=sys.stderr)
        except BrokenPipeError:
            discard_stdout()
        code = 3
    except BrokenPipeError:  # `kvmcluster status | head`: nobody reads the rest
        discard_stdout()
        code = 3
    except Exception as exc:  # the last line of defence: one line, no traceback
        from kvmcluster.model.findings import printable

        error = printable(f"{type(exc).__name__}: {exc}")
        try:
            if args.command == "lint":  # a check: its one line on stdout
                print(f"LINT UNKNOWN - internal error: {error.replace('|', '/')}", flush=True)
            else:
                print(f"kvmcluster {args.command}: internal error: {error}", file=sys.stderr)
        except BrokenPipeError:
            discard_stdout()
        code = 3
    finally:
        _disarm()
    sys.exit(code)
