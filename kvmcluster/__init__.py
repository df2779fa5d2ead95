"""kvmcluster: checks, incident overview and config generator for KVM clusters on DRBD and LVM."""

__version__ = "0.1.0"
