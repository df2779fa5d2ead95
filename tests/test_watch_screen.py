"""The status screen on a real terminal: `status --watch` in a real tmux of 80x24 keeps the header
and the worst areas on screen, cuts the rest with a count and never wraps; columns line up with
colours on; NO_COLOR and TERM=dumb turn colours off; --from says the capture's own time."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kvmcluster.output.status import capture_time, colour_wanted
from tests.plugin_runner import REPO, plugin_command, run_plugin

SPLIT = REPO / "examples" / "captures" / "split-brain"
SGR = re.compile(r"\x1b\[[0-9;]*m")
TMUX = shutil.which("tmux")


class Tmux:
    """A tmux server of our own (its own socket, no config), killed at the end."""

    def __init__(self):
        self.socket = f"kvmE21-{os.getpid()}-{time.monotonic_ns()}"

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [TMUX, "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def start(self, command: list[str], env: dict[str, str]) -> None:
        words = ["env", "-u", "NO_COLOR", *(f"{k}={v}" for k, v in env.items()), *command]
        started = self("new-session", "-d", "-x", "80", "-y", "24", "--", *words)
        assert started.returncode == 0, started.stderr

    def screen(self, *flags: str, until: str = "kvmcluster status:") -> list[str]:
        end = time.monotonic() + 20
        while True:
            shot = self("capture-pane", "-p", *flags)
            lines = shot.stdout.splitlines()
            if any(until in SGR.sub("", line) for line in lines) or time.monotonic() > end:
                return lines
            time.sleep(0.2)

    def kill(self) -> None:
        self("kill-server")
        # tmux leaves its socket behind: remove ours (tmux-UID under TMUX_TMPDIR or /tmp)
        directory = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (directory / self.socket).unlink(missing_ok=True)


@pytest.fixture
def tmux():
    server = Tmux()
    try:
        yield server
    finally:
        server.kill()


def _watch(tmux: Tmux, capture: Path, env: dict[str, str] | None = None) -> None:
    command = [*plugin_command("kvmcluster"), "status", "--from", str(capture), "--watch", "1"]
    tmux.start(command, {"TERM": "screen", **(env or {})})


@pytest.mark.real
@pytest.mark.skipif(TMUX is None, reason="tmux")
def test_watch_fits_an_80x24_terminal_worst_areas_first_and_nothing_wraps(tmux):
    _watch(tmux, SPLIT)
    screen = tmux.screen(until="more line")
    text = "\n".join(screen)
    assert len(screen) <= 24, text
    assert screen[0].startswith("kvmcluster status: CRITICAL   node node05.c01.cloud.agarik.com")
    assert screen[1].startswith(f"capture {SPLIT}"[:40]), text  # the header's second half
    assert screen[2].startswith("DRBD                     CRITICAL  drbd0 StandAlone"), text
    assert any(line.startswith("    critical drbd0 (minor 0)") for line in screen), text
    for title in ("VM allocation", "Quorum and membership", "Daemons", "LVM on DRBD"):
        assert any(line.startswith(title) for line in screen), (title, text)
    assert re.search(r"^\.\.\. \d+ more lines?, resize or -v$", text, re.M), text
    # nothing wraps: each line is cut one column short of the width, with a mark
    assert max(len(line) for line in screen) <= 79, text
    assert any(line.endswith(">") for line in screen), text


@pytest.mark.real
@pytest.mark.skipif(TMUX is None, reason="tmux")
def test_columns_line_up_with_colours_on(tmux):
    _watch(tmux, SPLIT)
    coloured = tmux.screen("-e", until="more line")
    assert any(SGR.search(line) for line in coloured), "colours are on in tmux"
    plain = [SGR.sub("", line) for line in coloured]
    findings = [line for line in plain if re.match(r"^    (critical|warning|unknown|ok) ", line)]
    assert {line.split()[0] for line in findings} >= {"critical", "warning"}, plain
    assert {line[13:14] != " " and line[12] == " " for line in findings} == {True}, findings
    titles = [line for line in plain if re.match(r"^\S.{23} (CRITICAL|WARNING|OK) ", line)]
    assert len(titles) >= 5, plain
    assert {line[35] != " " and line[34] == " " for line in titles} == {True}, titles


@pytest.mark.real
@pytest.mark.skipif(TMUX is None, reason="tmux")
@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"NO_COLOR": ""}, {"TERM": "dumb"}])
def test_no_color_and_a_dumb_terminal_get_no_colours(tmux, env):
    _watch(tmux, SPLIT, env)
    coloured = tmux.screen("-e", until="more line")
    assert coloured and not any(SGR.search(line) for line in coloured), coloured


def test_colour_decision():
    class Tty:
        def isatty(self):
            return True

    class Pipe:
        def isatty(self):
            return False

    assert colour_wanted(Tty(), False, {"TERM": "xterm"})
    assert not colour_wanted(Pipe(), False, {"TERM": "xterm"})
    assert not colour_wanted(Tty(), True, {"TERM": "xterm"})
    assert not colour_wanted(Tty(), False, {"TERM": "xterm", "NO_COLOR": ""})
    assert not colour_wanted(Tty(), False, {"TERM": "dumb"})


def test_from_says_the_capture_time_of_its_manifest(tmp_path):
    capture = tmp_path / "with-manifest"
    shutil.copytree(SPLIT, capture)
    manifest = {"version": 1, "started": "2026-11-25T03:14:00+0100", "inputs": []}
    (capture / "MANIFEST.json").write_text(json.dumps(manifest))
    run = run_plugin("kvmcluster", "status", "--from", str(capture), "--no-color")
    assert run.returncode == 2
    assert run.stdout.splitlines()[0].endswith(", captured 2026-11-25 03:14:00 +0100"), run.stdout
    bare = run_plugin("kvmcluster", "status", "--from", str(SPLIT), "--no-color")
    assert bare.stdout.splitlines()[0].endswith(f"capture {SPLIT}, capture time unknown")
    assert capture_time("yesterday\x1b[2J") == "capture time unknown"  # data, never printed raw
    assert capture_time(None) == "capture time unknown"
