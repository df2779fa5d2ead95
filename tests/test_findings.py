"""Perfdata as data (Perf: item, metric, value, unit, thresholds, min/max; PerfRow: one item's
alike values) and as plugins print it (output.perfdata)."""

from __future__ import annotations

import pytest

from kvmcluster.model.findings import Perf, PerfColumns, PerfRow, Report
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
