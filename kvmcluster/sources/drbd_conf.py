"""drbd.conf files read from disk, `include`s followed (the parser, parsers.drbd_conf, is
handed their statements through its `include` callback and reads no file itself)."""

from __future__ import annotations

import glob
import os

from kvmcluster.errors import ParseError
from kvmcluster.parsers.drbd_conf import ConfNode, DrbdConfig, parse_drbd_conf_text
from kvmcluster.sources.files import read_text

MAX_INCLUDE_DEPTH = 8


def read_drbd_conf(path: str, _depth: int = 0, _root: str | None = None) -> DrbdConfig:
    """The config in `path` (a file of this machine, or - for standard input)."""
    return DrbdConfig(
        parse_drbd_conf_text(read_text(path), path, _depth, _root=_root, include=_include)
    )


def _include(node: ConfNode, path: str, depth: int, root: str | None) -> list[ConfNode]:
    """The files an `include` names, read only inside the directory of the top file.

    /etc/drbd.conf includes /etc/drbd.d/*.res; a capture's drbd.conf (data from another host)
    must not make `status --from` read, and quote in an error, a file of this host such as
    /etc/shadow, directly or through a symlink."""
    if depth > MAX_INCLUDE_DEPTH:
        raise ParseError(path, "include nesting too deep", node.line)
    if not node.args:
        raise ParseError(path, "include without a file", node.line)
    pattern = node.args[0]
    if not os.path.isabs(pattern):
        pattern = os.path.join(os.path.dirname(path) or ".", pattern)
    if root is None:
        root = os.path.realpath(os.path.dirname(path) or ".")
    nodes: list[ConfNode] = []
    for included in sorted(glob.glob(pattern)):
        real = os.path.realpath(included)
        if os.path.commonpath([root, real]) != root:
            raise ParseError(
                path,
                f"include {node.args[0][:80]!r}: {included[:120]} is outside {root}, not read",
                node.line,
            )
        nodes.extend(read_drbd_conf(included, depth + 1, root).nodes)
    return nodes
