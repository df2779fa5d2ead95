"""A capture is data: its libvirt files are parsed here (never opened by libvirt, no file
references, no entities), and an archive is checked member by member from its headers before
anything is extracted, with limits a real capture never reaches."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

import pytest

from kvmcluster.archive import MAX_MEMBER, MAX_MEMBERS, MAX_TOTAL, unpack
from kvmcluster.capture import Capture
from kvmcluster.errors import ParseError, SourceError
from kvmcluster.parsers.libvirt_capture import parse_libvirt_capture
from tests.libvirt_nodes import domain, hypervisor, vm199, vm200
from tests.plugin_runner import REPO, run_plugin

EXAMPLES = REPO / "examples" / "captures"
N05 = "node05.c01.cloud.agarik.com"
N06 = "node06.c01.cloud.agarik.com"
SECRET = "hA-secret-line-of-a-file-outside-the-capture"


@pytest.fixture
def outside_file(tmp_path):
    """A file outside the capture that a hostile capture names (stands in for /etc/shadow,
    which the same test also names)."""
    path = tmp_path / "outside" / "shadow"
    path.parent.mkdir()
    path.write_text(
        f"<domain type='test'><name>{SECRET}</name><os><type>hvm</type></os></domain>\n"
    )
    return path


def shadow_lines() -> list[str]:
    try:
        return [line for line in Path("/etc/shadow").read_text().splitlines() if line.strip()]
    except OSError:
        return []


def hostile_capture(tmp_path: Path, name: str, libvirt_text: str) -> Path:
    capture = tmp_path / name
    shutil.copytree(EXAMPLES / "split-brain", capture)
    (capture / f"libvirt-{N06}.xml").write_text(libvirt_text)
    return capture


def hostile_files(outside: Path) -> dict[str, str]:
    entity = (
        '<?xml version="1.0"?>\n<!DOCTYPE node [\n'
        '  <!ENTITY shadow SYSTEM "file:///etc/shadow">\n'
        f'  <!ENTITY outside SYSTEM "file://{outside}">\n]>\n'
        '<node><domain type="test"><name>&shadow;&outside;</name></domain></node>\n'
    )
    return {
        "domain-file-shadow": '<node>\n<domain file="/etc/shadow"/>\n</node>\n',
        "domain-file-outside": f'<node>\n<domain file="{outside}"/>\n</node>\n',
        "external-entity": entity,
        "parameter-entity": (
            '<!DOCTYPE node [<!ENTITY % x SYSTEM "file:///etc/shadow"> %x;]>\n<node/>\n'
        ),
        "xinclude": (
            '<node xmlns:xi="http://www.w3.org/2001/XInclude"><domain type="test"><name>'
            f'<xi:include href="{outside}" parse="text"/></name></domain></node>\n'
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "domain-file-shadow",
        "domain-file-outside",
        "external-entity",
        "parameter-entity",
        "xinclude",
    ],
)
def test_a_capture_naming_a_file_outside_prints_nothing_of_it(tmp_path, outside_file, case):
    capture = hostile_capture(tmp_path, case, hostile_files(outside_file)[case])
    for args in ([], ["-v"], ["--json"]):
        run = run_plugin("kvmcluster", "status", *args, "--from", str(capture))
        output = run.stdout + run.stderr
        assert SECRET not in output
        for line in shadow_lines():
            assert line not in output
        assert run.returncode == 2  # the split brain is still seen: status works
    code_json = json.loads(
        run_plugin("kvmcluster", "status", "--json", "--from", str(capture)).stdout
    )
    vm_area = next(a for a in code_json["areas"] if a["name"] == "vm_alloc")
    assert vm_area["state"] == "UNKNOWN"
    text = run_plugin("kvmcluster", "status", "-v", "--from", str(capture)).stdout
    assert f"libvirt of {N06}" in text
    assert (
        any(
            words in text for words in ("outside the capture: not read", "not read, never expanded")
        )
        or "not well-formed" in text
        or "without a <name>" in text
    ), text


@pytest.mark.parametrize("name", ["ps.txt", "libvirt-node06.xml", "drbd.d/r0.res"])
def test_a_capture_directory_with_a_link_is_refused(tmp_path, outside_file, name):
    capture = hostile_capture(tmp_path, "links", "<node/>")
    (capture / name).parent.mkdir(exist_ok=True)
    (capture / name).unlink(missing_ok=True)
    (capture / name).symlink_to(outside_file)
    run = run_plugin("kvmcluster", "status", "--from", str(capture))
    assert run.returncode == 3
    assert SECRET not in run.stdout + run.stderr
    assert "is a link or a special file" in run.stderr


def test_the_file_reference_is_named_as_what_it_is(tmp_path, outside_file):
    capture = hostile_capture(tmp_path, "ref", hostile_files(outside_file)["domain-file-outside"])
    run = run_plugin("kvmcluster", "status", "-v", "--from", str(capture))
    assert "<domain file=...> names a file outside the capture: not read" in run.stdout
    assert str(outside_file) not in run.stdout


def test_the_parser_gives_what_libvirts_test_driver_gives(tmp_path):
    """The bundled captures and a collect-style file with every state: the same domains,
    states and disks as libvirt's own test driver reads from the same file."""
    libvirt = pytest.importorskip("libvirt")
    from kvmcluster.sources.libvirt import read_hypervisors

    extra = [("file", "/var/lib/libvirt/images/x.qcow2")]
    uri = hypervisor(
        tmp_path,
        "mixed",
        vm200(),
        vm199("paused"),
        domain("shut", 3, "shutoff", [("block", "/dev/vg/shut")]),
        domain("crash", 4, "crashed", [("block", "/dev/vg/crash")]),
        domain("files", 5, "running", extra),
    )
    files = [Path(uri[len("test://") :])]
    files += sorted(EXAMPLES.glob("*/libvirt-*.xml"))
    assert libvirt
    for path in files:
        live = read_hypervisors([("n", f"test://{path}")])[0]
        assert not live.error, live.error
        parsed = parse_libvirt_capture(path.read_bytes(), path.name, "n")
        assert sorted(parsed.domains, key=lambda d: d.name) == sorted(
            live.domains, key=lambda d: d.name
        ), path


