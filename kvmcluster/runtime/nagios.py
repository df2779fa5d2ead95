"""nagiosplugin glue: a Report (findings + perfdata) becomes results, perfdata and the text.

Resource -> Context -> Summary as in nagiosplugin's own examples: the Resource runs the
check's pipeline (source -> parser -> rules), the contexts turn findings into states and
perfdata, the Summary writes the first line and the -v lines.
"""

from __future__ import annotations

from collections.abc import Callable

from kvmcluster.errors import KvmclusterError
from kvmcluster.model.findings import Finding, Report, State
from kvmcluster.output.nagios import finding_summary, plugin_text, summary_line, verbose_lines
from kvmcluster.output.perfdata import perfdata_text
from kvmcluster.runtime.np import nagiosplugin

_STATES = {
    State.OK: nagiosplugin.Ok,
    State.WARNING: nagiosplugin.Warn,
    State.CRITICAL: nagiosplugin.Critical,
    State.UNKNOWN: nagiosplugin.Unknown,
}


class ReportResource(nagiosplugin.Resource):
    """Runs `build()` once and hands the whole Report over as a single metric.

    One metric instead of one per finding and perfdata value keeps nagiosplugin's per-metric
    cost out of big clusters (1,000 DRBD resources are 9,000 values).
    """

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
            self.report = Report(
                findings=[Finding("", State.UNKNOWN, (str(exc),), kinds=("input-unreadable",))]
            )
        return [nagiosplugin.Metric("report", self.report, context="report")]


class _PerfdataText(str):
    """What nagiosplugin prints after '|': the Report's perfdata, already formatted."""


class ReportContext(nagiosplugin.Context):
    def __init__(self):
        super().__init__("report")

    def evaluate(self, metric, resource):
        report: Report = metric.value
        state = report.state
        hint = next(
            (finding_summary(f) for f in report.findings if f.state == state), "no findings"
        )
        return nagiosplugin.Result(_STATES[state], hint, metric)

    def performance(self, metric, resource):
        report: Report = metric.value
        return _PerfdataText(perfdata_text(report.perfdata)) or None


class ReportSummary(nagiosplugin.Summary):
    """First line and -v lines, from the Report (output.nagios renders them)."""

    def __init__(self, resource: ReportResource, noun: str):
        self._resource = resource
        self._noun = noun

    def ok(self, results):
        return plugin_text(summary_line(self._resource.report, self._noun))

    def problem(self, results):
        return plugin_text(summary_line(self._resource.report, self._noun))

    def verbose(self, results):
        return verbose_lines(self._resource.report)


def build_check(name: str, noun: str, build: Callable[[], Report]) -> nagiosplugin.Check:
    resource = ReportResource(name, build)
    # the output prefix is the resource's name (nagiosplugin 1.3.2 has no Check(name=...))
    return nagiosplugin.Check(resource, ReportContext(), ReportSummary(resource, noun))
