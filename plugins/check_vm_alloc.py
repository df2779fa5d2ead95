#!/usr/bin/env python3
"""check_vm_alloc. Installed as `check_vm_alloc` by `pip install .`."""

from kvmcluster.checks.vm_alloc import main

if __name__ == "__main__":
    main()
