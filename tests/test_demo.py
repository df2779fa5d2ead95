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
    # the advice of kvmcluster.advice: the split brain's steps with the VG on drbd0 first, the
    # 8.4 form of the discard, and the failback of the failed-over VM
    lines = out.splitlines()
    start = lines.index(
        "    next: # split brain on drbd0: node05.c01.cloud.agarik.com is the victim (its writes "
        "to drbd0 since the split are discarded), node06.c01.cloud.agarik.com the survivor; swap "
        "them to keep node05.c01.cloud.agarik.com's data"
    )
    steps = [line.strip() for line in lines[start + 1 : start + 15]]
    assert steps.index("vgchange -aln volimages") < steps.index("drbdadm secondary drbd0")
    assert "drbdadm connect --discard-my-data drbd0" in steps
    assert (
        "          clusvcadm -M vm:aquarius_000199_MFA_mfa.fr_prodweb1.mfa.fr -m "
        "node06.c01.cloud.agarik.com"
    ) in lines


def test_demo_on_a_missing_directory_fails_clearly():
    run = run_plugin("kvmcluster", "demo", "/nonexistent")
    assert run.returncode == 3
    assert "no such directory" in run.stderr
