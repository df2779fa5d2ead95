"""A real libvirtd with the QEMU driver for the tests, one per "node", nothing shared.

Each instance runs in its own mount namespace (`unshare -m`) under a small parent of ours that
called prctl(PR_SET_CHILD_SUBREAPER) and reaps every child (exited qemu processes do not stay
zombies). Inside the namespace the test's own directories are mounted over /etc/libvirt
(libvirtd.conf, qemu.conf, the persistent domain definitions), /run/libvirt (the sockets, the
qemu state) and tmpfs over /var/lib/libvirt and /var/log/libvirt: so the standard URI
qemu:///system works for a process entered into the namespace (`Libvirtd.enter`), and
qemu:///system?socket=DIR/run/libvirt-sock-ro from anywhere. Stopped by PID: the parent
terminates libvirtd, then kills the qemu processes it adopted, then exits; the mounts vanish
with the namespace and the test directory is removed.

Domains are tiny TCG guests (32 MiB, no NIC, no graphics): running, paused (suspend), shut off
(destroy), crashed (a boot sector that writes to the pvpanic port 0x505, `on_crash=preserve`).

Run as a script (`python -m tests.libvirtd_real --reaper DIR`) it is that parent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

LIBVIRTD = "/usr/sbin/libvirtd"
QEMU = "/usr/bin/qemu-system-x86_64"
UNSHARE = "/usr/bin/unshare"
NSENTER = "/usr/bin/nsenter"
REPO = Path(__file__).resolve().parent.parent

LIBVIRTD_CONF = """\
listen_tcp = 0
listen_tls = 0
auth_unix_ro = "none"
auth_unix_rw = "none"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0770"
log_outputs = "3:stderr"
"""
QEMU_CONF = """\
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
"""
# mov dx,0x505; mov al,1; out dx,al (pvpanic: panicked); hlt; jmp $-1
PANIC_BOOT_SECTOR = bytes.fromhex("ba0505b001eef4ebfd").ljust(510, b"\0") + b"\x55\xaa"


def missing() -> str:
    """Why the real libvirtd cannot run here ('' when it can)."""
    if os.geteuid() != 0:
        return "needs root"
    for path, package in (
        (LIBVIRTD, "libvirt-daemon"),
        (QEMU, "qemu-system-x86"),
        (UNSHARE, "util-linux"),
        (NSENTER, "util-linux"),
        ("/usr/sbin/sshd", "openssh-server"),
        ("/usr/bin/ssh", "openssh-client"),
        ("/usr/bin/virt-ssh-helper", "libvirt-clients"),
        (
            "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so",
            "libvirt-daemon-driver-qemu",
        ),
    ):
        if not os.path.exists(path):
            return f"{path} missing (apt-get install {package})"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python missing"
    return ""


def setup() -> None:
    """The one-time machine set-up the QEMU driver needs: its compiled-in user and group, and
    the mount points of the namespace (empty directories)."""
    if subprocess.run(["getent", "group", "libvirt-qemu"], capture_output=True).returncode:
        subprocess.run(["groupadd", "-r", "libvirt-qemu"], check=True)
    if subprocess.run(["getent", "passwd", "libvirt-qemu"], capture_output=True).returncode:
        subprocess.run(
            [
                "useradd",
                "-r",
                "-g",
                "libvirt-qemu",
                "-M",
                "-s",
                "/usr/sbin/nologin",
                "libvirt-qemu",
            ],
            check=True,
        )
    for path in (
        "/etc/libvirt",
        "/run/libvirt",
        "/var/lib/libvirt",
        "/var/log/libvirt",
        "/var/cache/libvirt",
    ):
        os.makedirs(path, exist_ok=True)


def domain_xml(name: str, disks=(), panic: str | None = None, uuid: str | None = None) -> str:
    """A 32 MiB TCG domain. `disks`: (type, source) pairs, type "block" or "file"; `panic`: a
    boot image (file) that panics at once (the domain ends crashed)."""
    devices = []
    targets = iter("abcdefghijklmnop")
    if panic:
        devices.append(
            f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            f"<source file='{escape(panic)}'/><target dev='hd{next(targets)}' bus='ide'/></disk>"
        )
    for kind, source in disks:
        attr = "dev" if kind == "block" else "file"
        devices.append(
            f"<disk type='{kind}' device='disk'><driver name='qemu' type='raw'/>"
            f"<source {attr}='{escape(source)}'/><target dev='vd{next(targets)}' bus='virtio'/>"
            "</disk>"
        )
    return (
        f"<domain type='qemu'><name>{escape(name)}</name>"
        + (f"<uuid>{uuid}</uuid>" if uuid else "")
        + "<memory unit='MiB'>32</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>"
        "<on_crash>preserve</on_crash>"
        f"<devices><emulator>{QEMU}</emulator>{''.join(devices)}"
        "<controller type='usb' model='none'/><memballoon model='none'/>"
        "<panic model='isa'/></devices></domain>"
    )


class Libvirtd:
    """One libvirtd (one "node"). `tag` names its directory."""

    def __init__(self, tag: str = "hD1"):
        setup()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{tag}-libvirtd-"))
        (self.dir / "etc" / "qemu").mkdir(parents=True)
        (self.dir / "run").mkdir()
        (self.dir / "etc" / "libvirtd.conf").write_text(LIBVIRTD_CONF)
        (self.dir / "etc" / "qemu.conf").write_text(QEMU_CONF)
        self.panic_image = self.dir / "panic.img"
        self.panic_image.write_bytes(PANIC_BOOT_SECTOR)
        self.log = open(self.dir / "libvirtd.log", "wb")  # noqa: SIM115 (until stop())
        self.proc = subprocess.Popen(
            [
                UNSHARE,
                "-m",
                "--propagation",
                "private",
                sys.executable,
                "-m",
                "tests.libvirtd_real",
                "--reaper",
                str(self.dir),
            ],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._rw = None
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    # URIs -------------------------------------------------------------------------------
    @property
    def socket_ro(self) -> str:
        return str(self.dir / "run" / "libvirt-sock-ro")

    @property
    def uri(self) -> str:
        """The read-only URI of this daemon from anywhere on the machine."""
        return f"qemu:///system?socket={self.socket_ro}"

    def enter(self) -> list[str]:
        """A command prefix that runs a program in this daemon's namespace, where plain
        qemu:///system is this daemon."""
        return [NSENTER, "-t", str(self.proc.pid), "-m", "--"]

    @property
    def pid(self) -> int:
        """libvirtd's own PID (the parent's child)."""
        return int((self.dir / "libvirtd.pid").read_text().split()[0])

    def _wait_ready(self, timeout: float = 60) -> None:
        import libvirt

        libvirt.registerErrorHandler(lambda *args: None, None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"libvirtd exited: {self.log_text()}")
            if os.path.exists(self.socket_ro) and (self.dir / "libvirtd.pid").exists():
                try:
                    self._rw = libvirt.open(f"qemu:///system?socket={self.dir}/run/libvirt-sock")
                    self._rw.getCapabilities()
                    return
                except libvirt.libvirtError:
                    self._rw = None
            time.sleep(0.1)
        raise RuntimeError(f"libvirtd not ready in {timeout}s: {self.log_text()}")

    def log_text(self) -> str:
        self.log.flush()
        return (self.dir / "libvirtd.log").read_text(errors="replace")[-2000:]

    # domains ----------------------------------------------------------------------------
    @property
    def connection(self):
        return self._rw

    def define(self, name: str, disks=(), panic: bool = False, uuid: str | None = None):
        return self._rw.defineXML(
            domain_xml(name, disks, str(self.panic_image) if panic else None, uuid)
        )

    def running(self, name: str, disks=(), uuid: str | None = None):
        domain = self.define(name, disks, uuid=uuid)
        domain.create()
        return domain

    def paused(self, name: str, disks=()):
        domain = self.running(name, disks)
        domain.suspend()
        return domain

    def shutoff(self, name: str, disks=()):
        return self.define(name, disks)

    def io_error_paused(self, name: str, nbd: FailingNbd, timeout: float = 20):
        """Running on a disk that fails: paused by qemu, reason I/O error."""
        import libvirt

        xml = domain_xml(name).replace("</emulator>", f"</emulator>{nbd.disk_xml()}")
        domain = self._rw.defineXML(xml)
        domain.create()
        deadline = time.monotonic() + timeout
        while domain.state() != [libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_IOERROR]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not paused by an I/O error: {domain.state()}")
            time.sleep(0.05)
        return domain

    def crashed(self, name: str, timeout: float = 20):
        import libvirt

        domain = self.define(name, panic=True)
        domain.create()
        deadline = time.monotonic() + timeout
        while domain.state()[0] != libvirt.VIR_DOMAIN_CRASHED:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not crash: state {domain.state()}")
            time.sleep(0.05)
        return domain

    def remove_all(self) -> None:
        import libvirt

        for domain in self._rw.listAllDomains():
            try:
                if domain.isActive():
                    domain.destroy()
                domain.undefine()
            except libvirt.libvirtError:
                pass

    # failures ---------------------------------------------------------------------------
    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Destroy what it runs, then stop libvirtd and its adopted qemu processes by PID."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.thaw()
            if self._rw is not None:
                try:
                    self.remove_all()
                    self._rw.close()
                except Exception:
                    pass
            self._rw = None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SshGateway:
    """A real sshd on 127.0.0.1 (its own port, keys and config) through which qemu+ssh://
    reaches each Libvirtd: every node has its own key, whose authorized_keys entry runs the
    client's command inside that daemon's namespace, where virt-ssh-helper finds the daemon
    at the standard socket. libvirt runs ssh through `command=` (a wrapper giving ssh the
    test's known_hosts), so nothing of root's ~/.ssh is read or written."""

    def __init__(self, nodes: dict[str, Libvirtd], tag: str = "hD1"):
        from tests.sshd_real import Server, keygen

        self.dir = Path(tempfile.mkdtemp(prefix=f"{tag}-sshd-"))
        lines = []
        for node, daemon in nodes.items():
            key = self.dir / f"key_{node}"
            keygen(key)
            enter = " ".join(daemon.enter())
            lines.append(
                f'command="{enter} /bin/sh -c \\"$SSH_ORIGINAL_COMMAND\\"",no-pty,'
                f"no-port-forwarding {(self.dir / f'key_{node}.pub').read_text().strip()}\n"
            )
        authorized = self.dir / "authorized_keys"
        authorized.write_text("".join(lines))
        authorized.chmod(0o600)
        self.server = Server(self.dir / "server", authorized)
        self.port = self.server.port
        (self.dir / "known_hosts").write_text(self.server.known_host)
        (self.dir / "ssh_config").write_text(
            f"Host *\n  UserKnownHostsFile {self.dir / 'known_hosts'}\n"
            "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n"
            "  BatchMode yes\n  IdentitiesOnly yes\n"
        )
        wrapper = self.dir / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {self.dir / "ssh_config"} "$@"\n')
        wrapper.chmod(0o755)

    def uri(self, node: str, port: int | None = None) -> str:
        """qemu+ssh:// to the node; `port`: another port that relays to this sshd (its host
        key is then trusted on that port too)."""
        if port is not None and port != self.port:
            with open(self.dir / "known_hosts", "a") as known:
                known.write(f"[127.0.0.1]:{port} {self.server.host_public}\n")
        return (
            f"qemu+ssh://root@127.0.0.1:{port or self.port}/system?command={self.dir / 'ssh'}"
            f"&keyfile={self.dir / f'key_{node}'}"
        )

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class FailingNbd:
    """An NBD server on a unix socket whose every read and write fails with EIO: a disk that
    died under a running VM. With `error_policy=stop` qemu pauses the guest (reason ioerror)
    as soon as the BIOS reads its boot sector."""

    SIZE = 1 << 20

    def __init__(self, directory: Path):
        import socket
        import threading

        self.path = str(directory / "failing-nbd.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def disk_xml(self, target: str = "vda") -> str:
        return (
            "<disk type='network' device='disk'>"
            "<driver name='qemu' type='raw' error_policy='stop' rerror_policy='stop'/>"
            f"<source protocol='nbd' name='dead'><host transport='unix' socket='{self.path}'/>"
            f"</source><target dev='{target}' bus='virtio'/></disk>"
        )

    def _serve(self) -> None:
        import threading

        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn) -> None:
        import struct

        def recv(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    raise EOFError
                data += chunk
            return data

        def option_reply(option: int, kind: int, data: bytes = b"") -> None:
            conn.sendall(struct.pack(">QIII", 0x3E889045565A9, option, kind, len(data)) + data)

        try:
            with conn:
                # fixed newstyle handshake, no zeroes
                conn.sendall(b"NBDMAGIC" + b"IHAVEOPT" + struct.pack(">H", 1 | 2))
                recv(4)
                while True:
                    _, option, length = struct.unpack(">QII", recv(16))
                    recv(length)
                    if option == 2:  # NBD_OPT_ABORT
                        return
                    if option in (7, 6):  # NBD_OPT_GO, NBD_OPT_INFO
                        info = struct.pack(">HQH", 0, self.SIZE, 1)  # NBD_INFO_EXPORT, HAS_FLAGS
                        option_reply(option, 3, info)  # NBD_REP_INFO
                        option_reply(option, 1)  # NBD_REP_ACK
                        if option == 7:
                            break
                        continue
                    option_reply(option, (1 << 31) + 1)  # NBD_REP_ERR_UNSUP
                while True:
                    _, _, kind, handle, _, length = struct.unpack(">IHHQQI", recv(28))
                    if kind == 2:  # NBD_CMD_DISC
                        return
                    if kind == 1:  # a write's payload comes with the request
                        recv(length)
                    conn.sendall(struct.pack(">IIQ", 0x67446698, 5, handle))  # EIO
        except (EOFError, OSError):
            return

    def stop(self) -> None:
        self.server.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


class LvmVg:
    """A real volume group on a loop device whose LVs are usable paths: no device-mapper
    here, so each LV's metadata is written with activation off, its extents are mapped by a
    loop device of their own and /dev/VG/LV is a symlink to it. `lvs` shows them inactive."""

    def __init__(self, name: str, lvs: list[str], size_mb: int = 64, lv_mb: int = 8):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.env = {**os.environ, "LVM_SUPPRESS_FD_WARNINGS": "1"}
        self.loops: list[str] = []
        self.links: list[Path] = []
        self.made_dir = False
        image = self.dir / "pv.img"
        with open(image, "wb") as out:
            out.truncate(size_mb << 20)
        try:
            self.pv = self._loop(["-f", "--show", str(image)])
            self._lvm("pvcreate", "-q", self.pv)
            self._lvm("vgcreate", "-q", name, self.pv)
            extent = int(
                self._lvm(
                    "vgs",
                    "--noheadings",
                    "--units",
                    "b",
                    "--nosuffix",
                    "-o",
                    "vg_extent_size",
                    name,
                )
            )
            pe_start = int(
                self._lvm(
                    "pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start", self.pv
                )
            )
            vg_dir = Path("/dev") / name
            if not vg_dir.exists():
                vg_dir.mkdir()
                self.made_dir = True
            for lv in lvs:
                self._lvm(
                    "lvcreate",
                    "-q",
                    "--config",
                    "global/activation=0",
                    "-an",
                    "-Zn",
                    "-n",
                    lv,
                    "-L",
                    f"{lv_mb}M",
                    name,
                )
                ranges = self._lvm("lvs", "--noheadings", "-o", "seg_pe_ranges", f"{name}/{lv}")
                first = int(ranges.split(":")[1].split("-")[0])
                loop = self._loop(
                    [
                        "-f",
                        "--show",
                        "--offset",
                        str(pe_start + first * extent),
                        "--sizelimit",
                        str(lv_mb << 20),
                        str(image),
                    ]
                )
                link = vg_dir / lv
                link.symlink_to(loop)
                self.links.append(link)
        except BaseException:
            self.remove()
            raise

    def path(self, lv: str) -> str:
        return f"/dev/{self.name}/{lv}"

    def _lvm(self, *argv: str) -> str:
        return subprocess.run(
            argv, check=True, capture_output=True, text=True, env=self.env
        ).stdout.strip()

    def _loop(self, argv: list[str]) -> str:
        loop = subprocess.run(
            ["losetup", *argv], check=True, capture_output=True, text=True
        ).stdout.strip()
        self.loops.append(loop)
        return loop

    def remove(self) -> None:
        for link in self.links:
            link.unlink(missing_ok=True)
        if self.made_dir:
            with contextlib.suppress(OSError):
                (Path("/dev") / self.name).rmdir()
        subprocess.run(["vgremove", "-q", "-f", self.name], capture_output=True, env=self.env)
        if self.loops:
            subprocess.run(
                ["pvremove", "-q", "-f", self.loops[0]], capture_output=True, env=self.env
            )
        for loop in reversed(self.loops):
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


# the namespace's parent -------------------------------------------------------------------


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry))
    return found


