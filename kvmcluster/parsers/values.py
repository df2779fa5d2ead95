"""Numbers of the inputs, bounded, and the one place a malformed value becomes a ParseError.

Tool output holds counters, sizes, ids and percentages: whole numbers of at most 20 digits
(2**64 has 20), finite, not negative, and percentages from 0 to 100. Anything else (a 5,000-digit
number, which int() refuses in Python 3.11 with a ValueError; 1e400, which float() reads as inf;
nan; a superscript digit that str.isdigit() accepts and int() does not) is a ParseError naming the
file and line, never a ValueError or OverflowError out of a rule.
"""

from __future__ import annotations

import functools
import math

from kvmcluster.errors import ParseError

KIB = 1024
MAX_DIGITS = 20  # 18446744073709551615 (2**64 - 1) has 20
MAX_NESTING = 32  # sections, groups or clones inside each other: real configs use 4 at most
MAX_SECONDS = 100 * 366 * 86400  # an uptime or ETA beyond a century is not one

# What a parser may raise on input it did not expect, besides ParseError: each becomes a
# ParseError (see parser() below). Programming errors of valid input are caught by the tests
# on the fixtures.
DATA_ERRORS = (
    ValueError,  # also UnicodeError
    OverflowError,
    RecursionError,
    LookupError,  # IndexError, KeyError, an unknown encoding declared by an XML file
    TypeError,
    AttributeError,
)


def reason_of(exc: BaseException) -> str:
    """What was wrong, in the words of the input rather than of Python."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc)
    if isinstance(exc, ValueError) and "integer string conversion" in text:
        return f"a number of more than {MAX_DIGITS} digits"
    if isinstance(exc, OverflowError):
        return "a number out of range"
    if isinstance(exc, UnicodeError):
        return "not valid UTF-8 text"
    return f"unexpected value ({type(exc).__name__}: {text[:80]})"


def parser(default_source: str | None = None, source_arg: str = "source"):
    """Decorate a parser `f(text, source=..., ...)`: anything in DATA_ERRORS it lets out becomes
    a ParseError of its source. Costs one call per parse, nothing per line."""

    def decorate(func):
        @functools.wraps(func)
        def run(text, *args, **kwargs):
            try:
                return func(text, *args, **kwargs)
            except ParseError as exc:
                raise explained(exc, text, default_source) from None
            except DATA_ERRORS as exc:
                source = kwargs.get(source_arg, args[0] if args else default_source)
                error = ParseError(str(source or "input"), reason_of(exc))
                raise explained(error, text, default_source) from None

        return run

    return decorate


def explained(error: ParseError, text, expected: str | None) -> ParseError:
    """The parser's error, with what the input looks like when it is something else than
    `expected` (parsers.sniff: a JSON given to --proc-file, pvs output to --vgs-file)."""
    if not expected or getattr(error, "explained", False):
        return error
    from kvmcluster.parsers.sniff import misplaced

    try:
        hint = misplaced(text, expected)
    except DATA_ERRORS:  # the sniffer must never hide the parser's own error
        hint = ""
    if not hint:
        return error
    better = ParseError(error.source, f"{error.reason} ({hint})", error.line)
    better.explained = True
    return better


def integer(text: str, source: str, line: int | None = None, what: str = "number") -> int:
    """A whole number of at most MAX_DIGITS ASCII digits (no sign)."""
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS):
        reason = f"{what}: not a whole number of 1 to {MAX_DIGITS} digits: {text[:40]!r}"
        raise ParseError(source, reason, line)
    return int(text)


def is_count(text: str) -> bool:
    """What integer() accepts (for callers that treat other words otherwise)."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS


def finite(text: str, source: str, line: int | None = None, what: str = "number",
           low: float = 0.0, high: float = float(2**64)) -> float:  # fmt: skip
    """A finite decimal number from low to high (no inf, nan or 1e400)."""
    try:
        value = float(text)
    except (ValueError, TypeError):
        raise ParseError(source, f"{what}: not a number: {str(text)[:40]!r}", line) from None
    if not (math.isfinite(value) and low <= value <= high):
        span = f"{_plain(low)} to {_plain(high)}"
        raise ParseError(source, f"{what}: {str(text)[:40]!r} is out of range ({span})", line)
    return value


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def percent(value, source: str, line: int | None = None, what: str = "percentage") -> float:
    return finite(value, source, line, what, 0.0, 100.0)


def bounded(value, source: str, what: str, line: int | None = None) -> int:
    """A whole number from an already-typed input (JSON): 0 to 2**64, not a bool."""
    if type(value) is not int:  # noqa: E721 - bool and float are not counters
        if isinstance(value, float) and value.is_integer() and 0 <= value < 2**64:
            return int(value)
        raise ParseError(source, f"{what}: expected a whole number, got {str(value)[:40]!r}", line)
    if not 0 <= value < 2**64:
        raise ParseError(source, f"{what}: {str(value)[:40]} is out of range (0 to 2**64)", line)
    return value


