"""``fortishell serve``: options, then the server until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
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
    from .server import ServeOptions, ServerThread

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

    # The event loop runs on its own thread, the main thread only waits for Ctrl-C / SIGTERM: off
    # the main thread prompt_toolkit installs no SIGWINCH handler per prompt (a server has no
    # terminal to resize) and a session's command never takes the server's SIGINT for itself.
    _tune_gc()
    server = ServerThread(options)
    try:
        server.start()
    except OSError as exc:
        server.stop()
        print(f"fortishell serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    mode = "one shared device" if args.shared else "one device per user"
    print(f"fortishell: SSH on {args.host}:{server.port} ({mode}, state in {options.state_dir}); "
          f"users: {', '.join(users.names) or '(none)'}", file=sys.stderr, flush=True)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    return 0


def _tune_gc() -> None:
    """Garbage collection for a server with many sessions on one loop.

    With dozens of sessions in flight, the default first-generation threshold
    (700 allocations) promotes objects that are about to die anyway to the
    oldest generation, and every few hundred commands a full pass walks every
    session's long-lived objects (100-200 ms of stalled prompts) only to free
    nothing.  A larger first threshold lets those objects die young; what is
    loaded at start-up (modules, grammar, schema) lives as long as the process
    and is kept out of the passes altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 10)
