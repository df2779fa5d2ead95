#!/usr/bin/env python3
"""check_drbd latency against a bare interpreter, and its cost on 1,000 resources.

    .venv/bin/python bench/bench_drbd.py [--runs 30]

Runs each command --runs times (alternating, so machine noise hits all alike) and prints the
median and the 10th-90th percentile spread of the wall time. Targets (issue 2): check_drbd on a
3-resource /proc/drbd <= 4x `python3 -c pass`; 1,000 resources add <= 25 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "proc-drbd_84-dual-primary-ok.txt"


def proc_drbd(resources: int) -> str:
    lines = [
        "version: 8.4.11-1 (api:1/proto:86-101)",
        "GIT-hash: 66145a308421e9c124ec391a7848ac20203bb03c build by mockbuild@, "
        "2018-11-03 01:26:55",
    ]
    for minor in range(resources):
        lines.append(f"{minor:2d}: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate C r-----")
        lines.append(
            f"    ns:{minor * 17} nr:{minor * 3} dw:{minor * 20} dr:{minor * 40} al:0 bm:0 lo:0 "
            "pe:0 ua:0 ap:0 ep:1 wo:f oos:0"
        )
    return "\n".join(lines) + "\n"


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1, 2):
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return elapsed


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    low = ordered[int(len(ordered) * 0.1)]
    high = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return statistics.median(ordered), low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    check_drbd = str(Path(sys.executable).parent / "check_drbd")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "proc-drbd-1000.txt"
        big.write_text(proc_drbd(1000))
        commands = {
            "python3 -c pass": [sys.executable, "-c", "pass"],
            "check_drbd, 3 resources": [check_drbd, "--proc-file", str(FIXTURE)],
            "check_drbd, 1,000 resources": [check_drbd, "--proc-file", str(big)],
        }
        for argv in commands.values():  # warm the page cache
            timed(argv)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                samples[name].append(timed(argv))
    results = {name: summary(values) for name, values in samples.items()}
    bare = results["python3 -c pass"][0]
    print(f"{'command':32} {'median':>9} {'p10':>9} {'p90':>9} {'vs bare':>8}")
    for name, (median, low, high) in results.items():
        print(
            f"{name:32} {median * 1000:8.1f}ms {low * 1000:8.1f}ms {high * 1000:8.1f}ms"
            f" {median / bare:7.2f}x"
        )
    small = results["check_drbd, 3 resources"][0]
    large = results["check_drbd, 1,000 resources"][0]
    print(f"\n3 resources: {small / bare:.2f}x bare interpreter (target <= 4x)")
    print(f"1,000 resources add {(large - small) * 1000:.1f} ms (target <= 25 ms)")


if __name__ == "__main__":
    main()
