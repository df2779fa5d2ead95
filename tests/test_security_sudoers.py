"""icinga/sudoers lets the monitoring users run exactly the plugins' commands, with exactly
their arguments: the real sudo judges every rule (`sudo -l -U USER CMD ARGS...`), and the
commands the plugins and collect really hand to sudo, here and over SSH, are in that list."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kvmcluster.sources.privileged import SUDO_COMMANDS, allowed_argvs, directories
from kvmcluster.sudoers import USERS, command_spec, escape_argument, render
from tests.plugin_runner import REPO, run_plugin

SUDOERS = REPO / "icinga" / "sudoers"
TEST_RULES = "/etc/sudoers.d/kvmcluster-test-hA"  # no dot: sudo skips names with one
ROOT = os.geteuid() == 0
needs_sudo = pytest.mark.skipif(
    not (ROOT and shutil.which("sudo") and shutil.which("visudo")),
    reason="needs root, sudo and visudo",
)


def test_committed_sudoers_is_the_generators_output():
    assert SUDOERS.read_text() == render(), "run: python -m kvmcluster.sudoers > icinga/sudoers"


def test_every_rule_has_an_argument_list():
    """No rule leaves the arguments open (the lvmconfig hole of issue 15)."""
    rules = [line.strip(" ,\\") for line in SUDOERS.read_text().splitlines()]
    rules = [rule for rule in rules if rule.startswith("/")]
    assert len(rules) == 2 * len(SUDO_COMMANDS)
    for rule in rules:
        assert " " in rule, f"rule without an argument list: {rule}"


def test_a_word_with_whitespace_cannot_become_a_rule():
    with pytest.raises(ValueError):
        escape_argument("two words")
    with pytest.raises(ValueError):
        escape_argument("")


@needs_sudo
def test_visudo_accepts_the_file():
    result = subprocess.run(["visudo", "-cf", str(SUDOERS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed_rules():
    """icinga/sudoers in /etc/sudoers.d under a name of this test; the distributions'
    monitoring users exist (created here only when missing, and only those removed)."""
    created = []
    for user in USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(
                ["useradd", "-r", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", user],
                check=True,
            )
            created.append(user)
    shutil.copyfile(SUDOERS, TEST_RULES)
    os.chmod(TEST_RULES, 0o440)
    try:
        yield
    finally:
        os.unlink(TEST_RULES)
        for user in created:
            subprocess.run(["userdel", user], check=False)


JUDGE = """
import json, subprocess, sys
for user, command in json.load(sys.stdin):
    done = subprocess.run(["sudo", "-n", "-l", "-U", user, *command], capture_output=True)
    print(done.returncode, flush=True)
