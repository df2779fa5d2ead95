"""Hypervisors for libvirt's test driver: one node file per host, opened by the real
libvirt-python as test:///ABS/PATH/node.xml (no daemon, no mocks)."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

RUNSTATE = {"running": None, "paused": 3, "shutoff": 5, "crashed": 6}
VM200 = "aquarius_000200_MFA_mfa.fr_prodwsrv1.mfa.fr"
VM199 = "aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr"


def domain(name: str, number: int, state: str = "running", disks=None) -> str:
    """A domain; `disks` is a list of (type, source) such as ("block", "/dev/vg/lv")."""
    devices = []
    for index, (kind, source) in enumerate(disks or []):
        attr = "dev" if kind == "block" else "file"
        devices.append(
            f'<disk type="{kind}" device="disk"><source {attr}="{escape(source)}"/>'
            f'<target dev="vd{chr(ord("a") + index)}"/></disk>'
        )
    runstate = RUNSTATE[state]
    return (
        '<domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0">'
        f"<name>{escape(name)}</name><uuid>11111111-1111-1111-1111-{number:012d}</uuid>"
        "<memory>1048576</memory><os><type>hvm</type></os>"
        f"<devices>{''.join(devices)}</devices>"
        + (f"<test:runstate>{runstate}</test:runstate>" if runstate else "")
        + "</domain>"
    )


def hypervisor(directory: Path, node: str, *domains: str) -> str:
    """Write node.xml and return its libvirt URI."""
    path = directory / f"{node}.xml"
    path.write_text("<node>" + "".join(domains) + "</node>")
    return f"test://{path}"


def vm200(state="running", vg="volnode05", extra=()):
    return domain(VM200, 200, state, [("block", f"/dev/{vg}/vm200-disk0"), *extra])


def vm199(state="running", vg="volnode06", extra=()):
    return domain(VM199, 199, state, [("block", f"/dev/mapper/{vg}-vm199--disk0"), *extra])