def test_bundled_captures_give_the_same_vm_status_as_libvirts_test_driver():
    """status --from (this parser) and check_vm_alloc on the same files through libvirt's
    test driver (an explicit URI): the same state and summary."""
    pytest.importorskip("libvirt")
    for name in ("healthy", "split-brain"):
        capture = EXAMPLES / name
        args = ["--cluster-conf", str(capture / "cluster.conf")]
        args += ["--clustat-file", str(capture / "clustat.xml")]
        vg_map = dict(line.split("=", 1) for line in (capture / "vg-map.txt").read_text().split())
        for path in sorted(capture.glob("libvirt-*.xml")):
            node = path.name[len("libvirt-") : -4]
            args += ["--libvirt", f"{node}=test://{path}"]
        for node, vg in vg_map.items():
            args += ["--vg", f"{node}={vg}"]
        plugin = run_plugin("check_vm_alloc", *args)
        status = run_plugin("kvmcluster", "status", "--json", "--from", str(capture)).stdout
        area = next(a for a in json.loads(status)["areas"] if a["name"] == "vm_alloc")
        assert plugin.first_line == f"VM_ALLOC {area['state']} - {area['summary']}", name


@pytest.mark.parametrize(
    "text, reason",
    [
        (b"<node><domain><uuid>x</uuid></domain></node>", "without a <name>"),
        (
            b"<node><domain><name>a</name><test:runstate xmlns:test="
            b"'http://libvirt.org/schemas/domain/test/1.0'>9</test:runstate></domain></node>",
            "is not 0-7",
        ),
        (
            b"<node><domain><name>a</name></domain><domain><name>a</name></domain></node>",
            "defined twice",
        ),
        (b"<domains/>", "expected a libvirt test driver <node>"),
        (b"<node><domain>", "not well-formed"),
        (b"\xff\xfe<node/>", "not well-formed"),
        (b"<node>" + b"<a>" * 300 + b"</a>" * 300 + b"</node>", "not well-formed"),
    ],
)
def test_a_bad_libvirt_capture_is_a_parse_error_with_the_reason(text, reason):
    with pytest.raises(ParseError) as caught:
        parse_libvirt_capture(text, "libvirt-n.xml", "n")
    assert reason in str(caught.value)


