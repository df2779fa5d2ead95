"""What rules produce: one finding per checked item, with a state and a reason."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from kvmcluster.model.record import factory, record


class State(IntEnum):
    """Monitoring Plugins states; the value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def severity(self) -> int:
        """Sort key: UNKNOWN ranks between WARNING and CRITICAL, as in nagiosplugin."""
        return {0: 0, 1: 1, 3: 2, 2: 3}[self.value]


@record
class Finding:
    """The verdict on one item (a DRBD resource, a node, a VM ...).

    `problems` are the short reasons, worst first; `detail` is the one-line description
    shown with -v whatever the state. `describe` may be a function so that the description
    is only built when someone reads it.
    """

    item: str
    state: State
    problems: tuple[str, ...] = ()
    describe: str | Callable[[], str] = ""

    @property
    def detail(self) -> str:
        return self.describe() if callable(self.describe) else self.describe

    @property
    def summary(self) -> str:
        text = ", ".join(self.problems)
        if not self.item:
            return text
        return f"{self.item} {text}" if text else self.item


class Perf:
    """One perfdata value; `label` must stay the same across runs. A plain slotted class:
    big clusters create thousands of these every minute."""

    __slots__ = ("label", "value", "uom", "warn", "crit", "min", "max")

    def __init__(
        self,
        label: str,
        value: float,
        uom: str = "",
        warn: str = "",
        crit: str = "",
        min: float | None = None,  # noqa: A002 - the perfdata field's own name
        max: float | None = None,  # noqa: A002
    ):
        self.label = label
        self.value = value
        self.uom = uom
        self.warn = warn
        self.crit = crit
        self.min = min
        self.max = max

    def __repr__(self) -> str:
        return f"Perf({self.label}={self.value}{self.uom})"


@record
class Report:
    """Everything a check found: findings per item plus perfdata."""

    findings: list[Finding] = factory(list)
    perfdata: list[Perf] = factory(list)
    ok_summary: str = ""
    noun: str = ""  # what the items are, when the check's default noun does not fit
    # A check-specific opening for the problem line (e.g. the start commands of missing
    # daemons), standing for the findings of the items in `headline_covers`.
    headline: str = ""
    headline_covers: set[str] = factory(set)

    @property
    def state(self) -> State:
        if not self.findings:
            return State.UNKNOWN
        return max((f.state for f in self.findings), key=lambda s: s.severity)


class Verdict:
    """Collects the problems found on one item; the worst state wins, worst reasons first."""

    def __init__(self) -> None:
        self.problems: list[tuple[State, str]] = []

    def add(self, state: State, text: str) -> None:
        self.problems.append((state, text))

    @property
    def state(self) -> State:
        return max((s for s, _ in self.problems), key=lambda s: s.severity, default=State.OK)

    def texts(self) -> tuple[str, ...]:
        ordered = sorted(self.problems, key=lambda p: -p[0].severity)
        return tuple(text for _, text in ordered)

    def finding(self, item: str, describe: str | Callable[[], str] = "") -> Finding:
        return Finding(item, self.state, self.texts(), describe)


MAX_PROBLEMS_IN_FIRST_LINE = 3


def summary_line(report: Report, noun: str) -> str:
    """The line a person reads first: worst problems first, then 'k of n <noun> degraded';
    when all is well, the report's own OK summary."""
    items = [f for f in report.findings if f.item]
    noun = report.noun or noun
    if report.state == State.OK:
        return report.ok_summary or f"{len(items)} {noun} OK"
    problems = sorted(
        (
            f
            for f in report.findings
            if f.state != State.OK and f.item not in report.headline_covers
        ),
        key=lambda f: -f.state.severity,
    )
    shown = [report.headline] if report.headline else []
    shown += [f.summary for f in problems[:MAX_PROBLEMS_IN_FIRST_LINE]]
    if len(problems) > MAX_PROBLEMS_IN_FIRST_LINE:
        shown.append(f"{len(problems) - MAX_PROBLEMS_IN_FIRST_LINE} more")
    degraded = [f for f in items if f.state != State.OK]
    if degraded and len(items) > 1 and not report.headline:
        shown.append(f"{len(degraded)} of {len(items)} {noun} degraded")
    return ", ".join(shown)


def detail_line(finding: Finding) -> str:
    """One line per item (-v): what it is, then its problems when the description lacks them."""
    text = finding.detail or finding.summary
    problems = ", ".join(finding.problems)
    if problems and finding.detail and problems not in text:
        text += " => " + problems
    return text


def human_bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
