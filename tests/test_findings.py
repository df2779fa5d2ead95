"""Perfdata as plugins print it: one value (Perf) or a row of alike values (PerfRow)."""

from __future__ import annotations

import pytest

from kvmcluster.model.findings import Perf, PerfColumns, PerfRow, Report

COLUMNS = PerfColumns(
    ("_oos", "B", "0", "@10:20", 0, None),
    ("_sync", "%", "", "", 0, 100),
    ("_queue", "", "", "", None, None),
    ("_odd", "c", "{0}", "}", 0, None),  # braces are literal text, never template fields
)


def test_perf_text_follows_the_plugin_guidelines():
    assert Perf("vms_running", 12, "", "", "", 0, 20).text() == "vms_running=12;;;0;20"
    assert Perf("uptime", 3600, "s").text() == "uptime=3600s"
    assert Perf("load", 0.5, "", "1", "2").text() == "load=0.5;1;2"
    assert Perf("sync", 100.0, "%", "", "", 0, 100).text() == "sync=100%;;;0;100"
    assert Perf("vm.disk-1_oos", 0, "B").text() == "'vm.disk-1_oos'=0B"


@pytest.mark.parametrize("prefix", ["drbd0", "r0", "vm.disk-1", "vg_data"])
def test_a_row_prints_exactly_what_its_values_print_one_by_one(prefix):
    row = PerfRow(prefix, (4096, 100, 3, 7), COLUMNS)
    assert row.text() == " ".join(p.text() for p in row)
    assert [p.label for p in row] == [f"{prefix}{c[0]}" for c in COLUMNS.columns]


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
        report.perf_text()
        == "first=1 r0_oos=0B;0;@10:20;0 r0_sync=100%;;;0;100 r0_queue=0 r0_odd=1c;{0};};0"
    )
