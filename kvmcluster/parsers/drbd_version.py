"""`drbdadm --version`: the utils' and the kernel module's versions (shell variable lines).

    DRBDADM_VERSION_CODE=0x091600
    DRBDADM_VERSION=9.22.0
    DRBD_KERNEL_VERSION_CODE=0x08040b
    DRBD_KERNEL_VERSION=8.4.11

Pure: text in, (utils version, kernel version) out; a version that is not a version is
refused (ParseError), "0" (no kernel module loaded) is None."""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.parsers.values import parser

_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+~_-]{0,40}$")


@parser("drbdadm --version")
def parse_drbd_version(
    text: str, source: str = "drbdadm --version"
) -> tuple[str | None, str | None]:
    values: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        key, sep, value = line.strip().partition("=")
        if sep and key in ("DRBDADM_VERSION", "DRBD_KERNEL_VERSION"):
            value = value.strip().strip("'\"")
            if not _VERSION.match(value):
                raise ParseError(source, f"{key} is not a version", number)
            values[key] = (value, number)
    if not values:
        raise ParseError(source, "no DRBDADM_VERSION= line: not `drbdadm --version` output")
    utils = values.get("DRBDADM_VERSION", (None, 0))[0]
    kernel = values.get("DRBD_KERNEL_VERSION", (None, 0))[0]
    return utils, (None if kernel in (None, "0") else kernel)
