"""kvmcluster collect keeps no secret by default (fence passwords and logins, stonith
nvpairs, SNMP communities, DRBD shared secrets), the parsers read the redacted files as the
raw ones, and the archive is private and never written through a planted link."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kvmcluster.redact import MARKER, is_secret_name, redact, redact_drbd_conf, redact_xml
from tests.plugin_runner import FIXTURES, fixture

CLUSTER_CONF = FIXTURES / "cluster-conf_seed-fixed.conf"
CIB = FIXTURES / "cib_stonith-ipmilan-apc-snmp-credentials.xml"  # pcs stonith create ...
DRBD_CONF = FIXTURES / "etc-drbd-conf_seed-84.conf"
SECRETS = ["hA-Pa55w0rd", "hA-admin", "hA-c0mm", "hA-pr1v", "hA-Dr8d s3cret", "hA-n0de-pass"]
PCS_SECRETS = ["hA-Pa55,w0rd", "hA-admin", "hA-c0mmunity", "hA-pr1v"]
KVMCLUSTER = str(Path(sys.executable).parent / "kvmcluster")


def cluster_conf_with_credentials() -> str:
    """The seed's cluster.conf with the fence devices of a real RHEL 6 cluster (IPMI with
    login/passwd, an APC PDU over SNMP v3, a per-node password override)."""
    text = CLUSTER_CONF.read_text()
    text = text.replace(
        '<fencedevice agent="fence_fake" name="fence_fake"/>',
        '<fencedevice agent="fence_ipmilan" ipaddr="10.10.5.105" login="hA-admin" '
        'passwd="hA-Pa55w0rd" lanplus="1" login_timeout="10" name="fence_fake"/>\n'
        '<fencedevice agent="fence_apc_snmp" ipaddr="10.10.5.200" community="hA-c0mm" '
        "snmp_version='3' snmp_priv_passwd='hA-pr1v' name=\"pdu\"/>",
    )
    text = text.replace(
        '<device name="fence_fake" nodename="node05.c01.cloud.agarik.com"/>',
        '<device name="fence_fake" nodename="node05.c01.cloud.agarik.com" passwd="hA-n0de-pass"/>',
    )
    assert all(s in text for s in ("hA-Pa55w0rd", "hA-c0mm", "hA-n0de-pass"))
    return text


def drbd_conf_with_secret() -> str:
    text = DRBD_CONF.read_text().replace(
        "\tnet {\n", '\tnet {\n\t\tcram-hmac-alg sha1;\n\t\tshared-secret "hA-Dr8d s3cret";\n', 1
    )
    assert "hA-Dr8d s3cret" in text
    return text


# ---- the redaction functions, on the seed's files --------------------------------------------


def test_cluster_conf_fence_credentials_are_redacted_and_nothing_else():
    raw = cluster_conf_with_credentials()
    text, count = redact("cluster.conf", raw)
    assert count == 5  # login, passwd, community, snmp_priv_passwd, the node's passwd
    for secret in SECRETS:
        assert secret not in text
    assert 'login_timeout="10"' in text and 'ipaddr="10.10.5.105"' in text
    assert text.count("\n") == raw.count("\n")
    changed = [(a, b) for a, b in zip(raw.splitlines(), text.splitlines()) if a != b]
    assert all(MARKER in b for _, b in changed) and len(changed) == 3


def test_the_cluster_conf_parser_reads_the_redacted_file_as_the_raw_one():
    from kvmcluster.parsers.cluster_conf import parse_cluster_conf

    raw = cluster_conf_with_credentials()
    assert parse_cluster_conf(redact("cluster.conf", raw)[0]) == parse_cluster_conf(raw)


def test_cib_stonith_nvpairs_from_pcs_are_redacted_and_the_parsers_agree():
    from kvmcluster.parsers.cib import parse_cib_constraints, parse_cib_vms

    raw = CIB.read_text()
    text, count = redact("cib.xml", raw)
    assert count == 4  # password, username, community, snmp_priv_passwd
    for secret in PCS_SECRETS:
        assert secret not in text
    assert 'name="ip" value="10.10.5.105"' in text  # the BMC address is no secret
    assert 'operation_key="drbd-volnode05_promote_0"' in text
    assert parse_cib_vms(text, "cib.xml") == parse_cib_vms(raw, "cib.xml")
    assert parse_cib_constraints(text) == parse_cib_constraints(raw)


def test_crm_mon_renders_the_redacted_cib_as_the_raw_one(tmp_path):
    if not shutil.which("crm_mon"):
        pytest.skip("needs crm_mon")
    outputs = []
    for name, text in (
        ("raw", CIB.read_text()),
        ("redacted", redact("cib.xml", CIB.read_text())[0]),
    ):
        path = tmp_path / f"{name}.xml"
        path.write_text(text)
        done = subprocess.run(
            ["crm_mon", "--output-as=xml", "-1"],
            env={**os.environ, "CIB_file": str(path)},
            capture_output=True,
            text=True,
        )
        outputs.append(re.sub(r'<last_update time="[^"]*"/>', "", done.stdout))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    "text, expected",
    [
        ('net { shared-secret "a b;c"; }', 'net { shared-secret "REDACTED"; }'),
        ("net { shared-secret bare_9; }", "net { shared-secret REDACTED; }"),
        ("net {\n\tshared-secret\t'x';\n}", "net {\n\tshared-secret\tREDACTED;\n}"),
        ("net { cram-hmac-alg sha1; }", "net { cram-hmac-alg sha1; }"),
    ],
)
def test_drbd_shared_secret_is_redacted_in_both_syntaxes(text, expected):
    assert redact_drbd_conf(text)[0] == expected


def test_drbdadm_reads_the_redacted_drbd_conf(tmp_path):
    """The real DRBD tools: 8.4 syntax (the seed) and DRBD 9 syntax, after redaction."""
    drbdadm84 = "/lib/drbd/drbdadm-84"
    if not (os.path.exists(drbdadm84) and shutil.which("drbdadm")):
        pytest.skip("needs drbd-utils")
    nine = (
        "resource r9 {\n  net { cram-hmac-alg sha256; shared-secret hA-nine; }\n"
        "  on node05 { node-id 0; device /dev/drbd9; disk /dev/vg/r9; meta-disk internal;\n"
        "    address 127.0.0.1:7789; }\n"
        "  on node06 { node-id 1; device /dev/drbd9; disk /dev/vg/r9; meta-disk internal;\n"
        "    address 127.0.0.2:7789; }\n}\n"
    )
    for tool, raw, resource in (
        (drbdadm84, drbd_conf_with_secret(), "drbd0"),
        ("drbdadm", nine, "r9"),
    ):
        path = tmp_path / f"{resource}.conf"
        text, count = redact("drbd.conf", raw)
        assert count == 1
        path.write_text(text)
        done = subprocess.run(
            [tool, "-c", str(path), "-d", "up", resource],
            env={
                **os.environ,
                "__DRBD_NODE__": "node05.c01.cloud.agarik.com" if resource == "drbd0" else "node05",
            },
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "--shared-secret=REDACTED" in done.stdout, done.stdout


def test_the_drbd_conf_parser_reads_the_redacted_file_as_the_raw_one():
    from kvmcluster.parsers.drbd_conf import DrbdConfig, configured_resources, parse_drbd_conf_text

    raw = drbd_conf_with_secret()
    text = redact("drbd.d/r0.res", raw)[0]
    assert "hA-Dr8d" not in text
    before = DrbdConfig(parse_drbd_conf_text(raw, "drbd.conf", follow_includes=False))
    after = DrbdConfig(parse_drbd_conf_text(text, "drbd.conf", follow_includes=False))
    assert configured_resources(after, set()) == configured_resources(before, set())


def test_fence_agent_passwords_on_a_command_line_are_redacted():
    from kvmcluster.parsers.ps import parse_ps

    raw = Path(fixture("ps_rhcs-node-fenced-dlm-dead.txt")).read_text()
    raw += "31337     1 S    /usr/sbin/fence_ipmilan -a 10.10.5.105 -l hA-admin -p hA-Pa55w0rd"
    raw += " -o status\n"
    raw += "31338     1 S    /opt/app/bin/agent --password=hA-pr1v --snmp-community hA-c0mm -v\n"
    text, count = redact("ps.txt", raw)
    assert count == 4
    for secret in ("hA-admin", "hA-Pa55w0rd", "hA-pr1v", "hA-c0mm"):
        assert secret not in text
    assert "-a 10.10.5.105" in text and "-o status" in text
    assert len(parse_ps(text, "ps.txt")) == len(parse_ps(raw, "ps.txt"))


@pytest.mark.parametrize(
    "name, secret",
    [
        ("passwd", True), ("password", True), ("login", True), ("username", True),
        ("passwd_script", True), ("community", True), ("snmp_priv_passwd", True),
        ("shared-secret", True), ("api_key", True), ("ipmi_password", True),
        ("token", False), ("operation_key", False), ("transition-key", False),
        ("login_timeout", False), ("ipaddr", False), ("name", False), ("pcmk_host_list", False),
    ],
)  # fmt: skip
def test_names_like_a_secret(name, secret):
    assert is_secret_name(name) is secret


def test_redaction_is_idempotent_and_keeps_empty_values():
    text = '<x passwd="" login="REDACTED"/><nvpair name="password" value=""/>'
    assert redact_xml(text) == (text, 0)


# ---- collect end to end, over a real sshd ------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A node with credentials in its cluster.conf, CIB, drbd.conf and process list, served
    over a real sshd (the node's tools answer from these files)."""
    if not (os.path.exists("/usr/sbin/sshd") and shutil.which("ssh") and os.geteuid() == 0):
        pytest.skip("needs root, openssh-server and openssh-client")
    from tests.test_ssh import Sshd

    base = tmp_path_factory.mktemp("hA-collect")
    files = base / "files"
    files.mkdir()
    (files / "cluster.conf").write_text(cluster_conf_with_credentials())
    (files / "drbd.conf").write_text(drbd_conf_with_secret())
    (files / "cib.xml").write_text(CIB.read_text())
    ps = Path(fixture("ps_rhcs-node-fenced-dlm-dead.txt")).read_text()
    (files / "ps.txt").write_text(
        ps + "31337     1 S    /usr/sbin/fence_ipmilan -l hA-admin -p hA-Pa55w0rd\n"
    )
    (base / "sshd").mkdir()
    server = Sshd(base / "sshd")
    tools = {
        "cat": '[ $# -eq 0 ] && exec /bin/cat\nfor f in "$@"; do case "$f" in\n'
        f'  /proc/drbd) /bin/cat "{fixture("proc-drbd_84-standalone-split-brain.txt")}";;\n'
        f'  /proc/uptime) /bin/cat "{fixture("proc-uptime_42-minutes.txt")}";;\n'
        f'  /etc/cluster/cluster.conf) /bin/cat "{files}/cluster.conf";;\n'
        f'  /etc/drbd.conf) /bin/cat "{files}/drbd.conf";;\n'
        "  /etc/drbd.d/*) ;;\n"
        '  *) /bin/cat "$f";;\nesac; done\n',
        "cibadmin": f'[ "$*" = "-Q" ] && exec /bin/cat "{files}/cib.xml"\nexit 1\n',
        "ps": f'exec /bin/cat "{files}/ps.txt"\n',
    }
    try:
        for name, body in tools.items():
            path = server.dir / "bin" / name
            path.write_text("#!/bin/sh\n" + body)
            path.chmod(0o755)
        yield server, base
    finally:  # its sshd is stopped even when the set-up above fails
        server.stop()


