#!/usr/bin/env python3
"""check_drbd: DRBD replication health. Installed as `check_drbd` by `pip install .`."""

from kvmcluster.checks.drbd import main

if __name__ == "__main__":
    main()
