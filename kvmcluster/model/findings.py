"""What rules produce: one finding per checked item, with a state and a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


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


@dataclass(frozen=True)
class Finding:
    """The verdict on one item (a DRBD resource, a node, a VM ...).

    `problems` are the short reasons, worst first; `detail` is the one-line description
    shown with -v whatever the state.
    """

    item: str
    state: State
    problems: tuple[str, ...] = ()
    detail: str = ""

    @property
    def summary(self) -> str:
        text = ", ".join(self.problems)
        if not self.item:
            return text
        return f"{self.item} {text}" if text else self.item


@dataclass(frozen=True)
class Perf:
    """One perfdata value; `label` must stay the same across runs."""

    label: str
    value: float
    uom: str = ""
    warn: str = ""
    crit: str = ""
    min: float | None = None
    max: float | None = None


@dataclass
class Report:
    """Everything a check found: findings per item plus perfdata."""

    findings: list[Finding] = field(default_factory=list)
    perfdata: list[Perf] = field(default_factory=list)
    ok_summary: str = ""

    @property
    def state(self) -> State:
        if not self.findings:
            return State.UNKNOWN
        return max((f.state for f in self.findings), key=lambda s: s.severity)
