"""Argument parsing and wiring of the ``fortishell`` command (no behaviour of its own)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .clock import Clock, parse_clock_option

USAGE = """\
fortishell [--config FILE] [--state-dir DIR] [--lab-server URL] [--clock WHEN] [COMMAND ...]

commands:
  (none)                      start the interactive shell
  run [--keep-going] [--expect FILE] SCRIPT...
                              replay CLI scripts ('-' = stdin) and print the transcript
  lab-server [options]        serve the lab EST responder (see: fortishell lab-server --help)
  serve [--host H] [--port P] [--state-dir DIR] [--shared] [--users FILE]
                              serve the shell over SSH (see: fortishell serve --help)
  lab-ca {sign CSR|revoke SERIAL|crl}
                              the lab CA by hand (see: fortishell lab-ca --help)
"""


def default_state_dir() -> Path:
    if os.environ.get("FORTISHELL_STATE_DIR"):
        return Path(os.environ["FORTISHELL_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fortishell"


def _global_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fortishell", usage=USAGE, add_help=True)
    p.add_argument("--config", metavar="FILE", help="configuration file to boot from and save to")
    p.add_argument("--state-dir", metavar="DIR", help="history, lab state and default configuration")
    p.add_argument("--lab-server", metavar="URL", help="map the lab hosts to this shared EST responder")
    p.add_argument("--clock", metavar="WHEN", help="start the device clock frozen at WHEN (YYYY-MM-DD[ HH:MM:SS])")
    p.add_argument("--version", action="version", version=f"fortishell {__version__}")
    p.add_argument("command", nargs="?", choices=["run", "lab-server", "serve", "shell", "lab-ca"], help=argparse.SUPPRESS)
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fortishell run")
    p.add_argument("--keep-going", action="store_true", help="do not stop at the first failed command")
    p.add_argument("--expect", metavar="FILE", help="compare the transcript with this expected transcript")
    p.add_argument("scripts", nargs="+", metavar="SCRIPT")
    return p


def run_main(argv: list[str]) -> int:
    args = _global_parser().parse_args(argv)
    if args.command == "lab-server":
        from .lab.server import main as lab_main

        return lab_main(args.rest)

    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    if args.command == "lab-ca":
        from .lab.cacli import main as lab_ca_main

        return lab_ca_main(args.rest, state_dir, clock=args.clock)
    if args.command == "serve":
        from .ssh.cli import serve_main

        return serve_main(args.rest, state_dir=state_dir, clock=args.clock, lab_server=args.lab_server)
    state_dir.mkdir(parents=True, exist_ok=True)
    config_path = Path(args.config) if args.config else state_dir / "fortishell.conf"
    try:
        clock = Clock(parse_clock_option(args.clock)) if args.clock else Clock()
    except ValueError:
        print(f"fortishell: invalid --clock value: {args.clock}", file=sys.stderr)
        return 2

    from .errors import FortiError
    from .shell.device import Device

    try:
        device = Device.open(config_path, state_dir, clock, args.lab_server)
    except FortiError as err:
        print("\n".join(err.output()), file=sys.stderr)
        return 1
    try:
        if args.command == "run":
            run_args = _run_parser().parse_args(args.rest)
            from .replay import run_scripts

            return run_scripts(run_args.scripts, device, keep_going=run_args.keep_going, expect=run_args.expect)
        if args.rest:
            print(f"fortishell: unexpected arguments: {' '.join(args.rest)}", file=sys.stderr)
            return 2
        from .repl import run_repl

        # renewals whose time comes while the user sits at the prompt (replay never does this:
        # there renewals run at command boundaries only, so transcripts are deterministic)
        device.start_background()
        return run_repl(device, history_path=state_dir / "history")
    finally:
        device.close()
