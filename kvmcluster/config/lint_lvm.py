"""LVM configuration checks (filter, clustered locking) shared by lint and check_cluster_lvm."""

from __future__ import annotations


def lint_lvm_conf(ctx, path: str, text: str, drbd_conf: str | None) -> None:
    from kvmcluster.errors import ParseError
    from kvmcluster.parsers.drbd_conf import backing_devices
    from kvmcluster.parsers.lvm import parse_lvm_config
    from kvmcluster.rules.lvm import config_problems
    from kvmcluster.sources.drbd_conf import read_drbd_conf

    try:
        config = parse_lvm_config(text, path)
    except ParseError as exc:
        ctx.error(path, exc.line, exc.reason)
        return
    devices = backing_devices(read_drbd_conf(drbd_conf), set()) if drbd_conf else []
    for severity, line, message in config_problems(config, devices):
        (ctx.error if severity == "error" else ctx.warning)(path, line, message)