class _Stop(Exception):
    pass


def _stop(*args):
    raise _Stop


def reaper(directory: str) -> int:
    """Mount the instance's directories, run libvirtd, reap every child; on SIGTERM stop
    libvirtd, then the qemu processes left to us (our children, by PID)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        print("prctl(PR_SET_CHILD_SUBREAPER) failed", file=sys.stderr)
        return 1
    base = Path(directory)
    mounts = [
        ["mount", "--bind", str(base / "etc"), "/etc/libvirt"],
        ["mount", "--bind", str(base / "run"), "/run/libvirt"],
        ["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/var/lib/libvirt"],
        ["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/var/log/libvirt"],
    ]
    for argv in mounts:
        subprocess.run(argv, check=True)
    os.makedirs("/var/log/libvirt/qemu")
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    daemon = subprocess.Popen(
        [LIBVIRTD, "-f", str(base / "etc" / "libvirtd.conf"), "-p", str(base / "libvirtd.pid")]
    )
    me = os.getpid()
    try:
        while True:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid == daemon.pid:
                daemon.returncode = 0
                break
    except _Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if daemon.returncode is None:
        daemon.terminate()
        try:
            daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    for pid in _children(me):  # qemu processes libvirtd left behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--reaper":
        sys.exit(reaper(sys.argv[2]))
    sys.exit("usage: python -m tests.libvirtd_real --reaper DIR")
