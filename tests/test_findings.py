"""Perfdata as data (Perf: item, metric, value, unit, thresholds, min/max; PerfRow: one item's
alike values) and as plugins print it (output.perfdata)."""

from __future__ import annotations

import pytest

from kvmcluster.model.findings import Finding, Perf, PerfColumns, PerfRow, Report, State, Summary
from kvmcluster.output.nagios import WORDS, summary_line, summary_text
from kvmcluster.output.perfdata import perfdata_text, row_text, value_text

COLUMNS = PerfColumns(
    ("oos", "B", "0", "@10:20", 0, None),
    ("sync", "%", "", "", 0, 100),
    ("queue", "", "", "", None, None),
    ("odd", "c", "{0}", "}", 0, None),  # braces are literal text, never template fields
)


def test_perf_text_follows_the_plugin_guidelines():
    assert value_text(Perf("vms_running", 12, "", "", "", 0, 20)) == "vms_running=12;;;0;20"
    assert value_text(Perf("uptime", 3600, "s")) == "uptime=3600s"
    assert value_text(Perf("load", 0.5, "", "1", "2")) == "load=0.5;1;2"
    assert value_text(Perf("sync", 100.0, "%", "", "", 0, 100)) == "sync=100%;;;0;100"
    assert value_text(Perf("oos", 0, "B", item="vm.disk-1")) == "'vm.disk-1_oos'=0B"


def test_a_value_carries_its_fields_and_the_label_is_item_and_metric():
    perf = Perf("free", 10, "B", "5:", "1:", 0, 20, item="vg0")
    fields = (perf.item, perf.metric, perf.value, perf.unit, perf.warn, perf.crit)
    assert fields == ("vg0", "free", 10, "B", "5:", "1:")
    assert (perf.min, perf.max, perf.label, perf.uom) == (0, 20, "vg0_free", "B")
    assert Perf("quorate", 1).label == "quorate"
    assert value_text(perf) == "vg0_free=10B;5:;1:;0;20"


@pytest.mark.parametrize("item", ["drbd0", "r0", "vm.disk-1", "vg_data"])
def test_a_row_prints_exactly_what_its_values_print_one_by_one(item):
    row = PerfRow(item, (4096, 100, 3, 7), COLUMNS)
    assert row_text(row) == " ".join(value_text(p) for p in row)
    assert row_text(row) == row_text(row)  # the template made once, reused
    assert [(p.item, p.metric) for p in row] == [(item, c[0]) for c in COLUMNS.columns]
    assert [p.label for p in row] == [f"{item}_{c[0]}" for c in COLUMNS.columns]


def test_report_spells_rows_out_for_readers_of_single_values():
    report = Report(perfdata=[Perf("first", 1), PerfRow("r0", (0, 100, 0, 1), COLUMNS)])
    assert [p.label for p in report.perf_values()] == [
        "first",
        "r0_oos",
        "r0_sync",
        "r0_queue",
        "r0_odd",
    ]
    assert (
        perfdata_text(report.perfdata)
        == "first=1 r0_oos=0B;0;@10:20;0 r0_sync=100%;;;0;100 r0_queue=0 r0_odd=1c;{0};};0"
    )


SUMMARIES = [
    (Summary("drbd-ok", {"count": 1, "roles": {("Primary", "Secondary")}}),
     "1 resource Connected and UpToDate (Primary/Secondary)"),
    (Summary("drbd-ok", {"count": 3, "roles": {("Secondary", "Primary"), ("Primary", "Primary")}}),
     "3 resources Connected and UpToDate (Primary/Primary, Secondary/Primary)"),
    (Summary("lvm-ok", {"count": 1}), "1 volume group on DRBD OK"),
    (Summary("lvm-ok", {"count": 2}), "2 volume groups on DRBD OK"),
    (Summary("cluster-quorate", {"online": 2, "total": 2, "names": ["a", "b"], "dc": "a",
                                 "votes_total": 2, "votes_expected": 2, "votes_needed": 1}),
     "quorate, 2 of 2 nodes online (a, b), DC a, 2 votes, 2 expected, 1 needed"),
    (Summary("cluster-quorate", {"online": 1, "total": 3, "names": None, "dc": "",
                                 "votes_total": 1, "votes_expected": None, "votes_needed": None}),
     "quorate, 1 of 3 nodes online, 1 vote"),
    (Summary("corosync-links", {"link_ids": [0, 1], "knet": True, "transport": False}),
     "corosync 2 links connected (link 0, 1)"),
    (Summary("corosync-links", {"link_ids": [0], "knet": False, "transport": False}),
     "corosync 1 ring up (ring 0)"),
    (Summary("vm-alloc-ok", {"vms": 4, "running": 3, "unverified": 1,
                             "unread": ["node2.example.com"]}),
     "4 VMs on their preferred nodes and volume groups, 3 running"
     " (1 not verified: libvirt of node2 not read)"),
    (Summary("services-ok", {"count": 2, "noun": "services", "started": 1, "on_purpose": ["vm:x"]}),
     "2 services OK (1 started), vm:x disabled on purpose (autostart=0)"),
    (Summary("daemons-ok", {"count": 5, "profile": "pacemaker"}),
     "5 of 5 daemons running (pacemaker profile)"),
    (Summary("daemons-stack-down", {"uptime": 600, "after_reboot": True, "commands": "c1; c2"}),
     "cluster stack not started after the reboot (up 10m): c1; c2"),
    (Summary("daemons-stack-down", {"uptime": None, "after_reboot": False, "commands": "c1"}),
     "cluster stack not running: c1"),
    (Summary("daemons-missing", {"names": ["corosync", "dlm"], "commands": "c1; c2"}),
     "not running: corosync, dlm; start with: c1; c2"),
]  # fmt: skip


@pytest.mark.parametrize("summary, text", SUMMARIES, ids=[s.kind for s, _ in SUMMARIES])
def test_the_renderer_writes_the_words_of_the_facts_a_rule_gives(summary, text):
    assert summary_text(summary) == text


def test_every_kind_of_summary_has_words_and_a_test():
    assert {s.kind for s, _ in SUMMARIES} == set(WORDS)


def test_the_first_line_renders_the_ok_summary_and_the_headline():
    ok = Report(findings=[Finding("a", State.OK)], ok=Summary("lvm-ok", {"count": 1}))
    assert summary_line(ok, "VGs") == "1 volume group on DRBD OK"
    assert summary_line(Report(findings=[Finding("a", State.OK)]), "VGs") == "1 VGs OK"
    down = Report(
        findings=[Finding("dlm", State.CRITICAL, ("not running",)), Finding("x", State.OK)],
        headline=Summary("daemons-missing", {"names": ["dlm"], "commands": "start dlm"}),
        headline_covers={"dlm"},
    )
    assert summary_line(down, "daemons") == "not running: dlm; start with: start dlm"
