#!/usr/bin/env python3
"""check_cluster_daemons: the cluster stack's daemons. Installed as `check_cluster_daemons`."""

from kvmcluster.checks.daemons import main

if __name__ == "__main__":
    main()
