"""Parsing XML output of cluster tools with the standard library (lxml is kept for
cluster.conf, where line numbers and schemas matter).

The text is data: it is parsed as the UTF-8 it was read as (whatever encoding its declaration
names), and a DTD (`<!DOCTYPE ...>`, where entities are declared) is refused, so no entity is
expanded and nothing outside the text is read. No cluster tool writes a DTD.
"""

from __future__ import annotations

import re

from kvmcluster.errors import ParseError
from kvmcluster.parsers.values import MAX_NESTING

_FIRST_ELEMENT = re.compile(r"<[^?!]")


def refuse_dtd(text: str, source: str) -> None:
    """A <!DOCTYPE> before the root element is refused (entities, external subsets)."""
    doctype = text.find("<!DOCTYPE")
    if doctype < 0:
        return
    first = _FIRST_ELEMENT.search(text)
    if first is None or doctype < first.start():
        raise ParseError(
            source,
            "a DTD (<!DOCTYPE>, entity declarations) is not accepted in this input",
            text.count("\n", 0, doctype) + 1,
        )


def parse_xml(text: str, source: str, root_tags: tuple[str, ...]):
    from xml.etree import ElementTree

    refuse_dtd(text, source)
    try:
        parser = ElementTree.XMLParser(encoding="utf-8")  # the declaration cannot override it
        parser.feed(text.strip().encode("utf-8"))
        root = parser.close()
    except ElementTree.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise ParseError(source, f"not well-formed XML ({exc})", line) from None
    except UnicodeError:  # a lone surrogate in a str handed in by Python code
        raise ParseError(source, "not valid UTF-8 text") from None
    if root.tag not in root_tags:
        raise ParseError(source, f"expected <{'> or <'.join(root_tags)}>, got <{root.tag}>")
    return root


def flag(element, name: str) -> bool:
    """XML booleans as the cluster tools write them: "1"/"0" or "true"/"false"."""
    return (element.get(name) or "").lower() in ("1", "true", "yes")


def number(element, name: str, source: str) -> int | None:
    value = element.get(name)
    if value is None or value == "":
        return None
    try:
        if len(value) > 24:  # 0x + 16 hex digits, or 20 decimal ones, and a sign
            raise ValueError
        result = int(value, 0)  # clustat writes node ids as 0x00000001
        if not -(2**63) <= result < 2**64:
            raise ValueError
        return result
    except ValueError:
        reason = f"<{element.tag} {name}=...>: not a number: {value[:40]!r}"
        raise ParseError(source, reason) from None


def check_depth(depth: int, source: str, what: str) -> None:
    """Callers that walk nested elements (groups in clones ...) stop at MAX_NESTING."""
    if depth > MAX_NESTING:
        raise ParseError(source, f"{what} nested more than {MAX_NESTING} deep")
