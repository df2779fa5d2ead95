"""Hypothesis is random by default (each local run explores new inputs); CI sets
HYPOTHESIS_PROFILE=ci for a fixed sequence, so a landing never depends on luck.
ROBUSTNESS_SCALE=20 runs the robustness suite with 20 times the examples (before a release, or
after touching a parser)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
