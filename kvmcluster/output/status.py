"""The status screen and its JSON (kvmcluster/schemas/status.schema.json): renderers of the
areas' reports, the same findings the plugins print (output.nagios)."""

from __future__ import annotations

import time

from kvmcluster.model.findings import State, printable
from kvmcluster.model.findings import worst as worst_state
from kvmcluster.output.nagios import detail_line, summary_line

SCHEMA_VERSION = 1
COLOURS = {State.OK: "32", State.WARNING: "33", State.CRITICAL: "31", State.UNKNOWN: "35"}


def worst(areas: list[dict]) -> State:
    return worst_state((a["report"].state for a in areas if a.get("captured")), State.UNKNOWN)


def to_json(areas: list[dict], source: str, node: str) -> dict:
    state = worst(areas)
    out = {
        "version": SCHEMA_VERSION,
        "state": state.name,
        "exit_code": int(state),
        "node": node,
        "source": source,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "areas": [],
    }
    for area in areas:
        entry = {"name": area["name"], "title": area["title"], "captured": area["captured"]}
        if area["captured"]:
            report = area["report"]
            entry.update(
                state=report.state.name,
                summary=summary_line(report, area["noun"]),
                findings=[
                    {
                        "item": f.item,
                        "state": f.state.name,
                        "problems": list(f.problems),
                        "detail": detail_line(f),
                    }
                    for f in report.findings
                ],
                perfdata=[_perf_json(p) for p in report.perf_values()],
                advice=area["advice"],
            )
        out["areas"].append(entry)
    return out


def _perf_json(perf) -> dict:
    """label, value, uom, and the thresholds applied to it (warn, crit) when there are any."""
    entry = {"label": perf.label, "value": perf.value, "uom": perf.uom}
    if perf.warn:
        entry["warn"] = str(perf.warn)
    if perf.crit:
        entry["crit"] = str(perf.crit)
    return entry


def render_text(areas: list[dict], source: str, node: str, colour: bool, verbose: bool) -> str:
    def paint(state: State, text: str) -> str:
        return f"\033[{COLOURS[state]}m{text}\033[0m" if colour else text

    # names from the input are escaped (printable): summary_line and detail_line do it, the
    # node name, the source and the advice are escaped here
    node, source = printable(node), printable(source)
    state = worst(areas)
    lines = [
        f"kvmcluster status: {paint(state, state.name)}   node {node}, {source}, "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}",
        "",
    ]
    ordered = sorted(areas, key=lambda a: -(a["report"].state.severity) if a["captured"] else 1)
    for area in ordered:
        if not area["captured"]:
            lines.append(f"{area['title']:<24} -         not captured")
            continue
        report = area["report"]
        lines.append(
            f"{area['title']:<24} {paint(report.state, f'{report.state.name:<9}')} "
            f"{summary_line(report, area['noun'])}"
        )
        for finding in sorted(report.findings, key=lambda f: -f.state.severity):
            if finding.state != State.OK or verbose:
                lines.append(
                    f"    {paint(finding.state, finding.state.name.lower()):<8} "
                    f"{detail_line(finding)}"
                )
        hidden = sum(1 for f in report.findings if f.state == State.OK)
        if hidden and not verbose and report.state != State.OK:
            lines.append(f"    ({hidden} OK, -v to list)")
        for number, tip in enumerate(area["advice"]):
            lines.append(f"    {'next:' if number == 0 else '':<5} {printable(tip)}")
    return "\n".join(lines) + "\n"
