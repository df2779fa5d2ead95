"""`kvmcluster status --cluster` and `status --from CAP --from CAP ...`: the front end of the
cluster view (read the nodes, correlate, render), shared with check_kvmcluster."""

from __future__ import annotations

import os
import sys
import time

from kvmcluster.view.read import NodeReading


def read_view(args, live=None) -> tuple[list[NodeReading], list, str]:
    """(readings, correlations, source) for the arguments of status --cluster, collect
    --cluster or check_kvmcluster: --from captures, else every live node."""
    from kvmcluster.rules.correlate import correlate
    from kvmcluster.view import read

    timeout = getattr(args, "timeout", None) or 30
    captures = getattr(args, "from_", None) or []
    if isinstance(captures, str):
        captures = [captures]
    if captures:
        readings = read.read_captures(captures, timeout)
        source = "captures " + " ".join(captures) if len(captures) > 1 else f"capture {captures[0]}"
    else:
        specs = live_specs(args, live)
        readings = read.read_live(specs, timeout, getattr(args, "sudo", False))
        source = "live over ssh" if any(s.target for s in specs) else "live"
    return readings, correlate([r.facts for r in readings]), source


def live_specs(args, live=None) -> list:
    """The nodes to read live: --node, else those this node's (or the --ssh node's) cluster
    configuration names."""
    from kvmcluster.view import read

    given = list(getattr(args, "node", None) or [])
    discovered: list[str] = []
    if not given:
        if live is None:
            from kvmcluster.runtime.cli import start

            live = start(args)
        else:  # the whole -t again (status --watch: a refresh after the first)
            from kvmcluster.runtime.command import Deadline

            live = live.with_deadline(Deadline(getattr(args, "timeout", None) or 30))
        discovered, _where = read.discover(live, getattr(args, "sudo", False))
    libvirt = dict(getattr(args, "libvirt", None) or [])
    return read.node_specs(given, discovered, getattr(args, "ssh_option", None) or [], libvirt)


def run(args, live=None) -> int:
    """status's cluster view: text, --json (version 2), --format openmetrics, --textfile."""
    from kvmcluster.output import cluster_view

    fmt = getattr(args, "format", None) or ("json" if getattr(args, "json", False) else "text")
    textfile = getattr(args, "textfile", None)
    colour = (
        sys.stdout.isatty()
        and not getattr(args, "no_color", False)
        and not os.environ.get("NO_COLOR")
        and fmt == "text"
        and not textfile
    )
    try:
        while True:
            started = time.time()
            readings, correlations, source = read_view(args, live)
            if fmt == "openmetrics" or textfile:
                from kvmcluster.output.openmetrics import render_cluster

                if textfile:  # beside each node's own kvmcluster.prom: the view's families only
                    from kvmcluster.output.openmetrics import CLUSTER_TEXTFILE_NAME
                    from kvmcluster.textfile import write_textfile

                    text = render_cluster(readings, correlations, "prometheus", started, False)
                    write_textfile(textfile, text, CLUSTER_TEXTFILE_NAME)
                else:
                    sys.stdout.write(render_cluster(readings, correlations, "openmetrics", started))
            elif fmt == "json":
                import json

                document = cluster_view.to_json(readings, correlations, source)
                sys.stdout.write(json.dumps(document, indent=2) + "\n")
            else:
                from kvmcluster.runtime.cli import terminal_columns

                text = cluster_view.render_text(
                    readings,
                    correlations,
                    source,
                    colour,
                    getattr(args, "verbose", False),
                    terminal_columns(),
                )
                if getattr(args, "watch", None) and sys.stdout.isatty():
                    sys.stdout.write("\033[H\033[2J")
                sys.stdout.write(text)
            sys.stdout.flush()
            code = 0 if textfile else int(cluster_view.view_state(readings, correlations))
            if not getattr(args, "watch", None):
                return code
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 3