def test_an_explicit_test_uri_of_the_admin_still_goes_to_libvirt(tmp_path):
    pytest.importorskip("libvirt")
    uri = hypervisor(tmp_path, "n06", vm199())
    run = run_plugin(
        "check_vm_alloc",
        "--cluster-conf", str(EXAMPLES / "healthy" / "cluster.conf"),
        "--clustat-file", str(EXAMPLES / "healthy" / "clustat.xml"),
        "--libvirt", f"{N06}={uri}",
        "--libvirt", f"{N05}={hypervisor(tmp_path, 'n05', vm200())}",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout


# ---- archives ------------------------------------------------------------------------------


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]], compress=True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buffer.getvalue()
    return gzip.compress(raw, 1) if compress else raw


def info(name: str, kind=tarfile.REGTYPE, size=0, **fields) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.size = size
    for key, value in fields.items():
        setattr(member, key, value)
    return member


def refused_in_time(archive: Path, target: Path, words: str) -> float:
    """Capture() (what status --from does) refuses the archive; nothing is left on disk."""
    started = time.monotonic()
    saved, tempfile.tempdir = tempfile.tempdir, str(target)
    try:
        with pytest.raises(SourceError) as caught:
            Capture(str(archive))
    finally:
        tempfile.tempdir = saved
    elapsed = time.monotonic() - started
    assert words in str(caught.value)
    assert list(target.iterdir()) == [], "nothing may be left of a refused archive"
    return elapsed


def test_an_archive_of_300k_members_is_refused_in_well_under_a_second(tmp_path):
    header = info("m").tobuf(tarfile.GNU_FORMAT)
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    chunks = []
    for number in range(300_000):  # 300k empty members, named m000000 ...
        name = f"m{number:06d}".encode()
        block = bytearray(header)
        block[0:100] = name.ljust(100, b"\0")
        block[148:156] = b" " * 8
        block[148:156] = b"%06o\0 " % sum(block)
        chunks.append(compressor.compress(bytes(block)))
    chunks.append(compressor.compress(b"\0" * 1024) + compressor.flush())
    archive = tmp_path / "many.tar.gz"
    archive.write_bytes(b"".join(chunks))
    (tmp_path / "x").mkdir()
    elapsed = refused_in_time(archive, tmp_path / "x", f"more than {MAX_MEMBERS} members")
    print(f"300k members ({archive.stat().st_size} bytes): refused in {elapsed:.3f}s")
    assert elapsed < 0.5


def gzip_of_zeros(head: bytes, mebibytes: int) -> bytes:
    """A valid gzip of `head` and that many MiB of zeros, made without compressing them all:
    after a full flush every MiB of zeros compresses to the same bytes."""
    zeros = b"\0" * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    size = (len(head) + (mebibytes << 20)) & 0xFFFFFFFF
    trailer = compressor.flush() + crc.to_bytes(4, "little") + size.to_bytes(4, "little")
    return b"\x1f\x8b\x08\0\0\0\0\0\2\xff" + first + block * mebibytes + trailer


