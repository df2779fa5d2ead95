"""@record: typed records like @dataclass, without its import cost.

`dataclasses` pulls in `inspect` and compiles several methods per class: about 15 ms of a
plugin's start-up, paid every minute on every node. This builds only `__init__`, `__repr__`
and `__eq__`, from the class annotations, the same way.

    @record
    class Device:
        minor: int
        disk: str = "DUnknown"
        peers: list[str] = factory(list)
"""

from __future__ import annotations

_MISSING = object()


class factory:  # noqa: N801 - reads like dataclasses.field(default_factory=...)
    """A default made fresh for every instance (for lists and dicts)."""

    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


def _annotations(cls) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name in klass.__dict__.get("__annotations__", {}):
            if name not in names:
                names.append(name)
    return names


def record(cls):
    names = _annotations(cls)
    namespace: dict = {"_MISSING": _MISSING}
    params, body = [], []
    for name in names:
        default = getattr(cls, name, _MISSING)
        if isinstance(default, factory):
            namespace[f"_make_{name}"] = default.make
            params.append(f"{name}=_MISSING")
            body.append(f"    self.{name} = _make_{name}() if {name} is _MISSING else {name}")
            delattr(cls, name)
        elif default is not _MISSING:
            namespace[f"_default_{name}"] = default
            params.append(f"{name}=_default_{name}")
            body.append(f"    self.{name} = {name}")
        else:
            if any("=" in p for p in params):
                raise TypeError(f"{cls.__name__}.{name}: field without default after defaults")
            params.append(name)
            body.append(f"    self.{name} = {name}")
    source = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass")
    exec(source, namespace)  # noqa: S102 - generated from the class's own annotations
    cls.__init__ = namespace["__init__"]
    cls.__init__.__qualname__ = f"{cls.__qualname__}.__init__"
    cls._fields = tuple(names)
    cls.__repr__ = _repr
    cls.__eq__ = _eq
    cls.__hash__ = None
    return cls


def _repr(self) -> str:
    fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
    return f"{type(self).__name__}({fields})"


def _eq(self, other) -> bool:
    if type(other) is not type(self):
        return NotImplemented
    return all(getattr(self, n) == getattr(other, n) for n in self._fields)


def replace(obj, **changes):
    """A copy of a record with some fields changed (like dataclasses.replace)."""
    values = {name: getattr(obj, name) for name in obj._fields}
    values.update(changes)
    return type(obj)(**values)
