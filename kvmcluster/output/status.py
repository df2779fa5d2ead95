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


def colour_wanted(stream, no_color_option: bool, environ=None) -> bool:
    """Colours on a terminal only, and never with --no-color, NO_COLOR set (any value) or
    TERM=dumb."""
    import os

    environ = os.environ if environ is None else environ
    if no_color_option or "NO_COLOR" in environ or environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def capture_time(started: str | None) -> str:
    """The header's time of a capture: its MANIFEST.json `started` (collect's
    %Y-%m-%dT%H:%M:%S%z), else "capture time unknown". From the capture: read as data."""
    if not started:
        return "capture time unknown"
    from datetime import datetime

    try:
        when = datetime.strptime(str(started)[:40], "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return "capture time unknown"
    return "captured " + when.strftime("%Y-%m-%d %H:%M:%S %z")


def _visible(line: str) -> int:
    """The width of a line on the screen: its text without the colour sequences."""
    return len(_strip(line))


def _strip(line: str) -> str:
    import re

    return re.sub("\033\\[[0-9;]*m", "", line)


def _cut(line: str, width: int) -> str:
    """The line cut to `width` screen columns (the last one a `>`), colours kept closed."""
    if _visible(line) <= width:
        return line
    out, shown, i = [], 0, 0
    while i < len(line) and shown < width - 1:
        if line.startswith("\033[", i):
            end = line.index("m", i) + 1
            out.append(line[i:end])
            i = end
            continue
        out.append(line[i])
        shown += 1
        i += 1
    text = "".join(out)
    return text + ("\033[0m" if "\033[" in text else "") + ">"


def _fit(header: list[str], blocks: list[list[str]], size: tuple[int, int]) -> list[str]:
    """What fits a screen of `size` (columns, rows): the header and every area's title line
    first, then the areas' lines worst area first; the rest is cut with a count. Lines are
    cut to the width, one column short of it (no terminal wraps a line that long)."""
    columns, rows = size
    width = max(columns - 1, 10)
    total = len(header) + sum(len(b) for b in blocks)
    if total <= rows - 1:
        return [_cut(line, width) for line in header + [x for b in blocks for x in b]]
    room = max(rows - 2, 1)  # one row for the count, one for the cursor
    titles = min(len(blocks), max(room - len(header), 0))
    room -= len(header) + titles
    keep = []
    for number, block in enumerate(blocks):
        if number >= titles:
            break
        extra = min(len(block) - 1, max(room, 0))
        room -= extra
        keep += block[: 1 + extra]
    lines = (header + keep)[: max(rows - 2, 1)]
    hidden = total - len(lines)
    lines.append(f"... {hidden} more line{'s' if hidden != 1 else ''}, resize or -v")
    return [_cut(line, width) for line in lines]


def render_text(
    areas: list[dict],
    source: str,
    node: str,
    colour: bool,
    verbose: bool,
    when: str | None = None,
    size: tuple[int, int] | None = None,
) -> str:
    """The status screen. `when`: the time the header says (a capture's own, capture_time);
    default now. `size` (columns, rows): fit a terminal of that size (--watch)."""

    def paint(state: State, text: str) -> str:
        return f"\033[{COLOURS[state]}m{text}\033[0m" if colour else text

    # names from the input are escaped (printable): summary_line and detail_line do it, the
    # node name, the source and the advice are escaped here
    node, source = printable(node), printable(source)
    state = worst(areas)
    title = f"kvmcluster status: {paint(state, state.name)}   node {node}"
    where = f"{source}, {printable(when) if when else time.strftime('%Y-%m-%d %H:%M:%S')}"
    header = [f"{title}, {where}", ""]
    if size is not None and _visible(header[0]) > size[0] - 1:
        header = [title, where]  # the time stays on a narrow screen
    blocks = []
    ordered = sorted(areas, key=lambda a: -(a["report"].state.severity) if a["captured"] else 1)
    for area in ordered:
        if not area["captured"]:
            blocks.append([f"{area['title']:<24} -         not captured"])
            continue
        report = area["report"]
        lines = [
            f"{area['title']:<24} {paint(report.state, f'{report.state.name:<9}')} "
            f"{summary_line(report, area['noun'])}"
        ]
        for finding in sorted(report.findings, key=lambda f: -f.state.severity):
            if finding.state != State.OK or verbose:
                # the word is padded, then painted: the columns stay aligned with colours on
                word = f"{finding.state.name.lower():<8}"
                lines.append(f"    {paint(finding.state, word)} {detail_line(finding)}")
        hidden = sum(1 for f in report.findings if f.state == State.OK)
        if hidden and not verbose and report.state != State.OK:
            lines.append(f"    ({hidden} OK, -v to list)")
        for number, tip in enumerate(area["advice"]):
            lines.append(f"    {'next:' if number == 0 else '':<5} {printable(tip)}")
        blocks.append(lines)
    if size is not None:
        return "\n".join(_fit(header, blocks, size)) + "\n"
    return "\n".join(header + [line for block in blocks for line in block]) + "\n"
