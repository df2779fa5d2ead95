"""Options and behaviour every plugin shares: -h -V -v -t --sudo, exit 3 on bad arguments,
one UNKNOWN line instead of a traceback (the traceback only with -vvv)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from kvmcluster import __version__

DEFAULT_TIMEOUT = 10


class PluginArgumentParser(argparse.ArgumentParser):
    """argparse that answers bad arguments with an UNKNOWN line and exit code 3, not 2."""

    def __init__(self, check_name: str, **kwargs):
        self.check_name = check_name
        super().__init__(**kwargs)

    def error(self, message):
        from kvmcluster.model.findings import printable

        message = printable(message).replace("|", "/")
        print(f"{self.check_name} UNKNOWN - bad arguments: {message} (see {self.prog} -h)")
        sys.exit(3)

    def exit(self, status=0, message=None):
        if message:
            sys.stderr.write(message)
        sys.exit(3 if status == 2 else status)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, sized without `shutil`: argparse makes one for every
    add_argument, and shutil.get_terminal_size would import shutil (with bz2 and lzma), a few
    ms of every plugin run. Same width rule: $COLUMNS, else the terminal, else 80; minus 2."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        if width is None:
            width = terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def terminal_columns() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def plugin_parser(check_name: str, prog: str, description: str) -> PluginArgumentParser:
    parser = PluginArgumentParser(
        check_name,
        prog=prog,
        description=description,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="one line per item with -v; -vvv also shows tracebacks of internal errors",
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=timeout_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="answer UNKNOWN after this many seconds (default %(default)s)",
    )
    parser.add_argument(
        "--sudo",
        action="store_true",
        help="run the commands as `sudo -n CMD` (install icinga/sudoers)",
    )
    add_ssh_options(parser)
    return parser


def ssh_target(text: str) -> str:
    from kvmcluster.sources.node import TARGET

    if not TARGET.match(text):
        raise argparse.ArgumentTypeError(f"not [USER@]HOST: {text!r}")
    return text


def ssh_option(text: str) -> str:
    from kvmcluster.sources.node import OPTION

    if not OPTION.match(text):
        raise argparse.ArgumentTypeError(f"expected an ssh option Key=value, got {text!r}")
    return text


def add_ssh_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ssh",
        metavar="[USER@]HOST",
        type=ssh_target,
        help="agentless: run the node's own tools over SSH (BatchMode, one connection), "
        "parse and judge here",
    )
    parser.add_argument(
        "--ssh-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=ssh_option,
        help="an ssh -o option: Port=2222, IdentityFile=..., ProxyJump=... (repeatable)",
    )


def start(args):
    """What every plugin does once its arguments are parsed: the node it checks (this machine,
    or --ssh), within the -t deadline; handed to every source."""
    from kvmcluster.runtime.command import Deadline
    from kvmcluster.sources.node import open_node

    deadline = Deadline(args.timeout)
    return open_node(getattr(args, "ssh", None), getattr(args, "ssh_option", None), deadline)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


MAX_TIMEOUT = 86400


def timeout_seconds(text: str) -> int:
    """-t: whole seconds, 1 to a day ('0' is not "no deadline": there is always one)."""
    value = positive_int(text)
    if value > MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"at most {MAX_TIMEOUT} seconds: {text!r}")
    return value


def guarded_main(check_name: str, main: Callable[[list[str] | None], None], argv=None) -> None:
    """Run a plugin's main so that nothing but one status line and exit 0-3 comes out.

    Run as a command (argv None) the process ends through exit_now; given an argv (tests,
    other Python code) it raises SystemExit with the code."""
    import gc

    gc.disable()  # a plugin lives for a fraction of a second: no cyclic GC passes needed
    ensure_std_streams()
    code = _guarded(check_name, main, argv)
    if argv is None:
        exit_now(code)
    raise SystemExit(code)


def _guarded(check_name: str, main: Callable[[list[str] | None], None], argv) -> int:
    from kvmcluster.runtime.np import nagiosplugin

    verbose = sum(a.count("v") for a in (argv or sys.argv[1:]) if a.startswith("-v"))
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 3)
        return code if 0 <= code <= 3 else 3
    except BrokenPipeError:  # `check_drbd | head -0`: nobody reads the answer any more
        discard_stdout()
        return 3
    except nagiosplugin.Timeout as exc:
        seconds = str(exc).removesuffix("s")  # nagiosplugin says "3s"
        print(f"{check_name} UNKNOWN - no result within {seconds}s (raise -t if the node is slow)")
    except KeyboardInterrupt:
        print(f"{check_name} UNKNOWN - interrupted")
    except Exception as exc:  # the last line of defence: never a bare traceback
        from kvmcluster.model.findings import printable

        error = printable(f"{type(exc).__name__}: {exc}").replace("|", "/")
        try:
            print(f"{check_name} UNKNOWN - internal error: {error}")
            if verbose >= 3:
                import traceback

                traceback.print_exc(file=sys.stdout)
        except BrokenPipeError:
            discard_stdout()
    return 3


def ensure_std_streams() -> None:
    """A plugin started with stdin, stdout or stderr closed (`check_drbd >&-`) gets /dev/null
    there: its prints then go nowhere instead of failing, and no file it opens can take the
    place of fd 1 or 2."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:  # closed: /dev/null takes its place
            null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115 - as long as sys
        else:  # already reused by some file: leave it alone
            setattr(sys, name, open(os.devnull, mode))  # noqa: SIM115


def discard_stdout() -> None:
    """stdout is a closed pipe: send what is still buffered, and anything later, to /dev/null,
    so that neither a later print nor the flush at exit fails."""
    import contextlib

    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def exit_now(code: int) -> None:
    """End the plugin process without the interpreter's teardown.

    At exit CPython collects garbage over every object still alive and tears down every
    module: ~7 ms of a small check, ~14 ms with 1,000 DRBD resources, for memory the kernel
    frees anyway. atexit handlers (closing the SSH connection) still run, the output is
    flushed, then os._exit. Falls back to a normal exit where atexit cannot be run by hand.
    """
    import atexit
    import contextlib

    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:
        raise SystemExit(code)
    try:
        run_exit_handlers()
    finally:
        for stream in (sys.stdout, sys.stderr):
            # reader gone, stream closed, or none (started with the descriptor closed)
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        os._exit(code)
