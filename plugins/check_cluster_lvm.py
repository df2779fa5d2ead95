#!/usr/bin/env python3
"""check_cluster_lvm. Installed as `check_cluster_lvm` by `pip install .`."""

from kvmcluster.checks.lvm import main

if __name__ == "__main__":
    main()