def run_collect(server, output: Path, *extra: str) -> subprocess.CompletedProcess:
    """collect of the node over ssh (server), or of this machine (None)."""
    return subprocess.run(
        [KVMCLUSTER, "collect", "-o", str(output), "--libvirt", "n=test:///nonexistent.xml"]
        + [*extra, *(server.options() if server else [])],
        capture_output=True,
        text=True,
        timeout=120,
    )


def archive_text(path: Path) -> str:
    with tarfile.open(path) as tar:
        return "".join(
            tar.extractfile(m).read().decode("utf-8", "replace") for m in tar if m.isfile()
        )


def manifest_of(path: Path) -> dict:
    with tarfile.open(path) as tar:
        member = next(m for m in tar if m.name.endswith("/MANIFEST.json"))
        return json.load(tar.extractfile(member))


def status_json(archive: Path) -> dict:
    done = subprocess.run(
        [KVMCLUSTER, "status", "--json", "--from", str(archive)], capture_output=True, text=True
    )
    assert done.returncode in (0, 1, 2, 3) and "Traceback" not in done.stderr, done.stderr
    document = json.loads(done.stdout)
    document.pop("generated_at", None)
    document.pop("source", None)
    return document


def test_collect_redacts_by_default_and_status_reads_both_the_same(node):
    server, base = node
    redacted, raw = base / "redacted.tar.gz", base / "raw.tar.gz"
    first = run_collect(server, redacted)
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_collect(server, raw, "--no-redact")
    assert second.returncode == 0, second.stdout + second.stderr
    secret_text, raw_text = archive_text(redacted), archive_text(raw)
    for secret in [*SECRETS, *PCS_SECRETS]:
        assert secret not in secret_text, secret
    assert "hA-Pa55w0rd" in raw_text and "hA-Pa55,w0rd" in raw_text  # --no-redact keeps them
    manifest = manifest_of(redacted)
    assert manifest["redaction"] == "on" and manifest["redacted"] >= 10
    counts = {e["file"]: e.get("redacted", 0) for e in manifest["inputs"]}
    assert counts["cluster.conf"] == 5 and counts["cib.xml"] == 4 and counts["drbd.conf"] == 1
    assert counts["ps.txt"] == 2
    assert manifest_of(raw)["redaction"] == "off (--no-redact)"
    assert status_json(redacted) == status_json(raw)
    assert status_json(redacted)["areas"]  # something was judged
    assert stat.S_IMODE(redacted.stat().st_mode) == 0o600


def test_the_archive_and_its_members_are_private(tmp_path):
    server = None  # this machine
    output = tmp_path / "c.tar.gz"
    os.umask(0o022)
    assert run_collect(server, output).returncode == 0
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    with tarfile.open(output) as tar:
        for member in tar:
            assert member.mode & 0o077 == 0, (member.name, oct(member.mode))


def test_a_link_planted_at_the_partial_file_is_not_followed(tmp_path):
    server = None  # this machine
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    output = tmp_path / "c.tar.gz"
    (tmp_path / "c.tar.gz.partial").symlink_to(victim)
    done = run_collect(server, output)
    assert done.returncode == 0, done.stdout + done.stderr
    assert victim.read_text() == "keep me\n"
    assert tarfile.is_tarfile(output)
    assert (tmp_path / "c.tar.gz.partial").is_symlink()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial") and not p.is_symlink()]


def test_a_link_at_the_output_is_replaced_not_followed(tmp_path):
    server = None  # this machine
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    output = tmp_path / "c.tar.gz"
    output.symlink_to(victim)
    done = run_collect(server, output, "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    assert victim.read_text() == "keep me\n"
    assert not output.is_symlink() and tarfile.is_tarfile(output)
