"""Our drbd.conf reader agrees with the real drbdadm (drbd-utils) on the same files."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from kvmcluster.errors import ParseError
from kvmcluster.parsers.drbd_conf import configured_resources
from kvmcluster.sources.drbd_conf import read_drbd_conf
from tests.plugin_runner import fixture

SEED = fixture("etc-drbd-conf_seed-84.conf")
DRBDADM_84 = "/lib/drbd/drbdadm-84"
needs_drbdadm = pytest.mark.skipif(
    shutil.which("drbdadm") is None or not os.path.exists(DRBDADM_84),
    reason="drbd-utils not installed",
)


def drbdadm(*args: str, binary: str = "drbdadm", node: str | None = None):
    env = dict(os.environ)
    if node:
        env["__DRBD_NODE__"] = node
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=30)


def test_seed_config_resources_minors_and_hosts():
    resources = configured_resources(read_drbd_conf(SEED), {"node05.c01.cloud.agarik.com"})
    assert [(r.name, r.minors) for r in resources] == [
        ("drbd0", [0]),
        ("drbd1", [1]),
        ("drbd2", [2]),
    ]
    assert resources[0].hosts == ["node05.c01.cloud.agarik.com", "node06.c01.cloud.agarik.com"]


def test_resources_of_other_hosts_are_left_out():
    assert configured_resources(read_drbd_conf(SEED), {"node07"}) == []


@needs_drbdadm
@pytest.mark.real
def test_seed_minors_match_real_drbdadm_84():
    node = "node05.c01.cloud.agarik.com"
    assert drbdadm("-c", SEED, "dump", "all", binary=DRBDADM_84).returncode == 0
    for resource in configured_resources(read_drbd_conf(SEED), {node}):
        real = drbdadm("-c", SEED, "sh-minor", resource.name, binary=DRBDADM_84, node=node)
        assert [int(m) for m in real.stdout.split()] == resource.minors


DRBD9_RES = """\
resource vm-disks {
\tnet { allow-two-primaries yes; }
\tvolume 0 { device minor 100; disk /dev/sdb1; meta-disk internal; }
\tvolume 1 { device /dev/drbd101; disk /dev/sdb2; meta-disk internal; }
\ton node05 { node-id 0; address 127.0.0.1:7790; }
\ton node06 { node-id 1; address 127.0.0.2:7790; }
\tconnection-mesh { hosts node05 node06; }
}
"""


@needs_drbdadm
@pytest.mark.real
def test_drbd9_includes_and_volumes_match_real_drbdadm(tmp_path):
    (tmp_path / "drbd.d").mkdir()
    (tmp_path / "drbd.d" / "vm.res").write_text(DRBD9_RES)
    conf = tmp_path / "drbd.conf"
    conf.write_text('global { usage-count no; }\ninclude "drbd.d/*.res";\n')
    assert drbdadm("-c", str(conf), "dump", "all").returncode == 0
    resources = configured_resources(read_drbd_conf(str(conf)), {"node05"})
    real = drbdadm("-c", str(conf), "sh-minor", "vm-disks", node="node05")
    assert [(r.name, r.minors) for r in resources] == [
        ("vm-disks", [int(m) for m in real.stdout.split()])
    ]


@needs_drbdadm
@pytest.mark.real
@pytest.mark.parametrize(
    "text, line",
    [
        ("resource r0 {\n on a { device /dev/drbd0 }\n}\n", 2),
        ("resource r0 {\n on a { device /dev/drbd0; }\n", None),
        ("resource r0 {\n}\n}\n", 3),
    ],
)
def test_syntax_errors_are_rejected_like_drbdadm_does(tmp_path, text, line):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    assert drbdadm("-c", str(conf), "dump", "all").returncode != 0
    with pytest.raises(ParseError) as error:
        read_drbd_conf(str(conf))
    assert error.value.line == line
    assert str(conf) in str(error.value)
