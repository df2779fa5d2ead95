"""nagiosplugin glue: a Report (findings + perfdata) becomes results, perfdata and the text.

Resource -> Context -> Summary as in nagiosplugin's own examples: the Resource runs the
check's pipeline (source -> parser -> rules), the contexts turn findings into states and
perfdata, the Summary writes the first line and the -v lines.
"""

from __future__ import annotations

from collections.abc import Callable

import nagiosplugin

from kvmcluster.errors import KvmclusterError
from kvmcluster.model.findings import Finding, Report, State

_STATES = {
    State.OK: nagiosplugin.Ok,
    State.WARNING: nagiosplugin.Warn,
    State.CRITICAL: nagiosplugin.Critical,
    State.UNKNOWN: nagiosplugin.Unknown,
}
MAX_PROBLEMS_IN_FIRST_LINE = 3


class ReportResource(nagiosplugin.Resource):
    """Runs `build()` once; project errors become one UNKNOWN finding."""

    def __init__(self, name: str, build: Callable[[], Report]):
        self._name = name
        self._build = build
        self.report = Report()

    @property
    def name(self) -> str:
        return self._name

    def probe(self):
        try:
            self.report = self._build()
        except KvmclusterError as exc:
            self.report = Report(findings=[Finding("", State.UNKNOWN, (str(exc),))])
        for index, finding in enumerate(self.report.findings):
            yield nagiosplugin.Metric(f"finding{index}", finding, context="finding")
        for perf in self.report.perfdata:
            yield nagiosplugin.Metric(
                perf.label, perf.value, perf.uom, perf.min, perf.max, context="perf"
            )


class FindingContext(nagiosplugin.Context):
    def __init__(self):
        super().__init__("finding")

    def evaluate(self, metric, resource):
        finding: Finding = metric.value
        return nagiosplugin.Result(_STATES[finding.state], finding.summary, metric)

    def performance(self, metric, resource):
        return None


class PerfContext(nagiosplugin.Context):
    """Perfdata only: states come from findings, thresholds are carried for graphs."""

    def __init__(self, resource: ReportResource):
        super().__init__("perf")
        self._resource = resource

    def evaluate(self, metric, resource):
        return nagiosplugin.Result(nagiosplugin.Ok, metric=metric)

    def performance(self, metric, resource):
        perf = next(p for p in self._resource.report.perfdata if p.label == metric.name)
        return nagiosplugin.Performance(
            perf.label, perf.value, perf.uom, perf.warn, perf.crit, perf.min, perf.max
        )


class ReportSummary(nagiosplugin.Summary):
    """First line: worst problems first, then 'k of n <noun> degraded'; -v: one line per item."""

    def __init__(self, resource: ReportResource, noun: str):
        self._resource = resource
        self._noun = noun

    def _items(self) -> list[Finding]:
        return [f for f in self._resource.report.findings if f.item]

    def ok(self, results):
        report = self._resource.report
        if report.ok_summary:
            return report.ok_summary
        count = len(self._items())
        return f"{count} {self._noun} OK"

    def problem(self, results):
        findings = self._resource.report.findings
        problems = sorted(
            (f for f in findings if f.state != State.OK), key=lambda f: -f.state.severity
        )
        shown = [f.summary for f in problems[:MAX_PROBLEMS_IN_FIRST_LINE]]
        if len(problems) > MAX_PROBLEMS_IN_FIRST_LINE:
            shown.append(f"{len(problems) - MAX_PROBLEMS_IN_FIRST_LINE} more")
        items = self._items()
        degraded = [f for f in items if f.state != State.OK]
        if degraded and len(items) > 1:
            shown.append(f"{len(degraded)} of {len(items)} {self._noun} degraded")
        return ", ".join(shown)

    def verbose(self, results):
        lines = []
        for finding in self._resource.report.findings:
            text = finding.detail or finding.summary
            if finding.problems and finding.detail:
                text += " => " + ", ".join(finding.problems)
            lines.append(f"{finding.state.name}: {text}")
        return lines


def build_check(name: str, noun: str, build: Callable[[], Report]) -> nagiosplugin.Check:
    resource = ReportResource(name, build)
    return nagiosplugin.Check(
        resource,
        FindingContext(),
        PerfContext(resource),
        ReportSummary(resource, noun),
        name=name,
    )
