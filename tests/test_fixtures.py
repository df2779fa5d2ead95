"""Every fixture is a case a user can meet, so every one is exercised by some test."""

import fnmatch
import re
from pathlib import Path

from tests.plugin_runner import FIXTURES

PROVENANCE = "SOURCES.md"  # where each fixture comes from: not a fixture itself


def test_every_fixture_is_used_by_a_test():
    here = Path(__file__).parent
    used = "".join(p.read_text() for p in here.glob("test_*.py") if p.name != "test_fixtures.py")
    globs = re.findall(r'glob\("([^"]+)"\)', used)  # tests that take every fixture of a kind
    unused = [
        p.name
        for p in FIXTURES.iterdir()
        if p.is_file()
        and p.name != PROVENANCE
        and p.name not in used
        and not any(fnmatch.fnmatch(p.name, g) for g in globs)
    ]
    assert not unused, f"fixtures not used by any test: {unused}"


def test_fixture_names_say_command_and_scenario():
    for path in FIXTURES.iterdir():
        if path.is_file() and path.name != PROVENANCE:
            command, sep, scenario = path.stem.partition("_")
            assert sep and command and scenario, f"{path.name}: name it <command>_<scenario>.<ext>"
