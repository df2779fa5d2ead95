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
            except ParseError:
                raise
            except DATA_ERRORS as exc:
                source = kwargs.get(source_arg, args[0] if args else default_source)
                raise ParseError(str(source or "input"), reason_of(exc)) from None

        return run

    return decorate


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
