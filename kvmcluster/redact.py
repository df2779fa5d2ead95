"""Secrets out of captured text, before `kvmcluster collect` writes it (pure functions).

A value is replaced by MARKER and nothing else changes: lines, quoting and layout stay, so
every parser reads the redacted file as it read the raw one (line numbers included). What is
redacted:

- XML (cluster.conf, the CIB, crm_mon): every attribute whose name looks like a secret
  (fence devices' `passwd`, `password`, `login`, `username`, `passwd_script`, `community`,
  `snmp_priv_passwd` ...), and the `value` of every `<nvpair>` whose `name` looks like one
  (stonith and other primitives' instance attributes);
- DRBD configs (drbd.conf, drbd.d/*.res): `shared-secret` (quoted or bare);
- corosync.conf: the totem `key:` (a shared key written in the file instead of the authkey);
- process lists: `--password=X`-like options, and `-p`/`-l`/`-c` of fence agents.

The corosync authkey is never captured.
"""

from __future__ import annotations

import re

MARKER = "REDACTED"

# a name is a secret's when its last part (split at - _ . :) is one of these words
# (ipmi_password, login, username), or when it has passw(or)d, secret or community anywhere
# (snmp_priv_passwd, passwd_script, shared-secret); `key` only as `key`, `api_key`,
# `private_key` and the like (not operation_key, transition-key)
_SECRET_WORDS = {
    "passwd",
    "password",
    "passphrase",
    "pass",
    "pwd",
    "secret",
    "community",
    "login",
    "username",
    "user",
    "authkey",
    "apikey",
    "credential",
    "credentials",
    "psk",
}
_KEY_KINDS = {"api", "auth", "private", "priv", "access", "ssh", "identity", "encryption", "crypt"}
_SECRET_INSIDE = re.compile(r"passw(?:or)?d|secret|community", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    parts = [p for p in re.split(r"[-_.:\s]+", name.lower()) if p]
    if not parts:
        return False
    if parts[-1] in _SECRET_WORDS or _SECRET_INSIDE.search(name):
        return True
    return parts[-1] == "key" and (len(parts) == 1 or parts[-2] in _KEY_KINDS)


_ATTRIBUTE = re.compile(r"""(\s)([A-Za-z_][\w.:-]*)(\s*=\s*)(["'])(.*?)\4""", re.DOTALL)
_NVPAIR = re.compile(r"""<nvpair\b(?:[^>"']|"[^"]*"|'[^']*')*>""")
_NVPAIR_NAME = re.compile(r"""\sname\s*=\s*(["'])(.*?)\1""", re.DOTALL)
_NVPAIR_VALUE = re.compile(r"""(\svalue\s*=\s*)(["'])(.*?)\2""", re.DOTALL)


def redact_xml(text: str) -> tuple[str, int]:
    """(text, how many values were replaced)."""
    count = 0

    def attribute(match: re.Match) -> str:
        nonlocal count
        space, name, equals, quote, value = match.groups()
        if not is_secret_name(name) or value in ("", MARKER):
            return match.group(0)
        count += 1
        return f"{space}{name}{equals}{quote}{MARKER}{quote}"

    def nvpair(match: re.Match) -> str:
        nonlocal count
        tag = match.group(0)
        name = _NVPAIR_NAME.search(tag)
        value = _NVPAIR_VALUE.search(tag)
        if not (name and value and is_secret_name(name.group(2))):
            return tag
        if value.group(3) in ("", MARKER):
            return tag
        count += 1
        return tag[: value.start(3)] + MARKER + tag[value.end(3) :]

    text = _NVPAIR.sub(nvpair, text)
    text = _ATTRIBUTE.sub(attribute, text)
    return text, count


_SHARED_SECRET = re.compile(r"""(\bshared-secret\s+)("(?:[^"\\\n]|\\.)*"|[^\s;{}"]+)""")


def redact_drbd_conf(text: str) -> tuple[str, int]:
    count = 0

    def secret(match: re.Match) -> str:
        nonlocal count
        keyword, value = match.groups()
        if value.strip('"') == MARKER:
            return match.group(0)
        count += 1
        return keyword + (f'"{MARKER}"' if value.startswith('"') else MARKER)

    return _SHARED_SECRET.sub(secret, text), count


_LONG_OPTION = re.compile(r"(--?[A-Za-z][\w-]*)(=|\s+)(\S+)")
_FENCE_SHORT = re.compile(r"(\s-[plcS])(\s*)(\S+)")


def redact_ps(text: str) -> tuple[str, int]:
    """Secrets on command lines (a fence agent given -p PASSWORD, a --password=X option)."""
    count = 0

    def long_option(match: re.Match) -> str:
        nonlocal count
        option, sep, value = match.groups()
        if not is_secret_name(option.lstrip("-")) or value.startswith("-") or value == MARKER:
            return match.group(0)
        count += 1
        return f"{option}{sep}{MARKER}"

    def short_option(match: re.Match) -> str:
        nonlocal count
        if match.group(3) == MARKER:
            return match.group(0)
        count += 1
        return f"{match.group(1)}{match.group(2)}{MARKER}"

    lines = []
    for line in text.splitlines(keepends=True):
        line = _LONG_OPTION.sub(long_option, line)
        if re.search(r"(?:^|[\s/])fence_\w+", line):
            line = _FENCE_SHORT.sub(short_option, line)
        lines.append(line)
    return "".join(lines), count


_COROSYNC_KEY = re.compile(r"^(\s*key\s*:\s*)(\S.*?)(\s*(?:#.*)?)$", re.MULTILINE)


def redact_corosync_conf(text: str) -> tuple[str, int]:
    """corosync.conf's `key: ...` (totem's shared key, when not in the authkey file)."""
    count = 0

    def key(match: re.Match) -> str:
        nonlocal count
        if match.group(2) == MARKER:
            return match.group(0)
        count += 1
        return match.group(1) + MARKER + match.group(3)

    return _COROSYNC_KEY.sub(key, text), count


def redact(name: str, text: str) -> tuple[str, int]:
    """A captured file's text (by its name in the capture) with its secrets replaced."""
    if name == "drbd.conf" or name.startswith("drbd.d/"):
        return redact_drbd_conf(text)
    if name == "cluster.conf" or name.endswith(".xml"):
        return redact_xml(text)
    if name == "ps.txt":
        return redact_ps(text)
    if name == "corosync.conf":
        return redact_corosync_conf(text)
    return text, 0
