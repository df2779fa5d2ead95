"""What rules produce: one finding per checked item, with a state and a reason."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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
        return _SEVERITY[self.value]


_SEVERITY = (0, 1, 3, 2)  # by exit code


def worst(states: Iterable[State], default: State = State.OK) -> State:
    """The state that wins, the one place states are ranked: CRITICAL, then UNKNOWN, then
    WARNING, then OK (nagiosplugin's order). Reports, verdicts, status and its areas use it."""
    return max(states, key=_severity, default=default)


@record
class Finding:
    """The verdict on one item (a DRBD resource, a node, a VM ...).

    `problems` are the short reasons, worst first; `detail` is the one-line description
    shown with -v whatever the state. `describe` may be a function so that the description
    is only built when someone reads it. `kinds` are the stable identifiers of its problems
    that have one (`drbd-standalone`, `vm-active-twice`, ...), worst first: whatever decides
    from a finding (status's advice) reads them, never its text. `fix` is the command that
    repairs the worst problem that has one.
    """

    item: str
    state: State
    problems: tuple[str, ...] = ()
    describe: str | Callable[[], str] = ""
    kinds: tuple[str, ...] = ()
    fix: str = ""

    @property
    def kind(self) -> str:
        """The identifier of the worst problem that has one ("" for none)."""
        return next((k for k in self.kinds if k), "")

    @property
    def detail(self) -> str:
        return self.describe() if callable(self.describe) else self.describe


class Perf:
    """One perfdata value as data: the item it is about ("" for the whole check), the metric,
    the value, its unit, the warning and critical thresholds (range strings) and min/max.
    Renderers (output.perfdata for Nagios, output.openmetrics) write it; `label` is the name
    the value is known by, the same across runs. A plain slotted class: big clusters create
    thousands of these every minute."""

    __slots__ = ("item", "metric", "value", "unit", "warn", "crit", "min", "max")

    def __init__(
        self,
        metric: str,
        value: float,
        unit: str = "",
        warn: str = "",
        crit: str = "",
        min: float | None = None,  # noqa: A002 - the perfdata field's own name
        max: float | None = None,  # noqa: A002
        item: str = "",
    ):
        self.item = item
        self.metric = metric
        self.value = value
        self.unit = unit
        self.warn = warn
        self.crit = crit
        self.min = min
        self.max = max

    @property
    def label(self) -> str:
        """`<item>_<metric>` (`drbd1_oos`, `vg0_free`), or the metric alone for the check."""
        return f"{self.item}_{self.metric}" if self.item else self.metric

    @property
    def uom(self) -> str:
        """The unit under its Monitoring Plugins name."""
        return self.unit

    def __repr__(self) -> str:
        return f"Perf({self.label}={self.value}{self.unit})"


class PerfColumns:
    """The metrics one kind of item reports, as columns: (metric, unit, warn, crit, min, max).

    Many alike items (1,000 DRBD resources) each report the same columns; a PerfRow holds one
    item's values. `rendered` belongs to the renderer (output.perfdata keeps the text template
    it makes once per PerfColumns there); the model never reads it.
    """

    __slots__ = ("columns", "rendered")

    def __init__(self, *columns: tuple[str, str, str, str, float | None, float | None]):
        self.columns = columns
        self.rendered: object = None


class PerfRow:
    """One item's values for `columns` (values are ints: a float would be written with
    Python's repr; use Perf for anything else). Iterating gives the single Perfs."""

    __slots__ = ("item", "values", "columns")

    def __init__(self, item: str, values: tuple[int, ...], columns: PerfColumns):
        self.item = item
        self.values = values
        self.columns = columns

    def __iter__(self) -> Iterator[Perf]:
        item = self.item
        for (metric, unit, warn, crit, low, high), value in zip(
            self.columns.columns, self.values, strict=True
        ):
            yield Perf(metric, value, unit, warn, crit, low, high, item)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` made safe to print on one line: what an input names (a resource, a VM, a host)
    must not start a second status line or reach a terminal as a control sequence.

    Every character str.isprintable() refuses is written as an escape: newline, CR, tab as
    `\\n`, `\\r`, `\\t`, others as `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN` (C0 controls and DEL,
    ESC, C1 controls, U+2028/U+2029, bidi overrides and other format characters, lone
    surrogates, unassigned code points, spaces other than ' '). Printable text is returned
    as it is (one C-level scan). A backslash is not doubled: the escapes are for the eye."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    special = _ESCAPES.get(ch)
    if special:
        return special
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


@record
class Summary:
    """What a check's overview says, as facts: `kind` names the wording (`drbd-ok`,
    `daemons-stack-down`, ...: output.nagios writes the words), `facts` the values it
    names (counts, item names, roles, commands)."""

    kind: str
    facts: dict = factory(dict)


@record
class Report:
    """Everything a check found: findings per item plus perfdata."""

    findings: list[Finding] = factory(list)
    perfdata: list[Perf | PerfRow] = factory(list)
    ok: Summary | None = None  # what the first line says when all is well
    noun: str = ""  # what the items are, when the check's default noun does not fit
    # A check-specific opening for the problem line (e.g. the start commands of missing
    # daemons), standing for the findings of the items in `headline_covers`.
    headline: Summary | None = None
    headline_covers: set[str] = factory(set)
    fix: str = ""  # the commands that repair what the headline says, in order

    @property
    def state(self) -> State:
        return worst({f.state for f in self.findings}, default=State.UNKNOWN)

    def perf_values(self) -> list[Perf]:
        """Every perfdata value, rows spelled out."""
        return [single for p in self.perfdata for single in (p if isinstance(p, PerfRow) else (p,))]


def _severity(state: State) -> int:
    return _SEVERITY[state]


class Verdict:
    """Collects the problems found on one item; the worst state wins, worst reasons first."""

    def __init__(self) -> None:
        self.problems: list[tuple[State, str]] = []
        self.facts: list[tuple[State, str, str]] = []  # (state, kind, fix) of the kinded ones

    def add(self, state: State, text: str, kind: str = "", fix: str = "") -> None:
        self.problems.append((state, text))
        if kind or fix:
            self.facts.append((state, kind, fix))

    @property
    def state(self) -> State:
        return worst(s for s, _ in self.problems)

    def texts(self) -> tuple[str, ...]:
        ordered = sorted(self.problems, key=lambda p: -p[0].severity)
        return tuple(text for _, text in ordered)

    def finding(self, item: str, describe: str | Callable[[], str] = "") -> Finding:
        if not self.facts:
            return Finding(item, self.state, self.texts(), describe)
        facts = sorted(self.facts, key=lambda f: -f[0].severity)
        fix = next((f for _, _, f in facts if f), "")
        kinds = tuple(dict.fromkeys(k for _, k, _ in facts if k))  # each kind once
        return Finding(item, self.state, self.texts(), describe, kinds, fix)


def human_bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
