"""The libvirt source on libvirt's in-process test driver (no daemon): the stats call gives
what the per-domain read gives, and whatever goes wrong inside a node's reader thread is that
node's UNKNOWN, one line, no traceback."""

from __future__ import annotations

import pytest

from tests.libvirt_nodes import VM199, VM200, domain, hypervisor, vm199, vm200
from tests.plugin_runner import fixture, run_plugin

UNKNOWN = 3
N05, N06 = "node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"
SEED = fixture("cluster-conf_seed-fixed.conf")
STARTED = fixture("clustat-x_411-all-started.xml")

libvirt = pytest.importorskip("libvirt", reason="libvirt-python missing")


def test_stats_read_on_the_test_driver_gives_the_per_domain_read(tmp_path):
    """The test driver has the stats call too (states without reasons): same domains."""
    from kvmcluster.model.vms import HypervisorView
    from kvmcluster.sources.libvirt import _read_bulk, _read_each
    from tests.libvirt_nodes import hypervisor, vm199, vm200

    uri = hypervisor(tmp_path, "node05", vm200(), vm199("paused"))
    connection = libvirt.openReadOnly(uri)
    try:
        bulk, each = HypervisorView("n", uri), HypervisorView("n", uri)
        assert _read_bulk(libvirt, connection, bulk)
        _read_each(libvirt, connection, each)
    finally:
        connection.close()
    assert sorted(bulk.domains, key=lambda d: d.name) == sorted(each.domains, key=lambda d: d.name)
    vm200_disks = next(d.disks for d in bulk.domains if d.name == VM200)
    assert [d.source for d in vm200_disks] == ["/dev/volnode05/vm200-disk0"]


def test_invalid_utf8_from_libvirt_is_unknown_for_that_node(tmp_path):
    """libvirt-python cannot decode the answer (it raises SystemError from a
    UnicodeDecodeError): UNKNOWN naming the node and the reason, not 'running nowhere'."""
    uri05 = hypervisor(tmp_path, "node05", vm200(), vm199("shutoff"))
    bad = domain(VM199, 199, "running", [("block", "/dev/volnode06/vm199-disk0")])
    node06 = tmp_path / "node06.xml"
    node06.write_bytes(b"<node>" + bad.encode().replace(b"vm199-disk0", b"vm199\xff") + b"</node>")
    run = run_plugin(
        "check_vm_alloc",
        "--cluster-conf",
        SEED,
        "--clustat-file",
        STARTED,
        "--libvirt",
        f"{N05}={uri05}",
        "--libvirt",
        f"{N06}=test://{node06}",
    )
    assert run.returncode == UNKNOWN, run.stdout
    assert run.first_line.startswith(
        f"VM_ALLOC UNKNOWN - libvirt of {N06} (test://{node06}): unreadable answer "
        "(UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff"
    ), run.stdout
    assert "Traceback" not in run.stderr and run.stderr == ""
    assert "running nowhere" not in run.stdout and "says nowhere" not in run.stdout


def test_any_failure_in_the_reader_thread_is_the_nodes_error(tmp_path, monkeypatch):
    """A parser that raises (here: the XML of a domain made unparsable) ends as the view's
    error, with no domain kept from the half-read node."""
    import kvmcluster.parsers.libvirt_xml as libvirt_xml
    from kvmcluster.sources.libvirt import read_hypervisors

    def broken(xml):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(libvirt_xml, "domain_disks", broken)
    uri = hypervisor(tmp_path, "node05", vm200(), vm199())
    (view,) = read_hypervisors([("node05", uri)])
    assert view.domains == []
    assert view.error == "unreadable answer (RecursionError: maximum recursion depth exceeded)"
