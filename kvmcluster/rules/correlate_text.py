"""What the cluster view's rules write of the inputs: names made printable, sizes."""

from __future__ import annotations

from kvmcluster.model.findings import printable


def p(text) -> str:
    return printable(str(text))


def names(nodes) -> str:
    return ", ".join(p(n.name) for n in nodes)


def size(value: int | None) -> str:
    if value is None:
        return "unknown"
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= factor:
            return f"{value / factor:.1f} {unit}".replace(".0 ", " ")
    return f"{value} B"
