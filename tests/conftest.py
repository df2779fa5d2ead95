"""Hypothesis is random by default (each local run explores new inputs); CI sets
HYPOTHESIS_PROFILE=ci for a fixed sequence, so a landing never depends on luck.
ROBUSTNESS_SCALE=20 runs the robustness suite with 20 times the examples (before a release, or
after touching a parser)."""

from __future__ import annotations

import os
import signal

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# A run started in the background by a shell (CI, `sh .ci/run &`) inherits SIGINT ignored, and
# an ignored signal stays ignored across exec: the tests that end `status --watch` with ^C
# (SIGINT) would wait for ever. A handler here is reset to the default in every child at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
