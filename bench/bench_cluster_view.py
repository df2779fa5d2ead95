#!/usr/bin/env python3
"""The cluster view's scaling: `kvmcluster status --cluster` over 1, 2 and 5 nodes read by SSH
(real sshd instances on 127.0.0.1, one per node, whose tools print the bundled healthy capture:
tests/sshd_real.py), each node in its own thread with its own connection.

    .venv/bin/python bench/bench_cluster_view.py [--runs 10]      # as root (sshd)
    .venv/bin/python bench/bench_cluster_view.py --serve DIR      # nodes up, DIR/args-N files

The runs alternate 1, 2, 5 nodes so that a drift of the machine's speed touches each alike;
printed: the median wall time of each and the ratios to one node (targets: 2 nodes <= 1.5x,
5 nodes <= 2x). `--serve` keeps the nodes up until interrupted and writes the arguments of each
configuration to DIR/args-1, args-2, args-5 (one argument a line) for an outside timer.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import sshd_real  # noqa: E402

DEMO = REPO / "kvmcluster" / "demo_captures" / "healthy"
COUNTS = (1, 2, 5)


def start_nodes(root: Path, count: int):
    key = root / "user_key"
    sshd_real.keygen(key)
    known = root / "known_hosts"
    servers, args = [], []
    for index in range(count):
        name = f"node{index + 1:02d}"
        capture = root / f"cap-{name}"
        shutil.copytree(DEMO, capture)
        (capture / "hostname.txt").write_text(name + "\n")
        server = sshd_real.Sshd(root / f"bench-{name}", key, sshd_real.capture_tools(capture))
        servers.append(server)
        with open(known, "a") as handle:
            handle.write(server.known_host)
        node_args = ["--node", f"{name}=root@127.0.0.1:{server.port}"]
        libvirt = capture / "libvirt-node05.c01.cloud.agarik.com.xml"
        node_args += ["--libvirt", f"{name}=test://{libvirt}"]
        args.append(node_args)
    common = sshd_real.ssh_options(key, known)
    return servers, args, common


def argv_for(count: int, node_args, common) -> list[str]:
    words = [str(Path(sys.executable).parent / "kvmcluster"), "status", "--cluster", "--json"]
    for args in node_args[:count]:
        words += args
    return [*words, *common, "-t", "30"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--serve", metavar="DIR")
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kvmcluster-bench-view-"))
    servers = []
    try:
        servers, node_args, common = start_nodes(root, max(COUNTS))
        if options.serve:
            out = Path(options.serve)
            out.mkdir(parents=True, exist_ok=True)
            for count in COUNTS:
                (out / f"args-{count}").write_text("\n".join(argv_for(count, node_args, common)))
            print(f"nodes up; arguments in {out}/args-N; ^C to stop", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return 0
        times: dict[int, list[float]] = {count: [] for count in COUNTS}
        for run in range(options.runs + 1):  # the first round warms up, not counted
            for count in COUNTS:
                argv = argv_for(count, node_args, common)
                started = time.perf_counter()
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
                elapsed = time.perf_counter() - started
                if proc.returncode == 3:  # 2: the copies of one capture make VMs run twice
                    print(f"{count} nodes: exit {proc.returncode}: {proc.stderr[:300]}")
                if run:
                    times[count].append(elapsed)
        one = statistics.median(times[1])
        for count in COUNTS:
            median = statistics.median(times[count])
            print(
                f"{count} node(s): median {median:.3f} s (min {min(times[count]):.3f}, max "
                f"{max(times[count]):.3f}), {median / one:.2f}x one node"
            )
        return 0
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