def test_a_small_gzip_that_inflates_to_gigabytes_is_refused_in_well_under_a_second(tmp_path):
    """A 4 GiB member, then a pax header of 2 GiB (tarfile itself would read that into
    memory): both refused as soon as a limit is passed, from archives of at most 2 MiB."""
    cases = [
        ("member", info("capture/big", size=4 << 30), 4, f"(limit {MAX_MEMBER})"),
        ("pax", info("././@PaxHeader", kind=tarfile.XHDTYPE, size=2 << 30), 2048, "decompressed"),
    ]
    assert gzip.decompress(gzip_of_zeros(b"x", 3)) == b"x" + b"\0" * (3 << 20)  # a real gzip
    for name, member, mebibytes, words in cases:
        archive = tmp_path / f"{name}.tar.gz"
        archive.write_bytes(gzip_of_zeros(member.tobuf(tarfile.GNU_FORMAT), mebibytes))
        (tmp_path / name).mkdir()
        elapsed = refused_in_time(archive, tmp_path / name, words)
        print(f"{name} bomb ({archive.stat().st_size} bytes): refused in {elapsed:.3f}s")
        assert archive.stat().st_size < 4 << 20
        assert elapsed < 1.0


def test_many_members_under_the_member_limit_are_refused_at_the_total(tmp_path):
    size = MAX_MEMBER - 1
    data = b"\0" * size
    members = [(info(f"c/f{i}", size=size), data) for i in range(3)]
    archive = tmp_path / "total.tar.gz"
    archive.write_bytes(tar_bytes(members))
    (tmp_path / "x").mkdir()
    refused_in_time(archive, tmp_path / "x", f"more than {MAX_TOTAL} bytes")


@pytest.mark.parametrize(
    "members, words",
    [
        ([(info("c/link", tarfile.SYMTYPE, linkname="/etc/shadow"), b"")], "a link"),
        ([(info("c/hard", tarfile.LNKTYPE, linkname="c/x"), b"")], "a link"),
        ([(info("c/fifo", tarfile.FIFOTYPE), b"")], "a special file"),
        ([(info("c/dev", tarfile.CHRTYPE, devmajor=1, devminor=3), b"")], "a special file"),
        ([(info("c/blk", tarfile.BLKTYPE, devmajor=7, devminor=0), b"")], "a special file"),
        ([(info("/etc/cron.d/x", size=1), b"x")], "absolute path"),
        ([(info("c/../../x", size=1), b"x")], "leaves the capture"),
        ([(info("c/ps.txt", size=1), b"a"), (info("c/./ps.txt", size=1), b"b")], "given twice"),
        ([(info("c/f", size=1), b"a"), (info("c/f/g", size=1), b"b")], "below a file"),
        ([(info("c/a\nb", size=1), b"a")], "control characters"),
        ([(info("/".join(["d"] * 20), size=1), b"a")], "nested deeper"),
    ],
    ids=["symlink", "hardlink", "fifo", "chardev", "blockdev", "absolute", "dotdot", "dup",
         "below-file", "newline", "deep"],
)  # fmt: skip
def test_unsafe_members_are_refused_before_anything_is_written(tmp_path, members, words):
    # a harmless member first: it must not be written either
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(tar_bytes([(info("c/hostname.txt", size=3), b"n5\n"), *members]))
    (tmp_path / "x").mkdir()
    refused_in_time(archive, tmp_path / "x", words)


def test_status_says_why_an_archive_is_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(tar_bytes([(info("c/link", tarfile.SYMTYPE, linkname="/etc"), b"")]))
    run = run_plugin("kvmcluster", "status", "--from", str(archive))
    assert run.returncode == 3
    assert len(run.stderr.strip().splitlines()) == 1
    assert "refused: unsafe member 'c/link': a link" in run.stderr


def test_a_real_capture_unpacks_with_private_modes(tmp_path):
    archive = tmp_path / "capture.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(EXAMPLES / "split-brain", arcname="kvmcluster-node05-x")
    (tmp_path / "x").mkdir()
    unpack(str(archive), str(tmp_path / "x"))
    root = tmp_path / "x" / "kvmcluster-node05-x"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    files = list(root.iterdir())
    assert len(files) == len(list((EXAMPLES / "split-brain").iterdir()))
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes() == (EXAMPLES / "split-brain" / path.name).read_bytes()
    print(f"example capture: {archive.stat().st_size} bytes compressed, "
          f"{sum(p.stat().st_size for p in files)} bytes, {len(files)} members")  # fmt: skip
    assert os.path.getsize(archive) < MAX_TOTAL / 1000
