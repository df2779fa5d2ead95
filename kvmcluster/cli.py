"""The `kvmcluster` command. Subcommands: demo (more to come: generate, lint, import, status,
collect)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from kvmcluster import __version__

# Capture file name -> (plugin, option). The same names `kvmcluster collect` writes.
CAPTURE_INPUTS = [
    ("proc-drbd.txt", "check_drbd", "--proc-file"),
    ("drbdsetup-status.json", "check_drbd", "--json-file"),
    ("drbdsetup-events2.txt", "check_drbd", "--events-file"),
]
# Extra inputs a plugin takes from the same capture when present.
CAPTURE_EXTRAS = {"check_drbd": [("drbd.conf", "--drbd-conf")]}


def _plugin(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def plugin_runs_for_capture(capture: Path) -> list[list[str]]:
    """The plugin command lines that analyse one capture directory."""
    runs = []
    for filename, plugin, option in CAPTURE_INPUTS:
        if (capture / filename).is_file():
            argv = [_plugin(plugin), "-v", option, str(capture / filename)]
            for extra, extra_option in CAPTURE_EXTRAS.get(plugin, []):
                if (capture / extra).is_file():
                    argv += [extra_option, str(capture / extra)]
            runs.append(argv)
    return runs


def cmd_demo(args: argparse.Namespace) -> int:
    root = Path(args.captures)
    if not root.is_dir():
        print(f"kvmcluster demo: {root}: no such directory", file=sys.stderr)
        return 3
    captures = sorted(p for p in root.iterdir() if p.is_dir())
    for capture in captures:
        about = capture / "ABOUT"
        title = about.read_text().strip() if about.is_file() else capture.name
        print(f"=== {capture.name}: {title}")
        for argv in plugin_runs_for_capture(capture):
            shown = " ".join([os.path.basename(argv[0]), *argv[1:]])
            print(f"$ {shown}")
            proc = subprocess.run(argv, capture_output=True, text=True)
            print(proc.stdout.rstrip())
            print(f"(exit {proc.returncode})\n")
    return 0 if captures else 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kvmcluster", description="KVM cluster on DRBD and LVM: checks and tools."
    )
    parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the checks on bundled example captures")
    demo.add_argument("captures", nargs="?", default="examples/captures", help="captures directory")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))