"""


def judge(queries: list[tuple[str, list[str]]], tmp: Path) -> list[bool | None]:
    """Whether sudo allows each (user, command line). sudo -l needs the program to exist: the
    tools this machine lacks (cman_tool, clustat) are stubs in an overlay on /usr/sbin, seen
    only inside a private mount namespace of this call. Where no mount namespace can be made,
    the commands of missing tools stay unjudged (None)."""
    import json

    upper, work = tmp / "upper", tmp / "work"
    upper.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    for _, _, argv in SUDO_COMMANDS:
        if not os.path.exists(f"/usr/sbin/{argv[0]}") and directories(argv[0])[0] == "/usr/sbin":
            stub = upper / argv[0]
            stub.write_text("#!/bin/sh\nexit 1\n")
            stub.chmod(0o755)
    overlay = f"lowerdir=/usr/sbin,upperdir={upper},workdir={work}"
    script = f'mount -t overlay kvmcluster-hA -o {overlay} /usr/sbin && exec "$0" -c "$1"'
    direct = [sys.executable, "-c", JUDGE]
    namespaced = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
    command = [*namespaced, sys.executable, JUDGE] if any(upper.iterdir()) else direct
    judged = list(range(len(queries)))
    result = subprocess.run(
        command, input=json.dumps(queries), capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0 and command is not direct and not result.stdout:
        judged = [i for i, (_, argv) in enumerate(queries) if os.path.exists(argv[0])]
        result = subprocess.run(
            direct,
            input=json.dumps([queries[i] for i in judged]),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stderr
    codes = [int(line) for line in result.stdout.split()]
    assert len(codes) == len(judged), result.stdout + result.stderr
    answers: list[bool | None] = [None] * len(queries)
    for index, code in zip(judged, codes):
        answers[index] = code == 0
    return answers


def assert_judged(expectations: list[tuple[str, list[str], bool]], tmp: Path) -> None:
    answers = judge([(user, command) for user, command, _ in expectations], tmp)
    wrong = [
        f"{user}: {' '.join(command)}: {'allowed' if got else 'refused'}"
        for (user, command, want), got in zip(expectations, answers)
        if got is not None and got != want
    ]
    assert any(got is not None for got in answers)
    assert not wrong, "\n".join(wrong)


@needs_sudo
def test_each_rule_allows_exactly_its_command_line(installed_rules, tmp_path):
    """For every user and rule: the command line the plugins run is allowed; the same with an
    extra argument, without its arguments or without its last one is refused."""
    expectations = []
    for user in USERS:
        for _, _, argv in SUDO_COMMANDS:
            program, args = argv[0], list(argv[1:])
            for directory in directories(program):
                path = f"{directory}/{program}"
                expectations.append((user, [path, *args], True))
                expectations.append((user, [path, *args, "EXTRA"], False))
                expectations.append((user, [path, *args, ""], False))
                if args:
                    expectations.append((user, [path], False))
                    expectations.append((user, [path, *args[:-1]], False))
    assert len(expectations) > 6 * len(SUDO_COMMANDS) * len(USERS)
    assert_judged(expectations, tmp_path)


@needs_sudo
def test_the_issue_15_escalations_are_refused(installed_rules, tmp_path):
    expectations = []
    for user in USERS:
        for lvmconfig in ("/sbin/lvmconfig", "/usr/sbin/lvmconfig"):
            expectations.append((user, [lvmconfig], True))
            expectations.append((user, [lvmconfig, "--file", "/etc/cron.d/x"], False))
        expectations += [
            (user, ["/usr/bin/cat", "/etc/shadow"], False),
            (user, ["/usr/bin/cat", "/etc/cluster/cluster.conf", "/etc/shadow"], False),
            (user, ["/usr/sbin/crm_mon", "--output-as=xml", "-1", "--out=/etc/x"], False),
            (user, ["/usr/sbin/drbdsetup", "down", "all"], False),
            (user, ["/usr/sbin/vgs", "--config", "x"], False),
        ]
    expectations.append(("nobody", ["/usr/sbin/lvmconfig"], False))
    assert_judged(expectations, tmp_path)


@needs_sudo
def test_escaping_makes_special_characters_match_themselves(tmp_path):
    """`,` `:` `=` `\\` `#` `!` `*` `?` `[` `]` in an argument: only that very argument."""
    word = "a,b:c=d\\e*f?[g]#h!(i)"
    rule = tmp_path / "rule"
    rule.write_text(f"nagios ALL=(root) NOPASSWD: {command_spec('/usr/bin/printf', [word])}\n")
    check = subprocess.run(["visudo", "-cf", str(rule)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    shutil.copyfile(rule, TEST_RULES + "-escape")
    os.chmod(TEST_RULES + "-escape", 0o440)
    try:
        expectations = [("nagios", ["/usr/bin/printf", word], True)]
        for other in ("a,b:c=d\\eXf?[g]#h!(i)", "a,b:c=d\\e*fX[g]#h!(i)", "a,b:c=de*f?[g]#h!(i)"):
            expectations.append(("nagios", ["/usr/bin/printf", other], False))
        assert_judged(expectations, tmp_path)
    finally:
        os.unlink(TEST_RULES + "-escape")


# ---- what the plugins really hand to sudo --------------------------------------------------

SUDO_RECORDER = """#!/bin/sh
# records the command line sudo was given, then refuses like sudo -n without a rule
{{ for a in "$@"; do printf '%s\\037' "$a"; done; printf '\\036'; }} >> "{log}"
echo "sudo: a password is required" >&2
exit 1
"""


def recorded(log: Path) -> set[tuple[str, ...]]:
    commands = set()
    for record in log.read_text().split("\x1e"):
        if not record:
            continue
        words = record.split("\x1f")[:-1]
        assert words[0] == "-n", words
        commands.add(tuple(words[1:]))
    return commands


def install_recorder(bin_dir: Path, log: Path) -> None:
    bin_dir.mkdir(exist_ok=True)
    sudo = bin_dir / "sudo"
    sudo.write_text(SUDO_RECORDER.format(log=log))
    sudo.chmod(0o755)


LOCAL_RUNS = [
    ("check_cluster", "--sudo", "--stack", "cman"),
    ("check_cluster", "--sudo", "--stack", "pacemaker"),
    ("check_cluster_services", "--sudo", "--stack", "cman"),
    ("check_cluster_services", "--sudo", "--stack", "pacemaker"),
    ("check_cluster_lvm", "--sudo"),
]


def test_what_the_plugins_run_locally_with_sudo_is_allowed(tmp_path):
    log = tmp_path / "sudo.log"
    install_recorder(tmp_path / "bin", log)
    env = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    for plugin, *args in LOCAL_RUNS:
        run_plugin(plugin, *args, env=env)
    out = tmp_path / "c.tar.gz"
    collect = subprocess.run(
        [str(Path(sys.executable).parent / "kvmcluster"), "collect", "--sudo", "-o", str(out)]
        + ["--libvirt", "node05=test:///nonexistent.xml"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert collect.returncode == 0, collect.stdout + collect.stderr
    commands = recorded(log)
    assert commands <= set(allowed_argvs()), commands - set(allowed_argvs())
    # collect runs every command of the list but the RHEL 6 fallbacks (cat, lvm dumpconfig)
    assert len(commands) >= len(SUDO_COMMANDS) - 2, commands


@pytest.mark.real
@pytest.mark.skipif(not (ROOT and os.path.exists("/usr/sbin/sshd")), reason="needs root, sshd")
def test_what_the_plugins_run_over_ssh_with_sudo_is_allowed(tmp_path):
    from tests.test_ssh import Sshd

    (tmp_path / "sshd").mkdir()
    server = Sshd(tmp_path / "sshd")
    try:
        log = tmp_path / "sudo.log"
        install_recorder(server.dir / "bin", log)
        for plugin, *args in [
            *LOCAL_RUNS,
            ("check_vm_alloc", "--sudo", "--libvirt", "node05=test:///nonexistent.xml"),
        ]:
            run_plugin(plugin, *args, *server.options())
        out = tmp_path / "c.tar.gz"
        collect = subprocess.run(
            [str(Path(sys.executable).parent / "kvmcluster"), "collect", "--sudo"]
            + ["-o", str(out), "--libvirt", "node05=test:///nonexistent.xml", *server.options()],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert collect.returncode == 0, collect.stdout + collect.stderr
        first = recorded(log)
        # a root-only cluster.conf (RHEL 6): collect --sudo reads it with the allowed cat
        cat = server.dir / "bin" / "cat"
        cat.write_text(
            '#!/bin/sh\ncase "$*" in /etc/cluster/cluster.conf)\n'
            '  echo "cat: /etc/cluster/cluster.conf: Permission denied" >&2; exit 1;;\n'
            'esac\nexec /bin/cat "$@"\n'
        )
        log.write_text("")
        collect = subprocess.run(
            [str(Path(sys.executable).parent / "kvmcluster"), "collect", "--sudo"]
            + ["-o", str(tmp_path / "d.tar.gz"), "--libvirt", "n=test:///nonexistent.xml"]
            + server.options(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert collect.returncode == 0, collect.stdout + collect.stderr
        assert ("cat", "/etc/cluster/cluster.conf") in recorded(log)
        assert "cluster.conf: sudo: a password is required" in collect.stdout, collect.stdout
    finally:
        server.stop()
    commands = recorded(log) | first
    assert commands <= set(allowed_argvs()), commands - set(allowed_argvs())
    assert ("cat", "/etc/cluster/cluster.conf") in commands
    assert len(commands) >= len(SUDO_COMMANDS) - 1, commands
