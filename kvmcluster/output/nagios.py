"""The Nagios plugin answer of a Report: the first line, the -v lines, the perfdata text.

Every output (this, the status screen and JSON in output.status, OpenMetrics) renders the
same findings; none decides anything from text. Names from the input are escaped here, at
the output boundary (model.findings.printable).
"""

from __future__ import annotations

from kvmcluster.model.findings import Finding, Report, State, printable
from kvmcluster.output.summaries import summary_text

MAX_PROBLEMS_IN_FIRST_LINE = 3


def finding_summary(finding: Finding) -> str:
    """`<item> <problems>`: how one finding reads in the first line (not yet escaped)."""
    text = ", ".join(finding.problems)
    if not finding.item:
        return text
    return f"{finding.item} {text}" if text else finding.item


def summary_line(report: Report, noun: str) -> str:
    """The line a person reads first: worst problems first, then 'k of n <noun> degraded';
    when all is well, the report's own OK summary. Escaped for output (see printable)."""
    items = [f for f in report.findings if f.item]
    noun = report.noun or noun
    if report.state == State.OK:
        return printable(summary_text(report.ok) if report.ok else f"{len(items)} {noun} OK")
    problems = sorted(
        (
            f
            for f in report.findings
            if f.state != State.OK and f.item not in report.headline_covers
        ),
        key=lambda f: -f.state.severity,
    )
    shown = [summary_text(report.headline)] if report.headline else []
    shown += [finding_summary(f) for f in problems[:MAX_PROBLEMS_IN_FIRST_LINE]]
    if len(problems) > MAX_PROBLEMS_IN_FIRST_LINE:
        shown.append(f"{len(problems) - MAX_PROBLEMS_IN_FIRST_LINE} more")
    degraded = [f for f in items if f.state != State.OK]
    if degraded and len(items) > 1 and not report.headline:
        shown.append(f"{len(degraded)} of {len(items)} {noun} degraded")
    return printable(", ".join(shown))


def detail_line(finding: Finding) -> str:
    """One line per item (-v): what it is, then its problems when the description lacks them,
    then the fix when the text does not say it yet. Escaped for output (see printable)."""
    text = finding.detail or finding_summary(finding)
    problems = ", ".join(finding.problems)
    if problems and finding.detail and problems not in text:
        text += " => " + problems
    if finding.fix and finding.fix not in text:
        text += " => " + finding.fix
    return printable(text)


def plugin_text(text: str) -> str:
    """'|' starts the perfdata in plugin output: a '|' quoted from an input becomes '/';
    a newline or control character is escaped (already done by summary_line/detail_line:
    this is the last check at the output boundary, one C-level scan)."""
    return printable(text).replace("|", "/")


def verbose_lines(report: Report) -> list[str]:
    """The -v lines: `STATE: detail` for every finding."""
    return [plugin_text(f"{f.state.name}: {detail_line(f)}") for f in report.findings]
