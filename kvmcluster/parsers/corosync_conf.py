"""corosync.conf (`key: value` lines in `section {}` blocks) -> a tree with line numbers."""

from __future__ import annotations

from kvmcluster.errors import ParseError
from kvmcluster.model.record import factory, record
from kvmcluster.parsers.values import MAX_NESTING, parser


@record
class CorosyncSection:
    name: str
    line: int
    values: dict[str, tuple[str, int]] = factory(dict)  # key -> (value, line)
    sections: list[CorosyncSection] = factory(list)

    def section(self, name: str) -> CorosyncSection | None:
        return next((s for s in self.sections if s.name == name), None)

    def all(self, name: str) -> list[CorosyncSection]:
        return [s for s in self.sections if s.name == name]


@parser("corosync.conf")
def parse_corosync_conf(text: str, source: str = "corosync.conf") -> CorosyncSection:
    root = CorosyncSection("", 0)
    stack = [root]
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith("{"):
            name = line[:-1].strip()
            if not name or " " in name:
                raise ParseError(source, f"bad section header {line!r}", lineno)
            if len(stack) > MAX_NESTING:
                raise ParseError(source, f"sections nested more than {MAX_NESTING} deep", lineno)
            section = CorosyncSection(name, lineno)
            stack[-1].sections.append(section)
            stack.append(section)
        elif line == "}":
            if len(stack) == 1:
                raise ParseError(source, "unbalanced '}'", lineno)
            stack.pop()
        elif ":" in line:
            key, _, value = line.partition(":")
            stack[-1].values[key.strip()] = (value.strip(), lineno)
        else:
            raise ParseError(source, f"expected 'key: value', got {line[:60]!r}", lineno)
    if len(stack) != 1:
        raise ParseError(source, f"section {stack[-1].name!r} (line {stack[-1].line}) not closed")
    return root
