"""LVM configuration checks (filter, clustered locking) shared by lint and check_cluster_lvm."""

from __future__ import annotations


def lint_lvm_conf(ctx, path: str, text: str, drbd_conf: str | None) -> None:
    from kvmcluster.rules.lvm import config_problems

    for severity, line, message in config_problems(text, path, drbd_conf):
        (ctx.error if severity == "error" else ctx.warning)(path, line, message)
