"""``fortishell serve``: options, then the server until Ctrl-C / SIGTERM."""

from __future__ import annotations

import gc
import logging
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from .. import options
from ..clock import Clock, parse_clock_option
from ..cmdb import owner
from ..errors import FortiError
from .devices import TRANSCRIPTS
from .logins import LOG_NAME
from .usercli import default_users_file
from .users import FACTORY_ADMIN, LiveUsers, UserSource, UsersFileError, load_users

log = logging.getLogger("fortishell.ssh")


def _parser() -> options.Parser:
    p = options.Parser(
        prog="fortishell serve",
        description="Serve the shell over SSH: one emulated device per login user (or one shared device).",
        epilog="Devices persist: each user's device keeps its configuration across logins and server restarts "
               "(DIR/users/USER/fortishell.conf; --shared: DIR/fortishell.conf), DIR being the state directory, "
               "or STATE/rooms/NAME for a device seeded with --exercise NAME or --config FILE (so that each "
               "exercise is a room of its own). A new user's device starts from the seed (factory defaults "
               "without one). --reset starts every device of the room afresh; to reset one user, stop the "
               "server and delete DIR/users/USER. A configuration file has one owner: --shared opens its device "
               "at start and stops (exit status 1) when another fortishell process has that file open; a login "
               "whose device's file is open elsewhere gets that one line; --reset removes no file open elsewhere.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=options.listen_port, default=2222,
                   help="port to listen on, 1-65535 or 0 for any free port (default: 2222)")
    p.add_argument("--https-port", metavar="PORT", type=options.listen_port,
                   help="also serve the REST API over HTTPS on PORT (0: any free port), for the same devices "
                        "(default: no REST API)")
    p.add_argument("--no-ssh", action="store_true",
                   help="do not serve SSH (with --https-port: the REST API only) (default: SSH on)")
    p.add_argument("--state-dir", metavar="DIR",
                   help="host key, devices and histories (default: the global --state-dir / fortishell's state directory)")
    p.add_argument("--shared", action="store_true",
                   help="one device that every admin edits at once (default: one device per user)")
    p.add_argument("--users", metavar="FILE",
                   help="users file (TOML; only its users may log in; fortishell users add NAME writes one) "
                        "(default: users.toml in the state directory if it exists, else everyone logs in as "
                        "admin with an empty password)")
    seed = p.add_mutually_exclusive_group()
    seed.add_argument("--exercise", metavar="NAME",
                      help="each device starts from this exercise's configuration and clock "
                           "(see: fortishell lab list) (default: none)")
    seed.add_argument("--config", metavar="FILE",
                      help="each device starts from a copy of FILE (default: factory defaults)")
    p.add_argument("--clock", metavar="WHEN", type=options.clock,
                   help="each device's clock starts frozen at WHEN (default: the exercise's clock, else the real time)")
    p.add_argument("--reset", action="store_true",
                   help="remove the devices (configurations and histories; not the recorded transcripts) of this "
                        "room at start; with --shared "
                        "and no seed that is the local shell's default configuration (default: keep them)")
    return p


