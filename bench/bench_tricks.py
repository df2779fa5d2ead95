#!/usr/bin/env python3
"""What each speed trick saves (docs/benchmarks.md, "Speed tricks"): a trick stays only with a
measured gain of at least 3 ms where it is meant to help.

    .venv/bin/python bench/bench_tricks.py [--runs 30]

- the nagiosplugin stand-ins (kvmcluster/runtime/np.py): `from kvmcluster.runtime.np import
  nagiosplugin` against a plain `import nagiosplugin`, whole processes;
- os._exit at the end of a plugin (runtime/cli.exit_now): check_drbd's main() against
  main(argv), which ends by SystemExit and the interpreter's teardown, 10 and 1,000 resources;
- check_drbd's fast path for plainly healthy resources (rules/drbd._plainly_healthy) and the
  PerfRow templates (output/perfdata, per PerfColumns), in-process on 1,000 resources: rules and
  output with and without each (the same perfdata text either way, asserted).

Whole processes run in turn, A B A B ..., and the gain is the median of the paired differences.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import proc_drbd  # noqa: E402

PY = sys.executable


def paired(a: list[str], b: list[str], runs: int) -> tuple[float, float, float]:
    """Median wall time of A, of B, and the median of B - A over paired runs (ms)."""
    times_a, times_b, gains = [], [], []
    for _ in range(2):  # warm-up (bytecode caches, page cache)
        subprocess.run(a, capture_output=True)
        subprocess.run(b, capture_output=True)
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(a, capture_output=True)
        middle = time.perf_counter()
        subprocess.run(b, capture_output=True)
        ended = time.perf_counter()
        times_a.append(middle - started)
        times_b.append(ended - middle)
        gains.append((ended - middle) - (middle - started))
    ms = 1000
    return (
        statistics.median(times_a) * ms,
        statistics.median(times_b) * ms,
        statistics.median(gains) * ms,
    )


def in_process(text: str, runs: int) -> dict[str, float]:
    from kvmcluster.output.nagios import summary_line
    from kvmcluster.output.perfdata import perfdata_text, value_text
    from kvmcluster.parsers.drbd_proc import parse_proc_drbd
    from kvmcluster.rules import drbd as rules

    def once(fast: bool = True, rows: bool = True) -> str:
        status = parse_proc_drbd(text, "proc")
        saved = rules._plainly_healthy
        if not fast:
            rules._plainly_healthy = lambda resource, policy: False
        try:
            report = rules.evaluate(status, rules.DrbdPolicy())
        finally:
            rules._plainly_healthy = saved
        summary_line(report, "resources")
        if rows:
            return perfdata_text(report.perfdata)
        return " ".join(value_text(p) for p in report.perf_values())

    assert once() == once(fast=False) == once(rows=False), "the same perfdata either way"

    def median_ms(**kwargs) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            once(**kwargs)
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    return {
        "all": median_ms(),
        "no fast path": median_ms(fast=False),
        "no templates": median_ms(rows=False),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for n in (10, 1000):
            files[n] = Path(tmp) / f"proc-{n}.txt"
            files[n].write_text(proc_drbd(n))
        rows = []
        a, b, gain = paired(
            [PY, "-c", "from kvmcluster.runtime.np import nagiosplugin"],
            [PY, "-c", "import nagiosplugin"],
            args.runs,
        )
        rows.append(("nagiosplugin stand-ins (import)", a, b, gain))
        for n in (10, 1000):
            a, b, gain = paired(
                [PY, "-c", "from kvmcluster.checks.drbd import main; main()", "--proc-file",
                 str(files[n])],
                [PY, "-c", "import sys; from kvmcluster.checks.drbd import main; "
                 "main(sys.argv[1:])", "--proc-file", str(files[n])],
                args.runs,
            )  # fmt: skip
            rows.append((f"os._exit, check_drbd {n:,} resources", a, b, gain))
        inside = in_process(files[1000].read_text(), args.runs)
    print("| trick | with | without | saves |")
    print("|---|---|---|---|")
    for name, a, b, gain in rows:
        print(f"| {name} | {a:.1f} ms | {b:.1f} ms | {gain:.1f} ms |")
    for name, key in (("fast path", "no fast path"), ("PerfRow templates", "no templates")):
        saved = inside[key] - inside["all"]
        print(
            f"| {name}, 1,000 resources (in-process) | {inside['all']:.1f} ms | "
            f"{inside[key]:.1f} ms | {saved:.1f} ms |"
        )


if __name__ == "__main__":
    main()
