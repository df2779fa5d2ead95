"""Where the DRBD state comes from: a captured file, /proc/drbd, or drbdsetup."""

from __future__ import annotations

import os

from kvmcluster.errors import SourceError
from kvmcluster.model.drbd import ConfiguredResource, DrbdStatus
from kvmcluster.parsers.drbd_proc import parse_proc_drbd
from kvmcluster.runtime.command import command_failure
from kvmcluster.sources.files import input_label, read_text

PROC_DRBD = "/proc/drbd"
DEFAULT_DRBD_CONF = "/etc/drbd.conf"
STATUS_JSON_ARGV = ["drbdsetup", "status", "--json", "--statistics"]
EVENTS2_ARGV = ["drbdsetup", "events2", "--now", "--statistics", "all"]


def load_drbd_status(
    node,
    proc_file: str | None = None,
    json_file: str | None = None,
    events_file: str | None = None,
    sudo: bool = False,
    status_file: str | None = None,
) -> DrbdStatus:
    """The first input given wins; with none, read the live state of `node`."""
    if status_file:
        from kvmcluster.parsers.drbd_status import parse_status_text

        text = read_text(status_file, "--status-file")
        return parse_status_text(text, input_label(status_file))
    if json_file:
        from kvmcluster.parsers.drbd_json import parse_status_json

        return parse_status_json(read_text(json_file, "--json-file"), input_label(json_file))
    if events_file:
        from kvmcluster.parsers.drbd_events import parse_events2

        return parse_events2(read_text(events_file, "--events-file"), input_label(events_file))
    if proc_file:
        status = parse_proc_drbd(read_text(proc_file, "--proc-file"), input_label(proc_file))
        if status.is_drbd9_without_resources:
            raise SourceError(
                f"{status.source} is from DRBD {status.version}, which lists no resources there: "
                "capture `drbdsetup status --json --statistics` and use --json-file"
            )
        return status
    return _load_live(node, sudo)


def _load_live(node, sudo: bool) -> DrbdStatus:
    text = node.read(PROC_DRBD)
    if text is None:
        return DrbdStatus(source=PROC_DRBD, loaded=False)
    status = parse_proc_drbd(text, PROC_DRBD)
    if not status.is_drbd9_without_resources:
        return status
    from kvmcluster.parsers.drbd_events import parse_events2
    from kvmcluster.parsers.drbd_json import parse_status_json

    result = node.run(STATUS_JSON_ARGV, sudo=sudo, ok_codes=None)
    if result.returncode == 0:
        parsed = parse_status_json(result.stdout, " ".join(STATUS_JSON_ARGV))
    elif _json_rejected(result.stderr):
        # drbd-utils without --json (or an 8.4 kernel behind drbd-utils 9): use events2.
        events = node.run(EVENTS2_ARGV, sudo=sudo)
        parsed = parse_events2(events.stdout, " ".join(EVENTS2_ARGV))
    else:
        raise command_failure(result, sudo=sudo)
    parsed.version = status.version
    return parsed


def _json_rejected(stderr: str) -> bool:
    text = stderr.lower()
    return "json" in text or "unrecognized option" in text or "invalid option" in text


REMOTE_DRBD_CONF_ARGV = [
    "sh",
    "-c",
    "cat /etc/drbd.conf /etc/drbd.d/*.conf /etc/drbd.d/*.res 2>/dev/null",
]


def node_drbd_conf(node):
    """The checked node's DRBD config, None when it has none. Remotely, drbd.conf and the
    files of drbd.d arrive concatenated (their `include` lines then find nothing here)."""
    from kvmcluster.parsers.drbd_conf import DrbdConfig, parse_drbd_conf_text
    from kvmcluster.sources.drbd_conf import read_drbd_conf

    if not node.remote:
        return read_drbd_conf(DEFAULT_DRBD_CONF) if os.path.exists(DEFAULT_DRBD_CONF) else None
    result = node.run(REMOTE_DRBD_CONF_ARGV, ok_codes=None)
    if not result.stdout.strip():
        return None
    source = f"{node.name}:{DEFAULT_DRBD_CONF}"
    return DrbdConfig(parse_drbd_conf_text(result.stdout, source, follow_includes=False))


def local_hostnames(node) -> set[str]:
    """The names of the node being checked (the remote one with --ssh)."""
    name = node.name
    return {name, name.split(".")[0]}


def load_configured_resources(
    node, path: str | None, live: bool, hostnames: set[str] | None = None
) -> list[ConfiguredResource] | None:
    """Resources from drbd.conf, or None when no config is to be used.

    An explicit path must be readable. Without one, /etc/drbd.conf is used for live checks
    only, and only when it exists: a captured state is not compared with this host's config.
    """
    if path is None and not live:
        return None
    from kvmcluster.parsers.drbd_conf import configured_resources
    from kvmcluster.sources.drbd_conf import read_drbd_conf

    if path is None:
        config = node_drbd_conf(node)
        if config is None:
            return None
    else:
        config = read_drbd_conf(path)
    found = configured_resources(config, local_hostnames(node) if hostnames is None else hostnames)
    if not found:
        # A config copied from another node: none of its `on` sections names this host.
        found = configured_resources(config, set())
    return found