def opt_int(fields: dict, key: str) -> int | None:
    value = fields.get(key)
    return None if value is None else _count(value, key)


def kib(fields: dict, key: str) -> int | None:
    """A KiB count in bytes (None when absent)."""
    value = fields.get(key)
    return None if value is None else _count(value, key) * KIB


def _count(value: str, key: str) -> int:
    """events2's key:value numbers; the caller names the source and line (ValueError)."""
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS):
        raise ValueError(f"{key}:{value[:40]} is not a whole number of 1 to {MAX_DIGITS} digits")
    return int(value)


# --- thresholds given on the command line: one reading of units everywhere ----------------------
#
# Sizes are binary, as LVM's own units (`--units g` is GiB): 10K = 10240 bytes, 512M, 20G, 1.5T;
# a trailing B or iB is accepted (20GB, 20GiB mean 20G); a plain number is bytes. Durations:
# 90s, 15m, 2h, 1d; a plain number is seconds. Percentages: 10%, where the option takes them.

SIZE_UNITS = {"": 1, "b": 1, "k": KIB, "m": KIB**2, "g": KIB**3, "t": KIB**4, "p": KIB**5}
TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NUMBER = r"(\d{1,20}(?:\.\d{1,20})?)"


def _unit_value(text: str, kind: str, percent: bool) -> tuple[float, bool]:
    """(the value in base units, whether it was a percentage) of one number with its unit."""
    import re

    word = text.strip()
    if kind == "bytes":
        m = re.fullmatch(_NUMBER + r"\s*(?:([kmgtp])(?:i?b)?|(b)|(%))?", word, re.I)
        if m and m.group(4):
            if not percent:
                raise ValueError(f"{text!r}: a percentage does not apply here; give a size (10G)")
            return float(m.group(1)), True
        if m:
            unit = (m.group(2) or m.group(3) or "").lower()
            return float(m.group(1)) * SIZE_UNITS[unit], False
        raise ValueError(f"{text!r} is not a size: give bytes or 10K, 512M, 20G, 1T")
    if kind == "seconds":
        m = re.fullmatch(_NUMBER + r"\s*([smhd])?", word, re.I)
        if m:
            return float(m.group(1)) * TIME_UNITS[(m.group(2) or "").lower()], False
        raise ValueError(f"{text!r} is not a duration: give seconds or 90s, 15m, 2h, 1d")
    m = re.fullmatch(_NUMBER + r"\s*%?", word)
    if m and float(m.group(1)) <= 100:
        return float(m.group(1)), True
    raise ValueError(f"{text!r} is not a percentage from 0 to 100 (50 or 50%)")


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def size_bytes(text: str) -> int:
    """A size with an optional unit (see above) in bytes."""
    return int(_unit_value(text, "bytes", False)[0])


def duration_seconds(text: str) -> int:
    """A duration with an optional unit (see above) in seconds."""
    return int(_unit_value(text, "seconds", False)[0])


def unit_range(text: str, kind: str) -> str:
    """A Nagios range whose numbers carry units (`10G`, `@1G:10G`, `~:15m`, `50%:`) as the
    plain range nagiosplugin reads, in base units (bytes, seconds, percent). kind: "bytes",
    "seconds" or "percent". ValueError names what to give instead."""
    raw = text.strip()
    body = raw[1:] if raw.startswith("@") else raw
    start, sep, end = body.partition(":")
    parts = []
    for number in (start, end) if sep else (start,):
        if number in ("", "~") and (sep or number == ""):
            if not sep and number == "":
                raise ValueError(f"{text!r}: an empty range")
            parts.append(number)
            continue
        parts.append(_plain_number(_unit_value(number, kind, kind == "percent")[0]))
    bounded = sep and parts[0] not in ("", "~") and parts[1] not in ("", "~")
    if bounded and float(parts[0]) > float(parts[1]):
        raise ValueError(f"{text!r}: the start of the range is above its end")
    return ("@" if raw.startswith("@") else "") + ":".join(parts)


def free_space(text: str) -> tuple[float | None, int | None]:
    """A minimum of free space: (percent, None) for `10%`, (None, bytes) for `20G`, `512M`,
    `20B`. A bare number is refused: 10 could mean 10 %, 10 GiB or 10 bytes."""
    word = text.strip()
    if word.endswith("%"):
        return _unit_value(word, "percent", True)[0], None
    if is_count(word) and word != "0":
        raise ValueError(
            f"{text!r} is ambiguous for free space: give a percentage (10%) or a size "
            f"(20G, 512M; bytes as {word}B)"
        )
    return None, size_bytes(word)
