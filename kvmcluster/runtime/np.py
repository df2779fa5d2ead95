"""nagiosplugin, imported without the two parts no kvmcluster plugin uses.

nagiosplugin's package __init__ imports Cookie and LogTail, which pull in json, tempfile and
shutil: about 8 ms of every plugin run on every node every minute. While the package loads,
placeholders stand in for those two modules; they are dropped right after, so an explicit
`import nagiosplugin.cookie` still gets the real module, and `nagiosplugin.Cookie(...)` /
`nagiosplugin.LogTail(...)` load it on first use. Everything else is the real nagiosplugin.
"""

from __future__ import annotations

import importlib
import sys
import types

_SKIPPED = {"nagiosplugin.cookie": "Cookie", "nagiosplugin.logtail": "LogTail"}


def _on_first_use(module_name: str, attr: str) -> type:
    def __new__(cls, *args, **kwargs):
        real = getattr(importlib.import_module(module_name), attr)
        return real(*args, **kwargs)

    return type(attr, (), {"__new__": __new__, "__doc__": f"Loads {module_name} on first use."})


def _import() -> types.ModuleType:
    if "nagiosplugin" in sys.modules:
        return sys.modules["nagiosplugin"]
    placed = []
    for module_name, attr in _SKIPPED.items():
        if module_name not in sys.modules:
            placeholder = types.ModuleType(module_name)
            setattr(placeholder, attr, _on_first_use(module_name, attr))
            sys.modules[module_name] = placeholder
            placed.append(module_name)
    try:
        import nagiosplugin
    finally:
        for module_name in placed:
            sys.modules.pop(module_name, None)
    for module_name in placed:  # a later `import nagiosplugin.cookie` must load the real one
        short = module_name.rsplit(".", 1)[1]
        if isinstance(getattr(nagiosplugin, short, None), types.ModuleType):
            delattr(nagiosplugin, short)
    return nagiosplugin


nagiosplugin = _import()
