#!/usr/bin/env python3
"""check_cluster. Installed as `check_cluster` by `pip install .`."""

from kvmcluster.checks.cluster import main

if __name__ == "__main__":
    main()
