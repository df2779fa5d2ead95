#!/usr/bin/env python3
"""check_kvmcluster. Installed as `check_kvmcluster` by `pip install .`."""

from kvmcluster.checks.kvmcluster import main

if __name__ == "__main__":
    main()
