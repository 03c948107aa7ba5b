"""``fortishell serve``: options, then the server until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from ..clock import Clock, parse_clock_option
from .users import UsersFileError, load_users


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fortishell serve", description="Serve the shell over SSH.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=2222, help="port to listen on (default 2222, 0 = any)")
    p.add_argument("--state-dir", metavar="DIR", help="host key, per-user devices and histories")
    p.add_argument("--shared", action="store_true", help="one device that every admin edits at once")
    p.add_argument("--users", metavar="FILE", help="users file (TOML); default: admin with an empty password")
    return p


def serve_main(argv: list[str], *, state_dir: Path, clock: str | None = None,
               lab_server: str | None = None) -> int:
    """Parse ``serve`` options (``--state-dir`` here wins over the global one) and serve."""
    from .server import ServeOptions, start_server

    args = _parser().parse_args(argv)
    try:
        users = load_users(Path(args.users) if args.users else None)
    except UsersFileError as err:
        print(f"fortishell serve: {err}", file=sys.stderr)
        return 2
    if clock:
        try:
            when = parse_clock_option(clock)
        except ValueError:
            print(f"fortishell: invalid --clock value: {clock}", file=sys.stderr)
            return 2
        clock_factory = lambda: Clock(when)  # noqa: E731
    else:
        clock_factory = Clock
    options = ServeOptions(Path(args.state_dir) if args.state_dir else Path(state_dir), host=args.host,
                           port=args.port, shared=args.shared, users=users, clock_factory=clock_factory,
                           lab_server_url=lab_server)

    async def run() -> int:
        try:
            server = await start_server(options)
        except OSError as exc:
            print(f"fortishell serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 1
        mode = "one shared device" if args.shared else "one device per user"
        print(f"fortishell: SSH on {args.host}:{server.port} ({mode}, state in {options.state_dir}); "
              f"users: {', '.join(users.names) or '(none)'}", file=sys.stderr, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        await stop.wait()
        await server.close()
        return 0

    return asyncio.run(run())
