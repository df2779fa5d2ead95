"""An Icinga Director basket generated from icinga/commands.conf and the check table of
icinga/services.conf (KvmclusterChecks): the same definitions the plain Icinga 2 config uses,
so the two cannot drift. Never edit icinga/director-basket.json by hand:

    python3 -m kvmcluster.config.director --output icinga/director-basket.json

The basket holds every CheckCommand (its imports resolved: Director commands with their
arguments and default vars), a Datafield per command variable, and one ServiceTemplate per
check and deployment mode (agent, ssh, nrpe). Hosts, the cluster host and the apply rules are
made in the Director from these templates (README, section "Icinga Director").

The reader accepts exactly the layout of those files (one attribute per line, tab-indented)
and raises ParseError, with the line, on anything else: a change to the files that this
reader does not understand fails the test that compares the committed basket.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid

from kvmcluster.errors import ParseError

ICINGA_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "icinga")
UUID_NAMESPACE = uuid.UUID("6c1f3b4e-5d2a-4f7e-9a0b-6b7d8e9f0a1c")  # fixed: stable uuids

_BLOCK = re.compile(r'^(object|template) CheckCommand "([^"]+)" \{$')
_ARG = re.compile(r'^\t\t"(-[^"]+)" = \{$')
_ARG_ATTR = re.compile(r"^\t\t\t(value|set_if|description|repeat_key) = (.+)$")
_IMPORT = re.compile(r'^\timport "([^"]+)"$')
_COMMAND = re.compile(r'^\tcommand = \[ KvmclusterPluginDir \+ "/([^"]+)"((?:, "[^"]+")*) \]$')
_VAR = re.compile(r"^\tvars\.(\w+) = (.+)$")
_TIMEOUT = re.compile(r"^\ttimeout = (\d+)s$")


def _literal(text: str, path: str, line: int):
    """An Icinga 2 literal of these files: "string", number, true/false."""
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r'"(?:[^"\\]|\\.)*"', text):
        return json.loads(text)
    raise ParseError(path, f"not a literal this reader knows: {text}", line)


def _strip_comments(lines: list[str]) -> list[tuple[int, str]]:
    out, in_comment = [], False
    for number, line in enumerate(lines, 1):
        if in_comment:
            if "*/" in line:
                in_comment = False
                line = line.split("*/", 1)[1]
            else:
                continue
        if "/*" in line:
            before, _, after = line.partition("/*")
            if "*/" in after:
                line = before + after.split("*/", 1)[1]
            else:
                line, in_comment = before, True
        line = line.rstrip()
        if line.strip():
            out.append((number, line))
    return out


def parse_commands(text: str, path: str = "commands.conf") -> dict[str, dict]:
    """{name: {"template", "imports", "command", "arguments", "vars", "timeout"}}."""
    commands: dict[str, dict] = {}
    current = None
    argument = None
    for number, line in _strip_comments(text.splitlines()):
        if current is None:
            m = _BLOCK.match(line)
            if not m:
                raise ParseError(path, f"expected a CheckCommand: {line.strip()}", number)
            current = {
                "template": m.group(1) == "template",
                "imports": [],
                "command": None,
                "arguments": {},
                "vars": {},
                "timeout": None,
            }
            commands[m.group(2)] = current
            continue
        if argument is not None:
            m = _ARG_ATTR.match(line)
            if m:
                argument[m.group(1)] = _literal(m.group(2), path, number)
            elif line == "\t\t}":
                argument = None
            else:
                raise ParseError(path, f"unexpected in an argument: {line.strip()}", number)
            continue
        if line in ("\targuments = {", "\targuments += {", "\t}"):
            continue
        if line == "}":
            current = None
            continue
        m = _ARG.match(line)
        if m:
            argument = current["arguments"].setdefault(m.group(1), {})
            continue
        m = _IMPORT.match(line)
        if m:
            current["imports"].append(m.group(1))
            continue
        m = _COMMAND.match(line)
        if m:
            current["command"] = [m.group(1), *re.findall(r'"([^"]+)"', m.group(2))]
            continue
        m = _VAR.match(line)
        if m:
            current["vars"][m.group(1)] = _literal(m.group(2), path, number)
            continue
        m = _TIMEOUT.match(line)
        if m:
            current["timeout"] = int(m.group(1))
            continue
        raise ParseError(path, f"not understood: {line.strip()}", number)
    if current is not None:
        raise ParseError(path, "unterminated CheckCommand")
    return commands


def resolve(commands: dict[str, dict], name: str) -> dict:
    """A command with its imports applied in order (what Icinga builds)."""
    own = commands[name]
    merged = {"command": None, "arguments": {}, "vars": {}, "timeout": None}
    for parent in own["imports"]:
        base = resolve(commands, parent)
        merged["command"] = base["command"] or merged["command"]
        merged["arguments"].update(base["arguments"])
        merged["vars"].update(base["vars"])
        merged["timeout"] = base["timeout"] or merged["timeout"]
    merged["command"] = own["command"] or merged["command"]
    merged["arguments"].update(own["arguments"])
    merged["vars"].update(own["vars"])
    merged["timeout"] = own["timeout"] or merged["timeout"]
    return merged


_CHECK = re.compile(r'^\t"([a-z-]+)" = \{$')
_CHECK_ATTR = re.compile(r"^\t\t(\w+) = (.+)$")


def parse_checks(text: str, path: str = "services.conf") -> dict[str, dict]:
    """The KvmclusterChecks table of services.conf: {service name: {command, nrpe, ...}}."""
    lines = text.splitlines()
    try:
        start = lines.index("const KvmclusterChecks = {")
    except ValueError:
        raise ParseError(path, "no 'const KvmclusterChecks = {' line") from None
    checks: dict[str, dict] = {}
    current = None
    for number, line in _strip_comments(lines[start + 1 :]):
        number += start
        if line == "}":
            return checks
        m = _CHECK.match(line)
        if m and current is None:
            current = checks.setdefault(m.group(1), {})
            continue
        if line == "\t}" and current is not None:
            current = None
            continue
        m = _CHECK_ATTR.match(line)
        if m and current is not None:
            value = m.group(2)
            duration = re.fullmatch(r"(\d+)([smh])", value)
            if duration:
                current[m.group(1)] = (
                    int(duration.group(1)) * {"s": 1, "m": 60, "h": 3600}[duration.group(2)]
                )
            else:
                current[m.group(1)] = _literal(value, path, number)
            continue
        raise ParseError(path, f"not understood in KvmclusterChecks: {line.strip()}", number)
    raise ParseError(path, "KvmclusterChecks is not closed")


def _uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, f"{kind}/{name}"))


def _datatype(argument: dict, default) -> str:
    if "set_if" in argument or isinstance(default, bool):
        return "Icinga\\Module\\Director\\DataType\\DataTypeBoolean"
    if argument.get("repeat_key"):
        return "Icinga\\Module\\Director\\DataType\\DataTypeArray"
    if isinstance(default, int):
        return "Icinga\\Module\\Director\\DataType\\DataTypeNumber"
    return "Icinga\\Module\\Director\\DataType\\DataTypeString"


def _macro(text) -> str | None:
    m = re.fullmatch(r"\$(\w+)\$", str(text))
    return m.group(1) if m else None


def readme_url(constants_text: str, path: str = "constants.conf") -> str:
    m = re.search(r'^const KvmclusterReadmeUrl = ("[^"]*")$', constants_text, re.M)
    if not m:
        raise ParseError(path, 'no const KvmclusterReadmeUrl = "..." line')
    return json.loads(m.group(1))


def basket(commands_text: str, services_text: str, readme: str) -> dict:
    commands = parse_commands(commands_text)
    checks = parse_checks(services_text)
    datafields: dict[str, dict] = {}
    field_ids: dict[str, int] = {}
    out_commands: dict[str, dict] = {}
    for name in sorted(commands):
        if commands[name]["template"]:
            continue
        command = resolve(commands, name)
        if command["command"] is None:
            raise ParseError("commands.conf", f"{name} has no command")
        arguments = {}
        fields = []
        for option in sorted(command["arguments"]):
            spec = command["arguments"][option]
            arguments[option] = {
                k: spec[k] for k in ("value", "set_if", "repeat_key", "description") if k in spec
            }
            var = _macro(spec.get("value", spec.get("set_if", "")))
            if var is None:
                continue
            if var not in field_ids:
                field_ids[var] = len(field_ids) + 1
                datafields[str(field_ids[var])] = {
                    "varname": var,
                    "caption": var.replace("kvmcluster_", "").replace("_", " "),
                    "description": spec.get("description", ""),
                    "datatype": _datatype(spec, command["vars"].get(var)),
                    "format": None,
                    "settings": {"visibility": "visible"},
                    "uuid": _uuid("datafield", var),
                }
            fields.append({"datafield_id": field_ids[var], "is_required": "n", "var_filter": None})
        plugin, *fixed = command["command"]
        out_commands[name] = {
            "arguments": arguments,
            # Director prefixes a relative command with PluginDir; fixed arguments follow it
            "command": " ".join([plugin, *fixed]),
            "disabled": False,
            "fields": fields,
            "imports": [],
            "is_string": None,
            "methods_execute": "PluginCheck",
            "object_name": name,
            "object_type": "object",
            "timeout": command["timeout"],
            "vars": dict(sorted(command["vars"].items())),
            "zone": None,
            "uuid": _uuid("command", name),
        }
    templates: dict[str, dict] = {}
    for service in sorted(checks):
        spec = checks[service]
        variants = {f"kvmcluster-{service}": (spec["command"], True, {})}
        if spec.get("nrpe") is not False:  # nrpe = false: a check NRPE does not run
            variants[f"kvmcluster-{service}-nrpe"] = (
                "nrpe",
                None,
                {"nrpe_command": spec["nrpe"]},
            )
        if spec.get("ssh", True):
            variants[f"kvmcluster-{service}-by-ssh"] = (spec["command"] + "-by-ssh", None, {})
        for template, (check_command, use_agent, variables) in variants.items():
            if check_command != "nrpe" and check_command not in out_commands:
                raise ParseError("services.conf", f"{service}: no CheckCommand {check_command}")
            templates[template] = {
                "check_command": check_command,
                "check_interval": spec.get("check_interval", 60),
                "disabled": False,
                "fields": [],
                "groups": [],
                "imports": [],
                "max_check_attempts": 3,
                "notes_url": f"{readme}#{spec['doc']}",
                "object_name": template,
                "object_type": "template",
                "retry_interval": 30,
                "use_agent": use_agent,
                "vars": variables,
                "uuid": _uuid("servicetemplate", template),
            }
    return {"Command": out_commands, "ServiceTemplate": templates, "Datafield": datafields}


def render(data: dict) -> str:
    return json.dumps(data, indent=4, ensure_ascii=False) + "\n"


def build(icinga_dir: str = ICINGA_DIR) -> str:
    texts = []
    for name in ("commands.conf", "services.conf", "constants.conf"):
        with open(os.path.join(icinga_dir, name), encoding="utf-8") as f:
            texts.append(f.read())
    return render(basket(texts[0], texts[1], readme_url(texts[2])))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python3 -m kvmcluster.config.director",
        description="Write the Icinga Director basket of icinga/commands.conf, services.conf "
        "and constants.conf",
    )
    parser.add_argument("--icinga-dir", default=ICINGA_DIR, help="the icinga/ directory")
    parser.add_argument("--output", "-o", help="write here (atomically) instead of stdout")
    args = parser.parse_args(argv)
    try:
        text = build(args.icinga_dir)
    except (OSError, ParseError) as exc:
        print(f"director basket: {exc}", file=sys.stderr)
        return 1
    if args.output:
        from kvmcluster.config.writer import write_atomic

        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
