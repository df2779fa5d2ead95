"""The fuzz run of tests/fuzz.py: mutated fixtures, captures and configs given to every plugin
input, `kvmcluster status --from`, `lint`, `import` and `generate`; none may end in a traceback,
an exit outside 0-3, "internal error" or a run past -t + 1 s.

CI (HYPOTHESIS_PROFILE=ci) runs a fixed seed and a small count; by hand the seed is random
(printed on failure: FUZZ_SEED=N reproduces it). FUZZ_COUNT sets the count (default 250 times
ROBUSTNESS_SCALE), e.g. `FUZZ_COUNT=5000 .venv/bin/python -m pytest tests/test_fuzz.py`, or run
`python -m tests.fuzz --count 5000 --save DIR` for a report and the failing inputs."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import fuzz
from tests.plugin_runner import REPO

SCALE = int(os.environ.get("ROBUSTNESS_SCALE", "1"))  # see tests/conftest.py
COUNT = int(os.environ.get("FUZZ_COUNT", str(250 * SCALE)))
CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"


def test_fuzzed_inputs_give_no_traceback_no_internal_error_and_answer_in_time():
    seed = int(os.environ.get("FUZZ_SEED", "1" if CI else str(random.randrange(1_000_000))))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz", "--count", str(COUNT), "--seed", str(seed), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600 + COUNT,
    )
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["count"] == COUNT
    failures = [
        f"case {f['case']}: {f['label']} {f['mutations']}: {', '.join(f['problems'])}: "
        f"{f['first_line'][:200]!r} {f['stderr'][-300:]!r}"
        for f in summary["failures"]
    ]
    assert not failures, (
        f"FUZZ_SEED={seed}: {len(failures)} of {COUNT} failed (python -m tests.fuzz "
        f"--seed {seed} --count {COUNT} --save DIR keeps the inputs):\n" + "\n".join(failures)
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_kind_of_input_is_fuzzed():
    """Each plugin option that reads a file, every capture and the lint inputs have cases."""
    with_cases = {(program, option) for program, option, _, _ in fuzz.PLUGIN_TARGETS}
    options_seen: set[tuple[str, str]] = set()
    for program in fuzz.ENTRY_POINTS:
        if program == "kvmcluster":
            continue
        help_text = subprocess.run(
            [str(Path(sys.executable).parent / program), "-h"], capture_output=True, text=True
        ).stdout
        options = {
            word.rstrip(",")
            for word in help_text.split()
            if word.startswith("--") and word.rstrip(",").endswith(("-file", "-conf"))
        }
        options_seen.update((program, o) for o in options)
        missing = {o for o in options if (program, o) not in with_cases}
        assert not missing, f"{program}: no fuzz cases for {sorted(missing)}"
    inputs = fuzz.Inputs.__new__(fuzz.Inputs)
    inputs.fixtures = sorted(p for p in fuzz.FIXTURES.iterdir() if p.is_file())
    for program, option, prefix, _ in fuzz.PLUGIN_TARGETS:
        if (program, option) in options_seen:
            assert inputs.matching(prefix), f"no fixture named {prefix}*"


# --- the harness sees every failure, in process as in a standalone run -----------------------

PROBES = {
    "ok": [],
    "traceback": ["traceback", "no output"],
    "exit7": ["exit 7"],
    "internal": ["internal error"],
    "slow": ["took"],
    "silent": ["no output"],
    "two-lines": ["UNKNOWN in more than one line"],
    "signal": ["killed by signal 11", "no output"],
    "stderr-traceback": ["traceback"],
}


@pytest.mark.parametrize("standalone", [False, True], ids=["forked", "standalone"])
@pytest.mark.parametrize("how", sorted(PROBES))
def test_the_harness_sees_each_failure(tmp_path, monkeypatch, how, standalone):
    monkeypatch.setattr(fuzz, "TIMEOUT", 1)  # -t 1: a run may take 2 s, the slow probe 2.5 s
    target = tmp_path / f"case-{0}" / "input"
    case = fuzz.Case(0, "fuzz-probe", [how, "-t", "1"], {target: b""}, [], how)
    run = fuzz.start(case, tmp_path, standalone)
    started = time.monotonic()
    (done,) = fuzz._wait_any([run], standalone)
    result = fuzz.judge(done[0], done[1], done[2])
    assert time.monotonic() - started < 15
    expected = PROBES[how]
    assert len(result["problems"]) == len(expected), result
    for problem, wanted in zip(result["problems"], expected):
        assert problem.startswith(wanted), result
