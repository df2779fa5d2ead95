"""The README's main command: `kvmcluster demo`, i.e. status on the bundled example captures."""

from tests.plugin_runner import REPO, run_plugin


def test_demo_shows_the_healthy_and_the_broken_node():
    run = run_plugin("kvmcluster", "demo", str(REPO / "examples" / "captures"))
    assert run.returncode == 0
    out = run.stdout
    assert "=== healthy:" in out and "=== split-brain:" in out
    assert "kvmcluster status: OK" in out and "kvmcluster status: CRITICAL" in out
    assert "DRBD                     CRITICAL  drbd0 StandAlone (possible split brain)" in out
    assert (
        "VM allocation            WARNING   aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr runs on "
        "node05, belongs on node06"
    ) in out
    assert "\033[" not in out, "no colours when piped"


def test_demo_on_a_missing_directory_fails_clearly():
    run = run_plugin("kvmcluster", "demo", "/nonexistent")
    assert run.returncode == 3
    assert "no such directory" in run.stderr
