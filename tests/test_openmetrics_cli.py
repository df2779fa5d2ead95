"""Issue 22 through the command line: `kvmcluster status --format openmetrics|json|text` and
`--textfile DIR` (written atomically for node_exporter's textfile collector)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from tests.plugin_runner import plugin_command
from tests.test_openmetrics import CAPTURES, parse, value

# --- the command line ----------------------------------------------------------------------------


def kvmcluster(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*plugin_command("kvmcluster"), *args], capture_output=True, text=True, timeout=60, **kwargs
    )


def test_status_format_openmetrics_on_stdout():
    run = kvmcluster("status", "--from", str(CAPTURES[-1]), "--format", "openmetrics")
    assert run.returncode == 2, run.stderr  # the worst state, as with text and JSON
    samples = parse(run.stdout, "openmetrics")
    assert value(samples, "kvmcluster_item_state", item="drbd0", kind="drbd-standalone") == "2"
    assert float(value(samples, "kvmcluster_last_run_timestamp_seconds")) > 1.7e9


def test_status_format_json_is_the_json_of_json():
    capture = str(CAPTURES[0])
    old = json.loads(kvmcluster("status", "--from", capture, "--json").stdout)
    new = json.loads(kvmcluster("status", "--from", capture, "--format", "json").stdout)
    old.pop("generated_at"), new.pop("generated_at")
    assert old == new and old["areas"]
    text = kvmcluster("status", "--from", capture, "--format", "text")
    assert text.stdout.startswith("kvmcluster status: OK")


def test_status_textfile_writes_the_file_atomically(tmp_path):
    directory = tmp_path / "textfile"
    directory.mkdir()
    os.chmod(directory, 0o755)
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (directory / "kvmcluster.prom").symlink_to(victim)  # replaced, never followed
    run = kvmcluster(
        "status",
        "--from",
        str(CAPTURES[-1]),
        "--textfile",
        str(directory),
        env={**os.environ, "UMASK": "077"},
    )
    assert run.returncode == 0, run.stderr  # the state is in the file; the job succeeded
    assert run.stdout == "" and run.stderr == ""
    written = directory / "kvmcluster.prom"
    assert not written.is_symlink() and victim.read_text() == "keep\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert sorted(p.name for p in directory.iterdir()) == ["kvmcluster.prom"]  # no temp left
    samples = parse(written.read_text(), "prometheus")
    assert value(samples, "kvmcluster_area_state", area="drbd") == "2"


def test_status_textfile_into_a_directory_it_cannot_write(tmp_path):
    missing = tmp_path / "nowhere"
    run = kvmcluster("status", "--from", str(CAPTURES[0]), "--textfile", str(missing))
    assert run.returncode == 3
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "--textfile" in lines[0] and "No such file" in lines[0], run.stderr
    assert not missing.exists()


def test_write_textfile_with_a_umask_keeps_mode_0644(tmp_path):
    from kvmcluster.textfile import write_textfile

    old = os.umask(0o077)
    try:
        path = write_textfile(str(tmp_path), "x 1\n# EOF\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert Path(path).read_text() == "x 1\n# EOF\n"
