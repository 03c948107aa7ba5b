"""Argument parsing and wiring of the ``fortishell`` command (no behaviour of its own).

Global options go before the subcommand.  Each subcommand takes only the global
options that mean something to it (:data:`APPLIES`); any other is an error
(exit 2) rather than silently ignored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, options
from .clock import Clock, parse_clock_option
from .options import default_state_dir

if TYPE_CHECKING:
    from .shell.device import Device

USAGE = """\
fortishell [--config FILE] [--state-dir DIR] [--lab-server URL] [--clock WHEN] [--acme-http-port PORT]
           [COMMAND ...]

commands:
  (none)                      start the interactive shell (input not a terminal: as 'run -')
  run [--keep-going] [--expect FILE] SCRIPT...
                              replay CLI scripts ('-' = stdin) and print the transcript
                              (see: fortishell run --help)
  lab list|start|check|grade  the training exercises (see: fortishell lab --help)
  lab-server [options]        serve the lab EST responder (see: fortishell lab-server --help)
  serve [options]             serve the shell over SSH, and the REST API with --https-port PORT
                              (see: fortishell serve --help)
  lab-ca {sign CSR|revoke SERIAL|crl|show|approve ID|reject ID}
                              the lab CA by hand (see: fortishell lab-ca --help)
  users add NAME              a serve users-file entry with a password hash
                              (see: fortishell users --help)
