"""`--ssh-option`: the ssh -o options a plugin passes on, from an allowlist.

The options come from Icinga variables and NRPE configs, so they are untrusted: an option such
as ProxyCommand, LocalCommand, KnownHostsCommand or Match exec runs a local command, others
forward ports or the agent, read another config (Include) or move the control socket. Only
options that change how the one connection is made are accepted, each with a validated value;
the rest belongs in the monitoring user's ~/.ssh/config, which the admin controls.

Names are case-insensitive as in ssh (`proxycommand=...` is ProxyCommand), in `Key=value` or
`Key value` form. Values carry no whitespace, quotes, `%` tokens, `${}` variables or
backslashes: nothing ssh would expand.
"""

from __future__ import annotations

import re

from kvmcluster.errors import SourceError

_FORM = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(?:=| )(.+)$", re.DOTALL)
_PATH = re.compile(r"^(?:/|~/)[A-Za-z0-9._/+@-]*$")
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])"
_USER = r"[a-z_][a-z0-9_.-]{0,31}"
_JUMP = re.compile(rf"^(?:{_USER}@)?{_HOST}(?::([0-9]{{1,5}}))?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


def _number(low: int, high: int):
    def check(value: str) -> bool:
        return value.isascii() and value.isdigit() and len(value) < 7 and low <= int(value) <= high

    return check


def _choice(*words: str):
    return lambda value: value.lower() in words


def _path(value: str) -> bool:
    return bool(_PATH.match(value)) and "/../" not in value + "/"


def _jumps(value: str) -> bool:
    if value.lower() == "none":
        return True
    hops = value.split(",")
    if not 0 < len(hops) <= 8:
        return False
    for hop in hops:
        match = _JUMP.match(hop)
        if not match or (match.group(1) and not 1 <= int(match.group(1)) <= 65535):
            return False
    return True


_YES_NO = _choice("yes", "no")

# canonical name -> (value check, what a valid value looks like)
ALLOWED = {
    "Port": (_number(1, 65535), "a port number 1-65535"),
    "User": (lambda v: bool(re.match(rf"^{_USER}$", v)), "a user name"),
    "IdentityFile": (_path, "an absolute or ~/ path"),
    "UserKnownHostsFile": (_path, "an absolute or ~/ path"),
    "ConnectTimeout": (_number(1, 3600), "seconds 1-3600"),
    "ConnectionAttempts": (_number(1, 10), "a count 1-10"),
    "StrictHostKeyChecking": (_choice("yes", "no", "accept-new"), "yes, no or accept-new"),
    "ProxyJump": (_jumps, "[USER@]HOST[:PORT] hops separated by commas, or none"),
    "ServerAliveInterval": (_number(0, 3600), "seconds 0-3600"),
    "ServerAliveCountMax": (_number(0, 100), "a count 0-100"),
    "IdentitiesOnly": (_YES_NO, "yes or no"),
    "CheckHostIP": (_YES_NO, "yes or no"),
    "Compression": (_YES_NO, "yes or no"),
    "HostKeyAlias": (lambda v: bool(_NAME.match(v)), "a host name"),
    "AddressFamily": (_choice("any", "inet", "inet6"), "any, inet or inet6"),
}
_BY_LOWER = {name.lower(): name for name in ALLOWED}


def _shown(text: str) -> str:
    """The option as the error line may show it: printable, short."""
    return repr(text[:60] + ("..." if len(text) > 60 else ""))


def validate_option(option: str) -> str:
    """The option as `Name=value` with ssh's own spelling of the name; SourceError otherwise."""
    match = _FORM.match(option)
    if not match:
        raise SourceError(f"--ssh-option {_shown(option)}: expected Key=value (an ssh -o option)")
    key, value = match.groups()
    name = _BY_LOWER.get(key.lower())
    if name is None:
        raise SourceError(
            f"--ssh-option {key[:40]}: not allowed (allowed: {', '.join(ALLOWED)}; "
            "anything else goes in the monitoring user's ~/.ssh/config)"
        )
    check, expected = ALLOWED[name]
    if not value.isprintable() or any(ch.isspace() for ch in value) or not check(value):
        raise SourceError(f"--ssh-option {name}: value {_shown(value)} is not {expected}")
    return f"{name}={value}"


def validate_options(options: list[str] | None) -> list[str]:
    return [validate_option(option) for option in options or []]
