"""The cluster view's screen and its JSON (schema version 2,
kvmcluster/schemas/status-cluster.schema.json): pure renderers over the nodes' readings
(view.read.NodeReading: each node's areas as status builds them) and the correlations
(model.cluster_view.Correlation).

The view's state is the worst of: every reachable node's areas, every correlation, and
WARNING for each node that could not be read (the view is incomplete: what it did not see
may be wrong; a correlation says CRITICAL when the missing node makes it so). An unreachable
node's own column is UNKNOWN. With no node read at all the view is UNKNOWN.
"""

from __future__ import annotations

import time

from kvmcluster.model.findings import State, printable
from kvmcluster.model.findings import worst as worst_state

SCHEMA_VERSION = 2
ELLIPSIS = "…"
AREA_COLUMN = 24


def node_state(reading) -> State:
    if not reading.reachable:
        return State.UNKNOWN
    from kvmcluster.output.status import worst

    return worst(reading.areas)


def view_state(readings, correlations) -> State:
    if not any(r.reachable for r in readings):
        return State.UNKNOWN
    states = [node_state(r) for r in readings if r.reachable]
    states += [State.WARNING for r in readings if not r.reachable]
    states += [k.state for k in correlations]
    return worst_state(states, State.UNKNOWN)


def headline(readings, correlations) -> tuple[State, str]:
    """The view's state and the line a person (or Icinga) reads first: the worst cluster
    finding's summary, else the worst node column, else `N nodes, no cluster finding`."""
    state = view_state(readings, correlations)
    count = f"{len(readings)} node{'s' if len(readings) != 1 else ''}"
    problems = sorted(
        (k for k in correlations if k.state != State.OK), key=lambda k: -k.state.severity
    )
    lost = [r for r in readings if not r.reachable]
    if problems:
        text = problems[0].reason
        if len(problems) > 1:
            text += (
                f" (+{len(problems) - 1} more cluster finding{'s' if len(problems) > 2 else ''})"
            )
        return state, printable(text)
    if lost:
        names = ", ".join(printable(r.name) for r in lost)
        return state, f"{count}, {len(lost)} not read ({names}), no cluster finding"
    return state, f"{count}, no cluster finding"


def short_reason(area: dict) -> str:
    from kvmcluster.output.nagios import summary_line

    return summary_line(area["report"], area["noun"])


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + ELLIPSIS


