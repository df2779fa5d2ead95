"""The Nagios plugin answer of a Report: the first line (words from its Summary facts), -v lines.

Every output (this, the status screen and JSON in output.status, OpenMetrics) renders the
same findings; none decides anything from text. Names from the input are escaped here, at
the output boundary (model.findings.printable).
"""

from __future__ import annotations

from collections.abc import Callable

from kvmcluster.model.findings import Finding, Report, State, Summary, printable

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


# The words of a check's overview (the OK line, the problem headline) from the facts the
# rules put in a Summary: one function per kind; the rules never write these sentences.
def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _drbd_ok(count: int, roles: set[tuple[str, ...]], resyncing: tuple[str, ...] = ()) -> str:
    shown = ", ".join(sorted({"/".join(r) for r in roles}))
    if resyncing:  # inside check_drbd's --sync-*/--eta-* ranges
        return f"{count} {'resource' if count == 1 else 'resources'} OK, {', '.join(resyncing)}"
    return f"{count} {'resource' if count == 1 else 'resources'} Connected and UpToDate ({shown})"


def _lvm_ok(count: int) -> str:
    return f"{_plural(count, 'volume group')} on DRBD OK"


def _votes(total: int | None, expected: int | None, needed: int | None) -> str:
    parts = []
    if total is not None:
        parts.append(_plural(total, "vote"))
    if expected is not None:
        parts.append(f"{expected} expected")
    if needed is not None:
        parts.append(f"{needed} needed")
    return ", ".join(parts)


def _cluster_quorate(
    online: int,
    total: int,
    names: list[str] | None,
    dc: str,
    votes_total: int | None,
    votes_expected: int | None,
    votes_needed: int | None,
) -> str:
    text = f"quorate, {online} of {total} nodes online"
    if names is not None:
        text += f" ({', '.join(names)})"
    if dc:
        text += f", DC {dc}"
    votes = _votes(votes_total, votes_expected, votes_needed)
    return text + (f", {votes}" if votes else "")


def _corosync_links(link_ids: list[int | str], knet: bool, transport: bool) -> str:
    noun = "link" if knet or transport else "ring"
    what = f"{_plural(len(link_ids), noun)} {'connected' if knet else 'up'}"
    return f"corosync {what} ({noun} {', '.join(str(i) for i in link_ids)})"


def _vm_alloc_ok(vms: int, running: int, unverified: int, unread: list[str]) -> str:
    text = f"{vms} VMs on their preferred nodes and volume groups, {running} running"
    if unverified:
        from kvmcluster.model.vms import short  # only check_vm_alloc needs it

        where = " and ".join(short(n) for n in unread) if unread else "nowhere"
        text += f" ({unverified} not verified: libvirt of {where} not read)"
    return text


def _services_ok(count: int, noun: str, started: int, on_purpose: list[str]) -> str:
    text = f"{count} {noun} OK ({started} started)"
    if on_purpose:
        text += f", {', '.join(on_purpose)} disabled on purpose (autostart=0)"
    return text


def _daemons_ok(count: int, profile: str) -> str:
    return f"{count} of {count} daemons running ({profile} profile)"


def human_uptime(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m"


def _daemons_stack_down(uptime: float | None, after_reboot: bool, commands: str) -> str:
    up = f" (up {human_uptime(uptime)})" if uptime is not None else ""
    what = "not started after the reboot" if after_reboot else "not running"
    return f"cluster stack {what}{up}: {commands}"


def _daemons_missing(names: list[str], commands: str) -> str:
    return f"not running: {', '.join(names)}; start with: {commands}"


WORDS: dict[str, Callable[..., str]] = {
    "drbd-ok": _drbd_ok,
    "lvm-ok": _lvm_ok,
    "cluster-quorate": _cluster_quorate,
    "corosync-links": _corosync_links,
    "vm-alloc-ok": _vm_alloc_ok,
    "services-ok": _services_ok,
    "daemons-ok": _daemons_ok,
    "daemons-stack-down": _daemons_stack_down,
    "daemons-missing": _daemons_missing,
}


def summary_text(summary: Summary) -> str:
    """The sentence of `summary` (not yet escaped: output.nagios escapes the whole line)."""
    return WORDS[summary.kind](**summary.facts)
