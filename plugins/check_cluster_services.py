#!/usr/bin/env python3
"""check_cluster_services. Installed as `check_cluster_services` by `pip install .`."""

from kvmcluster.checks.services import main

if __name__ == "__main__":
    main()
