"""drbd.conf (8.3/8.4/9 syntax) -> a tree of statements and sections with file:line.

Used for the names of minors in /proc/drbd and for "configured but not up"; the tree keeps
enough (file, line, arguments) for config linting. Pure: an `include` is followed only through
the `include` callback the caller hands in (sources.drbd_conf.read_drbd_conf reads the files).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from kvmcluster.errors import ParseError
from kvmcluster.model.drbd import BackingDevice, ConfiguredResource
from kvmcluster.model.record import factory, record
from kvmcluster.parsers.values import MAX_NESTING, is_count, parser

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{};]|[^\s{};"#]+|#[^\n]*|\n|[ \t\r]+')
_MINOR_DEVICE = re.compile(r"^/dev/drbd([0-9]{1,20})$")


@record
class ConfNode:
    keyword: str
    args: list[str]
    file: str
    line: int
    children: list[ConfNode] | None = None  # None: a statement ending in ';'

    def sections(self, keyword: str) -> list[ConfNode]:
        return [c for c in self.children or [] if c.keyword == keyword and c.children is not None]

    def statements(self, keyword: str) -> list[ConfNode]:
        return [c for c in self.children or [] if c.keyword == keyword and c.children is None]


@record
class DrbdConfig:
    nodes: list[ConfNode] = factory(list)

    def resources(self) -> list[ConfNode]:
        return [n for n in self.nodes if n.keyword == "resource" and n.children is not None]


def _tokens(text: str, path: str):
    line = 1
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError(path, f"unexpected character {text[pos]!r}", line)
        token = m.group(0)
        pos = m.end()
        if token == "\n":
            line += 1
        elif token.startswith('"'):
            yield token[1:-1], line
            line += token.count("\n")
        elif token.strip() and not token.startswith("#"):
            yield token, line


# include(statement, path of the file it is in, depth, root) -> the statements of the files
IncludeReader = Callable[["ConfNode", str, int, "str | None"], list["ConfNode"]]


@parser("drbd.conf", source_arg="path")
def parse_drbd_conf_text(
    text: str,
    path: str,
    _depth: int = 0,
    follow_includes: bool = True,
    _root: str | None = None,
    include: IncludeReader | None = None,
) -> list[ConfNode]:
    """The statements of `text`; `include` statements are replaced by what `include` returns
    for them (dropped without one, or with follow_includes=False)."""
    stack: list[list[ConfNode]] = [[]]
    words: list[tuple[str, int]] = []
    for token, line in _tokens(text, path):
        if token == ";":
            if not words:
                continue
            node = ConfNode(words[0][0], [w for w, _ in words[1:]], path, words[0][1])
            words = []
            if node.keyword == "include":
                if follow_includes and include is not None:
                    stack[-1].extend(include(node, path, _depth, _root))
            else:
                stack[-1].append(node)
        elif token == "{":
            if not words:
                raise ParseError(path, "'{' without a section name", line)
            if len(stack) > MAX_NESTING:
                raise ParseError(path, f"sections nested more than {MAX_NESTING} deep", line)
            node = ConfNode(words[0][0], [w for w, _ in words[1:]], path, words[0][1], [])
            words = []
            stack[-1].append(node)
            stack.append(node.children)
        elif token == "}":
            if words:
                raise ParseError(path, f"missing ';' after {words[-1][0]!r}", words[-1][1])
            if len(stack) == 1:
                raise ParseError(path, "unbalanced '}'", line)
            stack.pop()
        else:
            words.append((token, line))
    if words:
        raise ParseError(path, f"missing ';' after {words[-1][0]!r}", words[-1][1])
    if len(stack) != 1:
        raise ParseError(path, "unclosed '{' at end of file")
    return [n for n in stack[0] if n.keyword != "skip"]


def _device_minor(node: ConfNode) -> int | None:
    args = node.args
    if "minor" in args:
        index = args.index("minor")
        if index + 1 < len(args) and is_count(args[index + 1]):
            return int(args[index + 1])
    for arg in args:
        if m := _MINOR_DEVICE.match(arg):
            return int(m.group(1))
    return None


def _minors(section: ConfNode, hostnames: set[str]) -> list[int]:
    """Minors of this host's `device` statements, wherever they sit in the resource."""
    found: list[int] = []
    for child in section.children or []:
        if child.keyword == "device" and child.children is None:
            minor = _device_minor(child)
            if minor is not None:
                found.append(minor)
        elif child.children is not None and child.keyword in ("on", "volume", "floating"):
            if child.keyword == "on" and hostnames and not set(child.args) & hostnames:
                continue
            found.extend(_minors(child, hostnames))
    return sorted(set(found))


def configured_resources(config: DrbdConfig, hostnames: set[str]) -> list[ConfiguredResource]:
    """Resources this host takes part in (all of them when `hostnames` is empty)."""
    result = []
    for section in config.resources():
        if not section.args:
            continue
        hosts = [a for on in section.sections("on") for a in on.args]
        if hostnames and hosts and not set(hosts) & hostnames:
            continue
        result.append(ConfiguredResource(section.args[0], _minors(section, hostnames), hosts=hosts))
    return result


def resource_setting(config: DrbdConfig, resource: ConfNode, section: str, keyword: str):
    """A setting of a resource, or the one it inherits from `common` (None when unset)."""
    common = next((n for n in config.nodes if n.keyword == "common"), None)
    for scope in (resource, common):
        if scope is None:
            continue
        for block in scope.sections(section):
            for child in block.children or []:
                if child.keyword == keyword:
                    return child
    return None


def is_dual_primary(config: DrbdConfig, resource: ConfNode) -> bool:
    setting = resource_setting(config, resource, "net", "allow-two-primaries")
    return setting is not None and (not setting.args or setting.args[0] != "no")


def backing_devices(config: DrbdConfig, hostnames: set[str]) -> list[BackingDevice]:
    """(resource, minor, backing disk) for this host's `on` sections (all hosts when none
    of them names this host)."""
    found = []
    for resource in config.resources():
        name = resource.args[0] if resource.args else "?"
        ons = resource.sections("on")
        mine = [on for on in ons if set(on.args) & hostnames] or ons
        for on in mine:
            for holder in [on, *on.sections("volume"), resource, *resource.sections("volume")]:
                disk = next((c for c in holder.statements("disk")), None)
                device = next((c for c in holder.statements("device")), None)
                if disk is not None and disk.args and disk.args[0] != "none":
                    minor = _device_minor(device) if device is not None else None
                    found.append(
                        BackingDevice(name, minor, disk.args[0], is_dual_primary(config, resource))
                    )
                    break
    unique = {(b.resource, b.disk): b for b in found}
    return list(unique.values())
