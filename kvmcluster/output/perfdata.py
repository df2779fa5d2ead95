"""Perfdata as Nagios plugins print it after '|': `label=value[uom][;warn[;crit[;min[;max]]]]`.

The model's Perf and PerfRow hold the values as fields (item, metric, unit, thresholds,
min/max); this writes them. A PerfRow (one item's alike values, 1,000 DRBD resources) is
written in one str.format step from a template made once per PerfColumns (docs/benchmarks.md:
6.2 ms saved at 1,000 resources).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kvmcluster.model.findings import Perf, PerfColumns, PerfRow, printable

_PLAIN_LABEL = re.compile(r"^\w+$")
_TAILS: dict[tuple, str] = {}


def quote_label(label: str) -> str:
    """A plain label as it is; any other quoted, Monitoring Plugins style: control characters
    escaped (see printable), a quote doubled, '|' (the start of perfdata) as '/'."""
    return label if _PLAIN_LABEL.match(label) else f"'{label_text(label)}'"


def label_text(label: str) -> str:
    """A label's text inside its quotes: escaped (printable), a quote doubled, `|` as `/`."""
    return printable(label).replace("'", "''").replace("|", "/")


def value_text(perf: Perf) -> str:
    """One value: `label=value[uom][;warn[;crit[;min[;max]]]]`, the label quoted when not plain."""
    tail = _tail(perf.warn, perf.crit, perf.min, perf.max)
    return f"{quote_label(perf.label)}={_number(perf.value)}{perf.unit}{tail}"


def row_text(row: PerfRow) -> str:
    """One item's row, exactly what its values print one by one."""
    plain, quoted = row.columns.rendered or _templates(row.columns)
    if _PLAIN_LABEL.match(row.item):
        return plain.format(row.item, *row.values)
    return quoted.format(label_text(row.item), *row.values)


def perfdata_text(perfdata: Iterable[Perf | PerfRow]) -> str:
    """The whole perfdata of a report, as plugins print it after '|'."""
    return " ".join([row_text(p) if type(p) is PerfRow else value_text(p) for p in perfdata])


def _templates(columns: PerfColumns) -> tuple[str, str]:
    """The str.format templates of a row (plain and quoted item), kept on the columns."""
    plain, quoted = [], []
    for i, (metric, unit, warn, crit, low, high) in enumerate(columns.columns, 1):
        suffix, rest = _braces(f"_{metric}"), _braces(f"{unit}{_tail(warn, crit, low, high)}")
        plain.append(f"{{0}}{suffix}={{{i}}}{rest}")
        quoted.append(f"'{{0}}{suffix}'={{{i}}}{rest}")
    columns.rendered = templates = (" ".join(plain), " ".join(quoted))
    return templates


def _braces(text: str) -> str:
    """Literal text inside a str.format template."""
    return text.replace("{", "{{").replace("}", "}}")


def _tail(warn: str, crit: str, low: float | None, high: float | None) -> str:
    """`;warn;crit;min;max` without empty fields at the end; the same few repeat thousands of
    times, so they are made once."""
    key = (warn, crit, low, high)
    tail = _TAILS.get(key)
    if tail is None:
        fields = [
            warn,
            crit,
            "" if low is None else _number(low),
            "" if high is None else _number(high),
        ]
        while fields and fields[-1] == "":
            fields.pop()
        tail = _TAILS[key] = "".join(f";{f}" for f in fields)
    return tail


def _number(value: float) -> str:
    if type(value) is int:
        return str(value)
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