def serve_main(argv: list[str], *, state_dir: Path, clock: str | None = None,
               lab_server: str | None = None, config: str | None = None,
               acme_http_port: int | None = None) -> int:
    """Parse ``serve`` options and serve.  ``clock``/``config``: the global options (seed and
    clock of the devices); the subcommand's own ``--state-dir``/``--clock``/``--config`` win."""
    from ..classroom.runner import command_words, shell_line
    from .server import ServeOptions, ServerThread

    args = _parser().parse_args(argv)
    if config is not None:
        if args.exercise or args.config:
            print("fortishell serve: the global --config and --exercise/--config are alternatives", file=sys.stderr)
            return 2
        args.config = config
    base = Path(args.state_dir) if args.state_dir else Path(state_dir)
    users_path: Path | None = Path(args.users) if args.users else default_users_file(base)
    if not args.users and not default_users_file(base).is_file():
        users_path = None  # no users file: the factory admin
    try:
        users: UserSource = load_users(None) if users_path is None else LiveUsers(users_path)
    except UsersFileError as err:
        print(f"fortishell serve: {err}", file=sys.stderr)
        return 2
    seed, room, when_text = None, None, args.clock or clock
    if args.exercise:
        from ..classroom import catalogue

        try:
            ex = catalogue.load().get(args.exercise)
        except catalogue.CatalogueError as err:
            print(f"fortishell serve: {err.lines[0]}", file=sys.stderr)
            return 2
        seed, room, when_text = ex.config_path, ex.name, when_text or ex.clock
    elif args.config:
        seed = Path(args.config)
        if not seed.is_file():
            print(f"fortishell serve: no configuration file {seed}", file=sys.stderr)
            return 2
        room = "config-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in seed.stem)
    devices_dir = base / "rooms" / room if room else None
    if when_text:
        when = parse_clock_option(when_text)
        clock_factory: Callable[[], Clock] = lambda: Clock(when)  # noqa: E731
    else:
        clock_factory = Clock
    if args.reset:
        try:
            _reset(devices_dir or base, shared=args.shared)
        except FortiError as err:  # a device of the room is open elsewhere: not removed behind its back
            print("\n".join(err.output()), file=sys.stderr)
            return 1
    options_ = ServeOptions(base, host=args.host, port=args.port, shared=args.shared, users=users,
                            clock_factory=clock_factory, lab_server_url=lab_server, seed_config=seed,
                            devices_dir=devices_dir, ssh=not args.no_ssh, https_port=args.https_port,
                            acme_http_port=acme_http_port, session_name=room, log_stream=sys.stderr)
    if args.no_ssh and args.https_port is None:
        print("fortishell serve: --no-ssh needs --https-port (nothing would be served)", file=sys.stderr)
        return 2

    # The event loop runs on its own thread, the main thread only waits for Ctrl-C / SIGTERM: off
    # the main thread prompt_toolkit installs no SIGWINCH handler per prompt (a server has no
    # terminal to resize) and a session's command never takes the server's SIGINT for itself.
    _tune_gc()
    server = ServerThread(options_)
    try:
        server.start()
    except OSError as exc:
        server.stop()
        ports = ", ".join(str(p) for p in ([] if args.no_ssh else [args.port]) + (
            [] if args.https_port is None else [args.https_port]))
        print(f"fortishell serve: cannot listen on {args.host}:{ports}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    if args.shared:
        # the shared device (and the lock of its file, cmdb/owner.py) is taken now, not at the first
        # login: a configuration a local shell owns is refused here, and one served here is refused there
        try:
            server.registry.open_shared()
        except FortiError as err:
            server.stop()
            print("\n".join(err.output()), file=sys.stderr)
            return 1
    mode = "one shared device" if args.shared else "one device per user"
    if seed is not None:
        mode += f", each starting from {args.exercise or seed}" + (f" at {when_text}" if when_text else "")
    # handlers first: a SIGTERM sent right after the start-up line is a clean stop
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    doors = [] if args.no_ssh else [f"SSH on {args.host}:{server.port}"]
    if args.https_port is not None:
        doors.append(f"REST API on https://{args.host}:{server.https_port}/api/v2/")
    print(f"fortishell: {', '.join(doors)} ({mode}, devices in {options_.devices_root}); "
          f"users: {', '.join(users.names) or '(none)'}", file=sys.stderr, flush=True)
    if not args.no_ssh:
        print(f"fortishell: logins logged here and in {options_.devices_root / LOG_NAME}; terminal sessions "
              f"recorded in {options_.devices_root / 'users' / 'USER' / TRANSCRIPTS}", file=sys.stderr, flush=True)
    if users_path is None:
        share = ("one shared device" if args.shared else
                 "one device and one transcript folder, as every login is the same user")
        add = shell_line([*command_words(), "users", "add", "NAME", "--users", str(default_users_file(base))])
        print(f"fortishell: no users file: everyone logs in as {FACTORY_ADMIN} with an empty password and "
              f"shares {share}; give each student a login with: {add} (then restart serve)",
              file=sys.stderr, flush=True)
    if args.exercise:
        grade = shell_line([*command_words(), "lab", "grade", args.exercise, str(options_.devices_root)])
        print(f"fortishell: grade the room with: {grade}", file=sys.stderr, flush=True)
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


def _reset(root: Path, *, shared: bool) -> None:
    """``--reset``: remove the devices under ``root`` (each starts again from its seed); the users'
    recorded sessions (``users/USER/transcripts/``) are kept.

    Each configuration file is locked (cmdb/owner.py) while it is removed: a device open in another
    process raises :class:`ConfigInUse` and nothing is removed.
    """
    users = root / "users"
    configs = sorted(users.glob("*/fortishell.conf")) + ([root / "fortishell.conf"] if shared else [])
    with ExitStack() as held:
        for config in configs:
            held.callback(owner.acquire(config, log).release)
        if users.is_dir():  # each user's recorded sessions are kept (grading), the rest goes
            for user in users.iterdir():
                if not user.is_dir() or user.is_symlink():
                    user.unlink()
                    continue
                for item in user.iterdir():
                    if item.name == TRANSCRIPTS:
                        continue
                    if item.is_dir() and not item.is_symlink():
                        shutil.rmtree(item)
                    else:
                        item.unlink()
                if not any(user.iterdir()):
                    user.rmdir()
        if shared:
            for name in ("fortishell.conf", "history"):
                (root / name).unlink(missing_ok=True)
