"""A program that misbehaves on purpose, run by tests/fuzz.py's machinery in tests/test_fuzz.py
to show that each failure a fuzz case can have is seen, in process as in a standalone run.
The first argument says how to misbehave; it is never installed as a command."""

from __future__ import annotations

import os
import signal
import sys
import time


def main() -> None:
    how = sys.argv[1]
    if how == "ok":
        print("PROBE OK - fine")
    elif how == "traceback":
        raise ValueError("not caught")
    elif how == "exit7":
        print("PROBE OK - but exit 7")
        sys.exit(7)
    elif how == "internal":
        print("PROBE UNKNOWN - internal error: ValueError: boom")
        sys.exit(3)
    elif how == "slow":
        time.sleep(2.5)
        print("PROBE OK - late")
    elif how == "silent":
        sys.exit(0)
    elif how == "two-lines":
        print("PROBE UNKNOWN - first\nsecond")
        sys.exit(3)
    elif how == "signal":
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    elif how == "stderr-traceback":
        print("PROBE OK - fine")
        print("Traceback (most recent call last):", file=sys.stderr)
