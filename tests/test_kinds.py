"""Every finding that is not OK carries a stable kind (issue 16), listed in the README.

Each plugin runs in process on every case of tests/snapshot.py (tests/plugin_cases.py's cases,
the config fixtures and the captures), `kvmcluster status --from` on every capture; the Reports
they build are taken where the nagiosplugin glue and status receive them."""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import plugin_cases  # noqa: E402
import snapshot  # noqa: E402

from kvmcluster import status as status_module  # noqa: E402
from kvmcluster.model.findings import Finding, State  # noqa: E402
from kvmcluster.runtime import nagios  # noqa: E402

KIND = re.compile(r"^[a-z]+(-[a-z0-9]+)+$")
README = plugin_cases.REPO / "README.md"


def _plugin_cases() -> list[tuple[str, list[str]]]:
    found = [
        (command, args)
        for command, args in snapshot.all_cases()
        if command != "kvmcluster" and "--no-such-option" not in args and "-V" not in args
    ]
    for capture in sorted(p for p in plugin_cases.CAPTURES.iterdir() if p.is_dir()):
        found.append(("kvmcluster", ["status", "--from", str(capture), "--no-color"]))
    return found


CASES = _plugin_cases()


def _reports(monkeypatch, command: str, args: list[str]) -> list[tuple[str, Finding]]:
    """The findings of every Report the command built, with the area or plugin they are of."""
    seen: list[tuple[str, Finding]] = []
    probe = nagios.ReportResource.probe

    def recording_probe(self):
        metrics = probe(self)
        seen.extend((command, f) for f in self.report.findings)
        return metrics

    build_areas = status_module.build_areas

    def recording_build_areas(node, cap):
        areas = build_areas(node, cap)
        for area in areas:
            if area.get("report") is not None:
                seen.extend((area["name"], f) for f in area["report"].findings)
        return areas

    monkeypatch.setattr(nagios.ReportResource, "probe", recording_probe)
    monkeypatch.setattr(status_module, "build_areas", recording_build_areas)
    main = importlib.import_module(plugin_cases.ENTRY_POINTS[command]).main
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        pytest.raises(SystemExit) as exit_info,
    ):
        main(list(args))
    assert exit_info.value.code in (0, 1, 2, 3), out.getvalue()
    assert seen, f"no report built: {out.getvalue()}"
    return seen


def _unkinded(findings: list[tuple[str, Finding]]) -> list[str]:
    return [
        f"{where}: {f.state.name} {f.item!r} {f.problems} kinds={f.kinds}"
        for where, f in findings
        if f.state != State.OK and not (f.kind and all(KIND.match(k) for k in f.kinds if k))
    ]


def _readme_kinds() -> set[str]:
    text = README.read_text()
    start = text.index("### Finding kinds")
    table = text[start : text.index("\n#", start + 1)]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M))


@pytest.mark.parametrize("case", CASES, ids=[plugin_cases.case_id(c) for c in CASES])
def test_every_finding_that_is_not_ok_has_a_kind(monkeypatch, case):
    command, args = case
    findings = _reports(monkeypatch, command, args)
    assert not _unkinded(findings)
    missing = {f.kind for _, f in findings if f.state != State.OK} - _readme_kinds()
    assert not missing, f"kinds not in README's Finding kinds table: {sorted(missing)}"


def test_the_cases_reach_problems_of_every_area(monkeypatch):
    """The corpus is not all green: every plugin and status area meets non-OK findings."""
    kinds: dict[str, set[str]] = {}
    for command, args in CASES:
        for where, f in _reports(monkeypatch, command, args):
            if f.state != State.OK:
                kinds.setdefault(where, set()).update(k for k in f.kinds if k)
    status_areas = {"drbd", "cluster", "services", "daemons", "vm_alloc", "lvm"} & set(kinds)
    assert {"drbd", "vm_alloc"} <= status_areas, status_areas  # status --from the captures
    for plugin in plugin_cases.PLUGINS:
        assert kinds.get(plugin), plugin
    # the kinds status's advice and prometheus/alerts.yml select on are what rules set
    everything = set().union(*kinds.values())
    for kind in ("drbd-standalone", "vm-misplaced", "fencing-failed", "daemon-missing"):
        assert kind in everything, kind


def test_an_unreadable_input_is_input_unreadable(monkeypatch, tmp_path):
    findings = _reports(monkeypatch, "check_drbd", ["--proc-file", str(tmp_path / "absent")])
    assert [f.kinds for _, f in findings] == [("input-unreadable",)]


def test_a_finding_without_a_kind_is_caught():
    plain = Finding("r0", State.CRITICAL, ("StandAlone",))
    odd = Finding("r0", State.WARNING, ("x",), kinds=("Drbd_X",))
    fine = Finding("r0", State.CRITICAL, ("StandAlone",), kinds=("drbd-standalone",))
    assert len(_unkinded([("drbd", plain), ("drbd", odd), ("drbd", fine)])) == 2


def test_the_readme_lists_kinds_once_each():
    text = README.read_text()
    table = text[text.index("### Finding kinds") :]
    table = table[: table.index("\n#", 1)]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M)
    assert rows and len(rows) == len(set(rows))
    assert all(KIND.match(k) for k in rows)
