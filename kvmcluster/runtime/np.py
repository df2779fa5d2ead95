"""nagiosplugin, imported without the standard modules no kvmcluster plugin needs to load.

nagiosplugin's package loads Cookie and LogTail (json, tempfile, shutil), `logging` (threading,
weakref, string, traceback) and `traceback` (linecache, tokenize, textwrap): about 20 ms of
every plugin run, on every node, every minute. While the package loads, stand-ins take their
place, each only when the real module is not loaded yet:

- cookie, logtail: placeholder classes; `nagiosplugin.Cookie(...)` loads the real one on first use;
- traceback: a module that loads the real traceback on first attribute use (only an internal
  error formats a traceback);
- logging: QuietLogging below, enough for what nagiosplugin does with it: its own messages go
  to the StringIO handler its Runtime reads back into the plugin output, filtered by level.

The stand-ins are dropped from sys.modules right after, so any later `import logging` (or
`import nagiosplugin.cookie`) gets the real module. Everything else is the real nagiosplugin.

The stand-ins rely on what the package imports and on the part of `logging` it calls, so they
are used only for the versions checked against them (STAND_IN_VERSIONS: 1.3.2 as packaged by
Debian 12, 1.4.0 the current release; tests/test_distro_libs.py runs every plugin on both and
compares the output byte for byte). Any other version, or a failure while importing with the
stand-ins, gets a plain `import nagiosplugin`: slower to start, same output.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

# versions whose imports and logging calls were checked against the stand-ins below
STAND_IN_VERSIONS = ("1.3.2", "1.4.0")

_PLACEHOLDER_CLASSES = {"nagiosplugin.cookie": "Cookie", "nagiosplugin.logtail": "LogTail"}


def _on_first_use(module_name: str, attr: str) -> type:
    def __new__(cls, *args, **kwargs):
        real = getattr(importlib.import_module(module_name), attr)
        return real(*args, **kwargs)

    return type(attr, (), {"__new__": __new__, "__doc__": f"Loads {module_name} on first use."})


def _loaded_on_first_use(module_name: str) -> types.ModuleType:
    module = types.ModuleType(module_name, f"Loads {module_name} on first attribute use.")

    def __getattr__(attr: str):
        return getattr(importlib.import_module(module_name), attr)

    module.__getattr__ = __getattr__  # PEP 562
    return module


class QuietLogging(types.ModuleType):
    """The part of `logging` nagiosplugin uses: getLogger, StreamHandler, Formatter, levels.

    Loggers form the same dotted hierarchy; a message reaches the handlers of its logger and
    its ancestors when it passes the effective level (the nearest level set, else WARNING)
    and the handler's level. Formatters are accepted; the text is the %-formatted message.
    """

    DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50

    def __init__(self) -> None:
        super().__init__("logging", self.__doc__)
        self._loggers: dict[str, _Logger] = {}

    def getLogger(self, name: str = "") -> _Logger:  # noqa: N802 - logging's own name
        logger = self._loggers.get(name)
        if logger is None:
            parent = self.getLogger(name.rpartition(".")[0]) if name else None
            logger = self._loggers[name] = _Logger(name, parent)
        return logger

    @staticmethod
    def StreamHandler(stream) -> _Handler:  # noqa: N802
        return _Handler(stream)

    @staticmethod
    def Formatter(*args, **kwargs) -> None:  # noqa: N802
        return None


class _Handler:
    def __init__(self, stream) -> None:
        self.stream = stream
        self.level = 0

    def setLevel(self, level: int) -> None:  # noqa: N802
        self.level = level

    def setFormatter(self, formatter) -> None:  # noqa: N802
        pass


class _Logger:
    def __init__(self, name: str, parent: _Logger | None) -> None:
        self.name = name
        self.parent = parent
        self.level = 0
        self.handlers: list[_Handler] = []

    def setLevel(self, level: int) -> None:  # noqa: N802
        self.level = level

    def addHandler(self, handler: _Handler) -> None:  # noqa: N802
        self.handlers.append(handler)

    def effective_level(self) -> int:
        logger: _Logger | None = self
        while logger is not None:
            if logger.level:
                return logger.level
            logger = logger.parent
        return QuietLogging.WARNING

    def log(self, level: int, msg: str, *args) -> None:
        if level < self.effective_level():
            return
        text = (msg % args if args else str(msg)) + "\n"
        logger: _Logger | None = self
        while logger is not None:
            for handler in logger.handlers:
                if level >= handler.level:
                    handler.stream.write(text)
            logger = logger.parent

    def debug(self, msg, *args):
        self.log(QuietLogging.DEBUG, msg, *args)

    def info(self, msg, *args):
        self.log(QuietLogging.INFO, msg, *args)

    def warning(self, msg, *args):
        self.log(QuietLogging.WARNING, msg, *args)

    def error(self, msg, *args):
        self.log(QuietLogging.ERROR, msg, *args)


def _stand_ins() -> dict[str, types.ModuleType]:
    stand_ins: dict[str, types.ModuleType] = {
        "logging": QuietLogging(),
        "traceback": _loaded_on_first_use("traceback"),
    }
    for module_name, attr in _PLACEHOLDER_CLASSES.items():
        placeholder = types.ModuleType(module_name)
        setattr(placeholder, attr, _on_first_use(module_name, attr))
        stand_ins[module_name] = placeholder
    return {name: module for name, module in stand_ins.items() if name not in sys.modules}


def installed_version() -> str | None:
    """nagiosplugin's version from its version.py, without importing the package."""
    try:
        spec = importlib.util.find_spec("nagiosplugin")
    except (ImportError, ValueError):
        return None
    for directory in (spec and spec.submodule_search_locations) or ():
        try:
            with open(f"{directory}/version.py", encoding="utf-8") as file:
                text = file.read()
        except OSError:
            continue
        for line in text.splitlines():  # __VERSION__ = "1.3.2"
            name, sep, value = line.partition("=")
            if sep and name.strip() == "__VERSION__":
                return value.strip().strip("'\"")
        return None
    return None


def _forget_nagiosplugin() -> None:
    for module_name in [m for m in sys.modules if m.split(".", 1)[0] == "nagiosplugin"]:
        del sys.modules[module_name]


def _import_with_stand_ins() -> types.ModuleType:
    placed = _stand_ins()
    sys.modules.update(placed)
    try:
        import nagiosplugin
    finally:
        for module_name in placed:
            sys.modules.pop(module_name, None)
    for module_name in _PLACEHOLDER_CLASSES:  # `import nagiosplugin.cookie` loads the real one
        short = module_name.rsplit(".", 1)[1]
        if module_name in placed and isinstance(
            getattr(nagiosplugin, short, None), types.ModuleType
        ):
            delattr(nagiosplugin, short)
    return nagiosplugin


def _import() -> types.ModuleType:
    if "nagiosplugin" in sys.modules:
        return sys.modules["nagiosplugin"]
    module = None
    if installed_version() in STAND_IN_VERSIONS:
        try:
            module = _import_with_stand_ins()
        except Exception:  # a package that does not fit the stand-ins: the plain import below
            _forget_nagiosplugin()
    if module is None:
        import nagiosplugin as module
    # 1.3.2 binds sys.stdout when it is imported, 1.4 prints to sys.stdout as it is then
    if getattr(module.Runtime, "stdout", None) is sys.stdout:
        module.Runtime.stdout = None
    return module


nagiosplugin = _import()