"""

COMMANDS = ("run", "lab", "lab-server", "lab-ca", "serve", "users", "shell")

# which global options each subcommand takes
APPLIES: dict[str, frozenset[str]] = {
    "shell": frozenset({"config", "state_dir", "lab_server", "clock", "acme_http_port"}),
    "run": frozenset({"config", "state_dir", "lab_server", "clock", "acme_http_port"}),
    "serve": frozenset({"config", "state_dir", "lab_server", "clock", "acme_http_port"}),  # --config/--clock seed the devices
    "lab-server": frozenset({"state_dir", "clock"}),
    "lab": frozenset({"state_dir", "lab_server", "acme_http_port"}),  # the exercise gives the configuration and clock
    "lab-ca": frozenset({"state_dir", "clock"}),
    "users": frozenset({"state_dir"}),  # the default users file is in the state directory
}
WHY_NOT = {
    "lab": "the exercise gives the configuration and the clock",
    "lab-server": "the responder has no device configuration and is itself the lab server",
    "lab-ca": "the lab CA has no device configuration",
    "users": "the users file has no device configuration",
}


def _global_parser() -> argparse.ArgumentParser:
    p = options.Parser(prog="fortishell", usage=USAGE, add_help=True)
    p.add_argument("--config", metavar="FILE",
                   help="configuration file to boot from and save to (default: fortishell.conf in the state directory)")
    p.add_argument("--state-dir", metavar="DIR",
                   help="history, lab state and default configuration (default: $FORTISHELL_STATE_DIR, "
                        "else $XDG_STATE_HOME/fortishell, else ~/.local/state/fortishell)")
    p.add_argument("--lab-server", metavar="URL", type=options.https_url,
                   help="map the lab hosts to this shared EST responder, https://HOST:PORT "
                        "(default: the embedded responder)")
    p.add_argument("--clock", metavar="WHEN", type=options.clock,
                   help="start the device clock frozen at WHEN, YYYY-MM-DD[ HH:MM:SS] (default: the real time, running)")
    p.add_argument("--acme-http-port", metavar="PORT", type=options.port,
                   help="the port on 127.0.0.1 where the device answers ACME http-01 challenges, for an external "
                        "ACME server (shell, run, serve and the lab exercises' devices; on every address for a "
                        "classroom lab-server's ACME) (default: an ephemeral port the embedded lab maps as the "
                        "device's port 80, or the http01= port of the --lab-server URL)")
    p.add_argument("--version", action="version", version=f"fortishell {__version__}")
    p.add_argument("command", nargs="?", choices=COMMANDS, help=argparse.SUPPRESS)
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def parse_global(argv: list[str]) -> argparse.Namespace:
    """The global options and the subcommand of ``argv``.  No arguments (the plain shell) builds
    no parser: what it would give is known (tests hold it equal), and building one costs a start
    ~5 ms of CPU (argparse's help formatter and message catalogue)."""
    if not argv:
        return argparse.Namespace(config=None, state_dir=None, lab_server=None, clock=None, acme_http_port=None,
                                  command=None, rest=[])
    return _global_parser().parse_args(argv)


def _run_parser() -> argparse.ArgumentParser:
    p = options.Parser(
        prog="fortishell run",
        description="Replay CLI scripts in one session, every line as if typed, and print the transcript "
                    "(prompt, command, output, blank line, ..., the final prompt). A (y/n) question takes its "
                    "answer from the next script line.",
        epilog="SCRIPT '-' reads the script from standard input. Exit status: 0 every command succeeded; "
               "1 a command failed (the replay stops there unless --keep-going, and says on standard error how many "
               "lines it did not run); with --expect, 0 when the "
               "transcript matches FILE and 1 when it differs, whatever the commands did; 1 also when the "
               "configuration file is open in another fortishell process (one owner per file; nothing is run); "
               "2 a script or FILE cannot be read, or bad options.",
    )
    p.add_argument("--keep-going", action="store_true",
                   help="run every line even after a failed command (default: stop at the first failure)")
    p.add_argument("--expect", metavar="FILE",
                   help="compare the transcript with this expected transcript and let the comparison decide "
                        "the exit status (default: no comparison)")
    p.add_argument("scripts", nargs="+", metavar="SCRIPT", help="a file of CLI lines, or '-' for standard input")
    return p


def _not_applicable(args: argparse.Namespace, command: str) -> str | None:
    for name in ("config", "state_dir", "lab_server", "clock", "acme_http_port"):
        if getattr(args, name) is not None and name not in APPLIES[command]:
            flag = "--" + name.replace("_", "-")
            why = WHY_NOT.get(command, "")
            return f"fortishell: {flag} does not apply to '{command}'" + (f" ({why})" if why else "")
    return None


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # closed
        return False


def run_main(argv: list[str]) -> int:
    from . import warnlog

    warnlog.capture()  # library warnings go to debug.log, never to the user (see warnlog.py)
    args = parse_global(argv)
    command = args.command or "shell"
    problem = _not_applicable(args, command)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if command == "lab-server":
        from .lab.cli import main as lab_main

        return lab_main(args.rest, state_dir=args.state_dir, clock=args.clock)

    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    if command == "lab-ca":
        from .lab.cacli import main as lab_ca_main

        return lab_ca_main(args.rest, state_dir, clock=args.clock)
    if command == "serve":
        from .ssh.cli import serve_main

        return serve_main(args.rest, state_dir=state_dir, clock=args.clock, lab_server=args.lab_server,
                          config=args.config, acme_http_port=args.acme_http_port)
    if command == "users":
        from .ssh.usercli import users_main

        return users_main(args.rest, state_dir=state_dir)
    if command == "lab":
        from .classroom.cli import lab_main as classroom_main

        return classroom_main(args.rest, state_dir=state_dir, lab_server=args.lab_server,
                              acme_http_port=args.acme_http_port)
    run_args = _run_parser().parse_args(args.rest) if command == "run" else None
    if run_args is None and args.rest:
        print(f"fortishell: unexpected arguments: {' '.join(args.rest)}", file=sys.stderr)
        return 2
    state_dir.mkdir(parents=True, exist_ok=True)
    config_path = Path(args.config) if args.config else state_dir / "fortishell.conf"
    clock = Clock(parse_clock_option(args.clock)) if args.clock else Clock()

    from .errors import FortiError
    from .shell.device import Device

    try:
        device = Device.open(config_path, state_dir, clock, args.lab_server, journal=True)
    except FortiError as err:
        print("\n".join(err.output()), file=sys.stderr)
        return 1
    device.acme_http_port = args.acme_http_port
    try:
        with warnlog.library_logs_to(device.log):
            return _run_device(device, run_args, state_dir)
    finally:
        device.close()


def _run_device(device: "Device", run_args: argparse.Namespace | None, state_dir: Path) -> int:
    if run_args is not None:
        from .replay import run_scripts

        return run_scripts(run_args.scripts, device, keep_going=run_args.keep_going, expect=run_args.expect)
    if not _stdin_is_terminal():
        # lines piped into the shell: what `run -` does, never the line editor (no escapes,
        # no echoed input, no "Input is not a terminal" warning), with its exit codes
        from .replay import run_scripts

        return run_scripts(["-"], device)
    from .repl import run_repl

    # renewals whose time comes while the user sits at the prompt (replay never does this:
    # there renewals run at command boundaries only, so transcripts are deterministic)
    device.start_background()
    return run_repl(device, history_path=state_dir / "history")
