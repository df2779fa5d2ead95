"""Parsing XML output of cluster tools with the standard library (lxml is kept for
cluster.conf, where line numbers and schemas matter)."""

from __future__ import annotations

from kvmcluster.errors import ParseError


def parse_xml(text: str, source: str, root_tags: tuple[str, ...]):
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(text.strip().encode("utf-8"))
    except ElementTree.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise ParseError(source, f"not well-formed XML ({exc})", line) from None
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
        return int(value, 0)  # clustat writes node ids as 0x00000001
    except ValueError:
        raise ParseError(source, f"<{element.tag} {name}=...>: not a number: {value!r}") from None
