"""libvirt-python is optional: only check_vm_alloc, `check_cluster_lvm --libvirt`, status
and collect read hypervisors. A node that only runs check_drbd needs neither a compiler nor
the libvirt headers. This is the one place that imports it and says what to install."""

from __future__ import annotations

from kvmcluster.errors import SourceError

INSTALL_HINT = (
    "install the python3-libvirt package (Debian, Ubuntu, RHEL, Rocky), "
    "or pip install 'kvmcluster[libvirt]' in a venv (needs gcc, pkg-config and the libvirt headers)"
)


def missing_reason(exc: ImportError) -> str:
    """One line: what failed and what to install."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return f"libvirt-python is not installed ({detail}): {INSTALL_HINT}"


def import_libvirt():
    """The libvirt module, or a SourceError (one UNKNOWN line) saying what to install."""
    try:
        import libvirt
    except ImportError as exc:
        raise SourceError(missing_reason(exc)) from None
    return libvirt