def column_width(nodes: int, columns: int) -> int:
    return max(14, min(40, (columns - AREA_COLUMN - 1) // max(1, nodes) - 2))


def column_names(readings) -> list[str]:
    """The nodes' names over their columns: the short names (node05) when no two nodes share
    one, else the full names (the JSON keeps the full names)."""
    names = [r.name for r in readings]
    shorts = [name.split(".")[0] for name in names]
    if len(set(shorts)) == len(shorts) and all(short for short in shorts):
        return shorts
    return names


def render_text(
    readings,
    correlations,
    source: str,
    colour: bool = False,
    verbose: bool = False,
    columns: int = 120,
    areas=None,
) -> str:
    """The screen: header, a row per area and a column per node, then the cluster findings."""
    from kvmcluster.output.status import COLOURS

    if areas is None:
        from kvmcluster.status import AREAS as areas

    def paint(state: State, text: str) -> str:
        return f"\033[{COLOURS[state]}m{text}\033[0m" if colour else text

    state = view_state(readings, correlations)
    width = column_width(len(readings), columns)
    lines = [
        f"kvmcluster status --cluster: {paint(state, state.name)}   {len(readings)} node"
        f"{'s' if len(readings) != 1 else ''}, {printable(source)}, "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}",
        "",
    ]

    def cell(state: State | None, text: str) -> str:
        plain = _cut(f"{state.name} {text}" if state is not None else text, width)
        if state is None or not colour:
            return plain.ljust(width)
        word = state.name
        return paint(state, word) + plain[len(word) :].ljust(width - len(word))

    header = (
        "".ljust(AREA_COLUMN)
        + " "
        + "  ".join(_cut(printable(name), width).ljust(width) for name in column_names(readings))
    )
    lines.append(header.rstrip())
    cut_off = []
    for row, (key, title, _noun) in enumerate(areas):
        cells = []
        for reading in readings:
            if not reading.reachable:
                why = printable(f"unreachable: {reading.error}")
                if row == 0:
                    cells.append(cell(State.UNKNOWN, why))
                    if len(f"UNKNOWN {why}") > width:
                        cut_off.append(reading)
                else:
                    cells.append("".ljust(width))
                continue
            area = next((a for a in reading.areas if a["name"] == key), None)
            if area is None or not area.get("captured"):
                cells.append(cell(None, "- not captured"))
                continue
            report = area["report"]
            cells.append(cell(report.state, short_reason(area)))
        lines.append((f"{title:<{AREA_COLUMN}} " + "  ".join(cells)).rstrip())
    for reading in cut_off:
        lines.append(printable(f"  {reading.name}: unreachable: {reading.error}"))
    if verbose:
        from kvmcluster.output.nagios import detail_line

        for reading in readings:
            if not reading.reachable:
                continue
            shown = []
            for area in reading.areas:
                if not area.get("captured"):
                    continue
                for finding in sorted(area["report"].findings, key=lambda f: -f.state.severity):
                    if finding.state != State.OK:
                        shown.append(
                            f"    {paint(finding.state, finding.state.name.lower()):<8} "
                            f"{area['title']}: {detail_line(finding)}"
                        )
            if shown:
                lines += ["", printable(f"{reading.name}:"), *shown]
    lines += ["", "Cluster findings"]
    ordered = sorted(correlations, key=lambda k: -k.state.severity)
    if not any(k.state != State.OK for k in correlations):
        lines.append("    no cluster finding")
    for finding in ordered:
        if finding.state == State.OK and not verbose:
            continue
        lines.append(
            f"    {paint(finding.state, f'{finding.state.name:<8}')} "
            f"{printable(finding.kind)}: {printable(finding.reason)}"
        )
        if finding.items:
            lines += _wrapped("        items: ", [printable(i) for i in finding.items], columns)
        for number, tip in enumerate(finding.advice):
            lines.append(("        next:  " if number == 0 else " " * 15) + printable(tip))
    return "\n".join(lines) + "\n"


def _wrapped(label: str, items: list[str], columns: int) -> list[str]:
    """`label` then the items joined by commas, continued under the first at `columns`."""
    lines, line = [], label
    for number, item in enumerate(items):
        text = item + ("," if number < len(items) - 1 else "")
        if line.strip() and line != label and len(line) + 1 + len(text) > columns:
            lines.append(line.rstrip())
            line = " " * len(label)
        line += ("" if line.endswith(" ") else " ") + text
    lines.append(line.rstrip())
    return lines


def to_json(readings, correlations, source: str) -> dict:
    """Schema version 2: each node with its areas as in version 1, and the correlations."""
    from kvmcluster.output.status import to_json as node_json

    state = view_state(readings, correlations)
    nodes = []
    for reading in readings:
        entry = {
            "name": reading.name,
            "reachable": reading.reachable,
            "error": reading.error,
            "state": node_state(reading).name,
            "areas": node_json(reading.areas, source, reading.name)["areas"]
            if reading.reachable
            else [],
        }
        nodes.append(entry)
    return {
        "version": SCHEMA_VERSION,
        "state": state.name,
        "exit_code": int(state),
        "source": source,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "nodes": nodes,
        "correlations": [
            {
                "kind": k.kind,
                "state": k.state.name,
                "summary": k.reason,
                "items": list(k.items),
                "advice": list(k.advice),
                "nodes": list(k.nodes),
            }
            for k in correlations
        ],
    }
