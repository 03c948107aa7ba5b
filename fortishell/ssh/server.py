"""``fortishell serve``: the shell over SSH (asyncssh; each channel a prompt_toolkit app session).

Each SSH session runs the very same :meth:`fortishell.frontend.interact.Repl.interact` as the
local terminal (completion, ``?``, history, background output above the
prompt), with the ``--More--`` pager on.

Devices (per user, or one ``--shared``; seeded rooms): :mod:`.devices`.

Each session has its own mode stack and edit buffer.  Debug settings
(``diagnose debug ...``) belong to the device: on a real box they are per CLI
session, but the emulated device has one tracer; a trace produced by a command
goes to the session that ran the command, background output (renewals) to
every session on the device.  That choice is the closest match possible without
per-session tracers in the shell.

History is per user: ``<devices dir>/users/<user>/history`` (secrets masked).
The host key is generated once: ``<state dir>/ssh_host_ed25519_key``.

On the wire the session behaves like FortiOS: typed input is echoed, lines end
with ``\\r\\n``, a blank line precedes each prompt, ``exit`` at the root prompt
closes the session with exit status 0 and Ctrl-C abandons a running command.
Exec requests (``ssh host 'get system status'``) and sessions without a
terminal (``ssh -T host < script``) run their lines as ``fortishell run``
does (:mod:`.script`).  Key exchange offers
``diffie-hellman-group-exchange-sha256`` and ``diffie-hellman-group14-sha1``
among others (netmiko restricts itself to the classic Diffie-Hellman groups).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

import asyncssh
from prompt_toolkit.application.current import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from ..errors import FortiError
from ..frontend.fastline import FastLines
from ..frontend.interact import Repl
from .devices import DeviceRegistry, ServeOptions
from .logins import one_word, peer_text
from .users import UserSource
from .hostkey import load_or_create_host_key
from .script import LineFeed

if TYPE_CHECKING:
    from ..shell.device import Device

__all__ = ["DeviceRegistry", "ServeOptions", "ServerThread", "SshServer", "start_server"]

log = logging.getLogger("fortishell.ssh")

KEX_ALGS = [
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group14-sha1",  # netmiko's fortinet driver
]
DEFAULT_SIZE = Size(rows=24, columns=80)  # a session without a pty (or a 0x0 one)
BOOT_ERROR = "Internal error, the device could not be started (details in the server log)."


class ShellSession(asyncssh.SSHServerSession):  # type: ignore[type-arg]
    """One SSH channel running :meth:`Repl.interact` in its own prompt_toolkit app session.

    The channel is opened without asyncssh's line editor: the shell echoes and
    edits lines itself (:class:`~fortishell.frontend.echo.PlainEcho`).  Input
    goes into a prompt_toolkit pipe; output leaves through :class:`_ChannelText`.
    """

    def __init__(self, interact: Callable[["ShellSession"], Awaitable[None]],
                 script: Callable[["ShellSession"], Awaitable[int]] | None = None) -> None:
        self._interact = interact
        self._script = script
        self.command: str | None = None  # an exec request's command
        self.feed: LineFeed | None = None  # lines of a session without a terminal (see .script)
        self.channel: Any = None  # asyncssh.SSHServerChannel[str]
        self.username = ""
        self.repl: Repl | None = None
        self.input: PipeInput | None = None
        self.fast: FastLines | None = None  # a terminal session's whole-line input (see frontend.fastline)
        self.stdout = _ChannelText(self)
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, chan: Any) -> None:
        self.channel = chan
        self.loop = asyncio.get_running_loop()
        self.username = str(chan.get_extra_info("username") or "")

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        """``ssh host 'get system status'``: run the command's lines (see :mod:`.script`)."""
        self.command = command
        return self._script is not None

    def terminal_size(self) -> Size:
        """The client's terminal size (a session without a pty, or a 0x0 one: 80x24)."""
        if self.channel is None:
            return DEFAULT_SIZE
        width, height, _pw, _ph = self.channel.get_terminal_size()
        return Size(rows=height, columns=width) if height > 0 and width > 0 else DEFAULT_SIZE

    def session_started(self) -> None:
        chan = self.channel
        if self._script is not None and (self.command is not None or chan.get_terminal_type() is None):
            self.feed = LineFeed()
            self.stdout.crlf = False
            if self.command is not None:
                self.feed.feed(self.command)
                self.feed.end()
            self.task = asyncio.get_running_loop().create_task(self._run_script(self._script))
            return
        self.fast = FastLines(self._to_editor, before_wait=self.stdout.drain)
        self.task = asyncio.get_running_loop().create_task(self._run())

    def _to_editor(self, data: str) -> None:
        """Input for the line editor (prompt_toolkit), runs of ordinary characters as pastes."""
        if self.input is not None:
            self.input.send_text(_as_pastes(data))

    async def _run_script(self, script: Callable[["ShellSession"], Awaitable[int]]) -> None:
        status = 1
        try:
            status = await script(self)
        except Exception:  # the session ends; the server and the other sessions go on
            log.exception("SSH exec session of %s failed", self.username)
        finally:
            self.stdout.drain()
            try:
                self.channel.exit(status)
            except (OSError, asyncssh.Error):
                pass  # the client is already gone: nobody to tell the status to

    def eof_received(self) -> bool:
        """End of the client's input: a session without a terminal runs what it has and ends."""
        if self.feed is not None:
            self.feed.end()
        return True  # keep the channel open for the rest of the output

    async def _run(self) -> None:
        chan = self.channel
        output = Vt100_Output(cast(TextIO, self.stdout), self.terminal_size,
                              term=chan.get_terminal_type(), enable_cpr=False)
        with create_pipe_input() as inp:
            self.input = inp
            with create_app_session(input=inp, output=output):
                try:
                    await self._interact(self)
                except Exception:  # the session ends; the server and the other sessions go on
                    log.exception("SSH session of %s failed", self.username)
                finally:
                    self.stdout.drain()
                    try:
                        chan.exit(0)  # `exit` (or Ctrl-D) at the root prompt: exit status 0
                    except (OSError, asyncssh.Error):
                        pass  # the client is already gone

    def data_received(self, data: str, datatype: object) -> None:
        if self.feed is not None:
            if self.command is None:  # an exec request ignores standard input
                self.feed.feed(data)
            return
        data = data.replace("\r\n", "\r")  # one Enter, whichever line end the client sends
        repl = self.repl
        if repl is not None and repl.busy and "\x03" in data:
            repl.abort()
            data = data.replace("\x03", "")
            if not data:
                return
        if self.fast is not None:
            self.fast.feed(data)
        else:
            self._to_editor(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """The client went away: end the session (its prompt sees end of input)."""
        if self.repl is not None:
            self.repl.hangup()
        if self.input is not None:
            self.input.close()
        if self.fast is not None:
            self.fast.close()
        if self.feed is not None:
            self.feed.end()

    def break_received(self, msec: int) -> bool:
        if self.repl is not None and self.repl.busy:
            self.repl.abort()
        return True


_PLAIN_RUN = re.compile(r"[^\x00-\x1f\x7f?]{2,}")


def _as_pastes(data: str) -> str:
    """Runs of ordinary characters as bracketed pastes: one key event instead of one per character.

    Automation sends whole lines at once; typed one by one, each character
    would go through the key processor and the echo separately.  Control
    keys, Tab, ``?`` and escape sequences stay keys.  The echo is the same.
    """
    if "\x1b" in data:  # the client speaks escape sequences itself: leave it alone
        return data
    return _PLAIN_RUN.sub(lambda m: f"\x1b[200~{m.group(0)}\x1b[201~", data)


class _ChannelText:
    """The text stream prompt_toolkit writes to: straight onto the channel, ``\n`` sent as ``\r\n``.

    The channel has no line editor (the server is created with
    ``line_editor=False``): what is written here is what the client receives.
    """

    def __init__(self, session: "ShellSession") -> None:
        self._session = session
        self._pending: list[str] = []
        self.crlf = True  # a terminal's line ends; a session without one gets "\n" as written

    def write_threadsafe(self, data: str) -> None:
        """:meth:`write` from another thread (the command thread of a session without a terminal)."""
        self._loop.call_soon_threadsafe(self.write, data)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return self._session.loop

    def write(self, data: str) -> None:
        """Queue ``data``; everything written in one event-loop turn leaves as one SSH packet."""
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._send)
        self._pending.append(data)

    def drain(self) -> None:
        """Send what is queued now (before the channel closes)."""
        self._send()

    def _send(self) -> None:
        data, self._pending = "".join(self._pending), []
        chan = self._session.channel
        if chan is None or not data:
            return
        try:
            chan.write(data.replace("\n", "\r\n") if self.crlf else data)
        except (BrokenPipeError, OSError, asyncssh.Error):
            pass  # the channel is closing

    def isatty(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    @property
    def encoding(self) -> str:
        return "utf-8"


class ShellServer(asyncssh.SSHServer):
    """Authentication against the users file; one :class:`ShellSession` per channel."""

    def __init__(self, registry: DeviceRegistry, users: UserSource) -> None:
        self.registry = registry
        self.users = users
        self._conn: Any = None
        self.peer = "-"  # host:port of the client (the login log)
        self._method = "publickey"  # how the login succeeded (asyncssh checks keys itself)

    def connection_made(self, conn: Any) -> None:
        self._conn = conn
        self.peer = peer_text(conn.get_extra_info("peername"))
        self.registry.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.connections.discard(self._conn)

    def auth_completed(self) -> None:
        user = str(self._conn.get_extra_info("username") or "") if self._conn is not None else ""
        self.registry.logins.write("login ok", user, self.peer, method=self._method)

    def begin_auth(self, username: str) -> bool:
        user = self.users.get(username)
        if user is None:
            return True  # every method will fail
        if not user.needs_auth:
            self._method = "none"
        if user.authorized_keys and self._conn is not None:
            try:
                keys = asyncssh.import_authorized_keys("\n".join(user.authorized_keys) + "\n")
                self._conn.set_authorized_keys(keys)
            except (ValueError, asyncssh.KeyImportError):
                log.warning("bad authorized key for user %s", username)
        return user.needs_auth

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        user = self.users.get(username)
        if user is None:
            self.registry.logins.write("login failed", username, self.peer, reason="unknown-user")
            return False
        if not user.check_password(password):
            self.registry.logins.write("login failed", username, self.peer, reason="wrong-password")
            return False
        self._method = "password"
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def session_requested(self) -> ShellSession:
        return ShellSession(self._interact, self._script)

    async def _device_for(self, ssh_session: ShellSession) -> Device | None:
        """The login's device; None (the reason written to the session, logged) when it cannot boot."""
        user = ssh_session.username
        try:
            return await asyncio.get_running_loop().run_in_executor(None, self.registry.device_for, user)
        except FortiError as exc:  # e.g. a configuration file that does not load
            log.error("cannot open the device of %s: %s", user, exc)
            ssh_session.stdout.write("\n".join(exc.output()) + "\n")
        except Exception:  # noqa: BLE001 - never a traceback on the wire: logged here, one line there
            log.exception("cannot open the device of %s", user)
            ssh_session.stdout.write(BOOT_ERROR + "\n")
        return None

    async def _script(self, ssh_session: ShellSession) -> int:
        """An exec request or a session without a terminal (see :mod:`.script`): its exit status."""
        from .script import run_lines

        loop = asyncio.get_running_loop()
        device = await self._device_for(ssh_session)
        if device is None:
            return 1
        assert ssh_session.feed is not None
        return await loop.run_in_executor(None, run_lines, device, ssh_session.feed,
                                          ssh_session.stdout.write_threadsafe)

    async def _interact(self, ssh_session: ShellSession) -> None:
        user = ssh_session.username
        device = await self._device_for(ssh_session)
        if device is None:
            return
        history = self.registry.history_for(user)
        if not self.registry.options.record:
            await self._unrecorded(ssh_session, device, history)
            return
        await self._recorded(ssh_session, device, history)

    async def _unrecorded(self, ssh_session: ShellSession, device: Device, history: Any) -> None:
        repl = Repl(device, history=history, paging=True, plain=True, fast=ssh_session.fast)
        ssh_session.repl = repl
        try:
            await repl.interact()
        finally:
            ssh_session.repl = None

    async def _recorded(self, ssh_session: ShellSession, device: Device, history: Any) -> None:
        """The session recorded as ``lab start`` records one (see :mod:`.devices`).  A transcript
        that cannot be opened or written (a full disk) does not end the session: the trainer is
        told in the login log and the session goes on unrecorded."""
        from ..classroom.record import RecordingRepl

        user = ssh_session.username

        def failed(exc: OSError) -> None:
            log.error("cannot record the session of %s: %s", user, exc)
            reason = "-".join((exc.strerror or str(exc)).lower().split())
            self.registry.logins.write("session unrecorded", user, self.peer, reason=one_word(reason))

        try:
            path, file = self.registry.open_transcript(user)
        except OSError as exc:
            failed(exc)
            await self._unrecorded(ssh_session, device, history)
            return
        record = _Record(file, failed)
        recording = RecordingRepl(device, history=history, paging=True, plain=True, fast=ssh_session.fast,
                                  record=cast(IO[str], record))
        ssh_session.repl = recording
        try:
            await recording.interact()
        finally:
            ssh_session.repl = None
            if recording.last_command and not recording.ended_by_exit:
                record.write(recording.session.prompt)  # the screen's last prompt, as `lab start` ends
            record.close()
            self._recorded_end(ssh_session, path, record)

    def _recorded_end(self, ssh_session: ShellSession, path: Path, record: "_Record") -> None:
        try:
            if path.stat().st_size == 0:
                path.unlink()  # nothing typed: no transcript
                return
        except OSError:
            return
        if record.broken:
            return  # said when it broke
        where = path
        try:
            where = path.relative_to(self.registry.options.devices_root)
        except ValueError:
            pass
        self.registry.logins.write("session end", ssh_session.username, self.peer, transcript=str(where))


class _Record:
    """A transcript file whose write errors are reported once and then ignored (the session goes on)."""

    def __init__(self, file: IO[str], on_error: Callable[[OSError], None]) -> None:
        self._file = file
        self._on_error = on_error
        self.broken = False

    def _failed(self, exc: OSError) -> None:
        if not self.broken:
            self.broken = True
            self._on_error(exc)

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._file.write(text)
            except OSError as exc:
                self._failed(exc)
        return 0

    def flush(self) -> None:
        if not self.broken:
            try:
                self._file.flush()
            except OSError as exc:
                self._failed(exc)

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:
            self._failed(exc)


class SshServer:
    """A running server on an event loop: ``port`` (SSH), ``https_port`` (REST), ``close()``."""

    def __init__(self, acceptor: Any, registry: DeviceRegistry, rest: Any = None) -> None:
        self.acceptor = acceptor  # None: SSH switched off (`serve --no-ssh`)
        self.registry = registry
        self.rest = rest  # a fortishell.rest.server.RestServer, or None

    @property
    def port(self) -> int:
        return int(self.acceptor.sockets[0].getsockname()[1]) if self.acceptor is not None else 0

    @property
    def https_port(self) -> int:
        return int(self.rest.port) if self.rest is not None else 0

    async def close(self) -> None:
        """Stop listening, end every session and REST connection, close the devices."""
        if self.rest is not None:
            await self.rest.close()
        if self.acceptor is not None:
            self.acceptor.close()
            await self.acceptor.wait_closed()
        for conn in list(self.registry.connections):
            conn.close()
        for _ in range(100):  # let the sessions see their connection go
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if not pending:
                break
            await asyncio.sleep(0.02)
        await asyncio.get_running_loop().run_in_executor(None, self.registry.close)


async def start_server(options: ServeOptions) -> SshServer:
    """Listen on ``options.host``/``options.port`` (host key created on first use)."""
    # the classic groups netmiko needs are "deprecated" by cryptography: no console noise for that
    warnings.filterwarnings("ignore", message=".*Diffie-Hellman over finite fields.*")
    state_dir = Path(options.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    key = load_or_create_host_key(state_dir)
    registry = DeviceRegistry(options)
    rest = None
    if options.https_port is not None:  # the REST door: same loop, same devices
        from ..rest.server import start_rest

        rest = await start_rest(registry, options.users, host=options.host, port=options.https_port,
                                state_dir=state_dir)
    if not options.ssh:
        return SshServer(None, registry, rest)
    acceptor = await asyncssh.create_server(
        lambda: ShellServer(registry, options.users),
        options.host,
        options.port,
        server_host_keys=[key],
        kex_algs=KEX_ALGS,
        gss_host=None,
        line_editor=False,  # the shell echoes and edits lines itself
        x11_forwarding=False,
        agent_forwarding=False,
        allow_scp=False,
        keepalive_interval=0,
        login_timeout=60,
    )
    return SshServer(acceptor, registry, rest)


class ServerThread:
    """The server on its own event loop thread (tests, the benchmark): ``with ServerThread(opts) as s``."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.server: SshServer | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="fortishell-ssh", daemon=True)

    def start(self) -> "ServerThread":
        self._thread.start()
        self.server = asyncio.run_coroutine_threadsafe(start_server(self.options), self.loop).result(30)
        return self

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    @property
    def https_port(self) -> int:
        assert self.server is not None
        return self.server.https_port

    @property
    def registry(self) -> DeviceRegistry:
        assert self.server is not None
        return self.server.registry

    def stop(self) -> None:
        """Close the server, its sessions and devices; stop the loop (idempotent)."""
        if self.loop.is_closed():
            return
        if self.server is not None:
            try:
                asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(30)
            finally:
                self.server = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
