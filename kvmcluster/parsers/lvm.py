"""`vgs`/`pvs`/`lvs --noheadings --separator '|' --units b --nosuffix -o FIELDS` (lvm2 2.02 of
RHEL 6 and 2.03), and lvm.conf / `lvmconfig` / `lvm dumpconfig` text."""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.model.lvm import LogicalVolume, LvmConfig, PhysicalVolume, VolumeGroup
from kvmcluster.parsers.values import MAX_NESTING, is_count, parser

REPORT_OPTIONS = ["--noheadings", "--separator", "|", "--units", "b", "--nosuffix"]
VGS_FIELDS = "vg_name,vg_attr,vg_size,vg_free,lv_count,pv_count"
PVS_FIELDS = "pv_name,vg_name,pv_attr,pv_size,pv_free"
LVS_FIELDS = "lv_name,vg_name,lv_attr,lv_size"
VGS_ARGV = ["vgs", *REPORT_OPTIONS, "-o", VGS_FIELDS]
PVS_ARGV = ["pvs", *REPORT_OPTIONS, "-o", PVS_FIELDS]
LVS_ARGV = ["lvs", *REPORT_OPTIONS, "-o", LVS_FIELDS]


def _rows(text: str, source: str, width: int):
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(("WARNING", "  WARNING")):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != width:
            raise ParseError(
                source, f"expected {width} '|'-separated fields, got {line.strip()[:60]!r}", lineno
            )
        yield lineno, fields


def _size(value: str, source: str, lineno: int) -> int:
    """Bytes (`--units b --nosuffix`; older lvm2 may add a B): 0 to 2**64, no inf or nan."""
    try:
        size = float(value.rstrip("B"))
    except ValueError:
        size = -1.0
    if not 0 <= size <= _MAX_SIZE:  # also nan and inf ("1e400")
        raise ParseError(source, f"not a size in bytes: {value[:40]!r}", lineno)
    return int(size)


_MAX_SIZE = float(2**64)


def _count(value: str, source: str, lineno: int) -> int:
    if not value:
        return 0
    if not is_count(value):  # str.isdigit() would let a superscript digit through
        raise ParseError(source, f"not a count: {value[:40]!r}", lineno)
    return int(value)


@parser("vgs")
def parse_vgs(text: str, source: str = "vgs") -> list[VolumeGroup]:
    return [
        VolumeGroup(
            f[0],
            f[1],
            _size(f[2], source, n),
            _size(f[3], source, n),
            _count(f[4], source, n),
            _count(f[5], source, n),
        )
        for n, f in _rows(text, source, 6)
    ]


@parser("pvs")
def parse_pvs(text: str, source: str = "pvs") -> list[PhysicalVolume]:
    return [
        PhysicalVolume(f[0], f[1], f[2], _size(f[3], source, n), _size(f[4], source, n))
        for n, f in _rows(text, source, 5)
    ]


@parser("lvs")
def parse_lvs(text: str, source: str = "lvs") -> list[LogicalVolume]:
    return [
        LogicalVolume(f[0], f[1], f[2], _size(f[3], source, n)) for n, f in _rows(text, source, 4)
    ]


_TOKEN = re.compile(
    r'(?P<string>"(?:[^"\\]|\\.)*")|(?P<comment>#[^\n]*)|(?P<newline>\n)|(?P<space>[ \t\r]+)'
    r"|(?P<punct>[{}\[\]=,])|(?P<word>[^\s{}\[\]=,\"#]+)"
)


@parser("lvm.conf")
def parse_lvm_config(text: str, source: str = "lvm.conf") -> LvmConfig:
    """Nested `section { key = value }` with numbers, strings and [ arrays ] (may span lines)."""
    tokens = []
    line = 1
    position = 0
    while position < len(text):
        m = _TOKEN.match(text, position)
        if not m:
            raise ParseError(source, f"unexpected character {text[position]!r}", line)
        position = m.end()
        kind = m.lastgroup
        if kind == "newline":
            line += 1
        elif kind in ("string", "punct", "word"):
            tokens.append((kind, m.group(), line))
    config = LvmConfig(source)
    path: list[str] = []
    index = 0

    def value_at(i):
        kind, text_value, _ = tokens[i]
        if kind == "string":
            return text_value[1:-1].replace('\\"', '"')
        try:
            return int(text_value)
        except ValueError:
            return text_value

    while index < len(tokens):
        kind, text_value, lineno = tokens[index]
        if text_value == "}":
            if not path:
                raise ParseError(source, "unbalanced '}'", lineno)
            path.pop()
            index += 1
        elif index + 1 < len(tokens) and tokens[index + 1][1] == "{":
            if len(path) >= MAX_NESTING:
                raise ParseError(source, f"sections nested more than {MAX_NESTING} deep", lineno)
            path.append(text_value)
            index += 2
        elif index + 2 < len(tokens) and tokens[index + 1][1] == "=":
            key = "/".join([*path, text_value])
            if tokens[index + 2][1] == "[":
                items, index = [], index + 3
                while index < len(tokens) and tokens[index][1] != "]":
                    if tokens[index][1] != ",":
                        items.append(value_at(index))
                    index += 1
                if index >= len(tokens):
                    raise ParseError(source, f"array of {key} not closed", lineno)
                config.values[key] = (items, lineno)
                index += 1
            else:
                config.values[key] = (value_at(index + 2), lineno)
                index += 3
        else:
            raise ParseError(
                source, f"expected 'key = value' or 'section {{', got {text_value!r}", lineno
            )
    if path:
        raise ParseError(source, f"section {'/'.join(path)} not closed")
    return config
