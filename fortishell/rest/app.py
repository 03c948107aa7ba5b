"""The REST door: an aiohttp application over the served devices.

Routes (FortiOS 7.6 paths): ``/api/v2/cmdb/<path>/<name>[/<mkey>]`` (cmdb_api),
``/api/v2/monitor/<endpoint>`` (monitor), ``/api/v2/authentication`` (session
login / logout), ``/logincheck`` and ``/logout`` (the legacy form login).  Every
answer is the device's JSON envelope; any failure becomes one (an unexpected
error is logged with its traceback on the ``fortishell.rest`` logger and answered
500, never a traceback on the wire).  Bodies are JSON whatever the Content-Type
says (Ansible sends JSON as ``application/x-www-form-urlencoded``); the body limit
is :data:`MAX_BODY` (413 above it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

from aiohttp import web

from ..frontend.priority import admitted, priority_of
from ..ssh.logins import peer_text
from . import auth, cmdb_api, envelope, monitor, monitor_certs, vdoms
from .envelope import RestError
from .reads import ReadCache, read_on
from .runner import run_on

log = logging.getLogger("fortishell.rest")

MAX_BODY = 4 * 1024 * 1024  # certificates and PKCS#12 files travel base64 in JSON bodies
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

KEYS = web.AppKey("keys", auth.Keys)
SESSIONS = web.AppKey("sessions", auth.Sessions)
LOCKOUT = web.AppKey("lockout", auth.Lockout)
READS = web.AppKey("reads", ReadCache)
DeviceFor = Callable[[str], Any]
CheckLogin = Callable[[str, str], "str | None"]  # None: the password is right; else why not


class LoginNotes(Protocol):
    """Where logins are written: serve's login log (``ssh/logins.py``), shared with the SSH door."""

    def write(self, what: str, user: str, peer: str, **fields: str) -> None: ...


class _NoNotes:
    def write(self, what: str, user: str, peer: str, **fields: str) -> None:
        pass


DEVICE_FOR: web.AppKey[DeviceFor] = web.AppKey("device_for")
CHECK_LOGIN: web.AppKey[CheckLogin] = web.AppKey("check_login")
LOGINS: web.AppKey[LoginNotes] = web.AppKey("logins")
METHOD = "https"  # the login log's method= of the REST door (SSH: password, publickey, none)


def _peer(request: web.Request) -> str:
    transport = request.transport
    return peer_text(transport.get_extra_info("peername") if transport is not None else None)


def _note(request: web.Request, what: str, user: str, **fields: str) -> None:
    request.app[LOGINS].write(what, user, _peer(request), **fields, method=METHOD)


# Compact: FortiOS indents its answers, but no client depends on the whitespace, and the
# standard library's C encoder only writes compact JSON (indenting took 0.2 ms a request).  One
# encoder for every answer (json.dumps with separators builds a new one each call).
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _encode(body: Any) -> bytes:
    return _ENCODER.encode(body).encode()


def _reply(body: dict[str, Any], status: int | None = None) -> web.Response:
    return web.Response(body=_encode(body), status=status or body["http_status"], content_type="application/json")


def _fail(request: web.Request, err: RestError) -> web.Response:
    return _reply(envelope.error(request.method, err, vdom=None))


def guarded(handler: Handler) -> Handler:
    """``handler`` with every failure an envelope: RestError, aiohttp's own HTTP errors (413 ...)
    and anything unexpected (logged with its traceback, 500).  A wrapper around each route rather
    than a middleware: aiohttp runs an application with middlewares through two more coroutines
    per request (the middleware and its own current-app fixer), for a router that has a route for
    every path and method anyway (unknown paths: ``not_found``; methods: each handler's own 405)."""

    async def run(request: web.Request) -> web.StreamResponse:
        # interactive SSH sessions of the loop first (frontend/priority.py): while one is active, a
        # few requests start per loop turn and the others wait their turn here
        gate = priority_of(asyncio.get_running_loop())
        waiter = gate.enter()
        if waiter is not None:
            await admitted(gate, waiter)
        try:
            return await handler(request)
        except RestError as err:
            return _fail(request, err)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _fail(request, RestError(exc.status))
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception:  # noqa: BLE001 - the boundary: logged with its traceback, one envelope out
            log.exception("REST %s %s failed", request.method, request.path)
            return _fail(request, RestError(500, -1))

    return run


# ------------------------------------------------------------------ requests
async def _body(request: web.Request) -> Any:
    raw = await request.read()  # 413 (HTTPRequestEntityTooLarge) above client_max_size
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RestError(400, -1) from None


async def _form_body(request: web.Request) -> dict[str, Any]:
    """A ``multipart/form-data`` (or urlencoded form) body of a monitor action: one dict, a file
    part as its raw bytes, other fields as text (aiohttp's own form parser)."""
    try:
        form = await request.post()
    except (ValueError, LookupError):  # a malformed form, a charset Python does not know
        raise RestError(400, -1) from None
    out: dict[str, Any] = {}
    for key, value in form.items():
        out[key] = value.file.read() if isinstance(value, web.FileField) else value
    return out


async def _monitor_body(request: web.Request) -> Any:
    # Ansible sends JSON as application/x-www-form-urlencoded: only multipart is read as a form.
    if request.content_type == "multipart/form-data":
        return await _form_body(request)
    return await _body(request)


def _segments(request: web.Request, prefix: str) -> list[str]:
    raw = request.rel_url.raw_path[len(prefix):]
    if "%" not in raw:  # nothing escaped (the usual path): the segments as they are
        return [s for s in raw.split("/") if s != ""]
    return [unquote(s) for s in raw.split("/") if s != ""]


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def _session_cookie(request: web.Request) -> str | None:
    for name, value in request.cookies.items():
        if name.startswith(("session_key_", "APSCOOKIE_")):
            return value
    return None


async def principal(request: web.Request) -> auth.Principal:
    """The caller, or 401 (also an API key used from outside its user's trusthosts)."""
    who = await _caller(request)
    if not auth.trusted(who, request.remote):
        _note(request, "login failed", who.name, reason="untrusted-host")
        raise RestError(401)
    return who


async def _caller(request: web.Request) -> auth.Principal:
    app = request.app
    token = _bearer(request)
    if token:
        found = app[SESSIONS].get(token, cookie=False) or app[KEYS].cached(token)
        if found is None:
            found = await asyncio.get_running_loop().run_in_executor(None, app[KEYS].lookup, token)
        if found is not None:
            return found
        _note(request, "login failed", "-", reason="unknown-api-key")
        raise RestError(401)
    cookie = _session_cookie(request)
    if cookie:
        found = app[SESSIONS].get(cookie, cookie=True)
        if found is not None:
            return found
        raise RestError(401)
    query_token = request.query.get("access_token")
    if query_token:
        found = app[KEYS].cached(query_token) or await asyncio.get_running_loop().run_in_executor(
            None, app[KEYS].lookup, query_token)
        if found is not None and auth.url_query_allowed(found.device):
            return found
        if found is None:
            _note(request, "login failed", "-", reason="unknown-api-key")
    raise RestError(401)


def _allowed(request: web.Request, who: auth.Principal, group: str, write: bool) -> None:
    if write and who.csrf is not None and request.headers.get("X-CSRFTOKEN", "").strip('"') != who.csrf:
        raise RestError(403)
    if not who.may(group, write):
        raise RestError(403)


# ------------------------------------------------------------------ handlers
CMDB_METHODS = frozenset(("GET", "POST", "PUT", "DELETE"))


async def cmdb_handler(request: web.Request) -> web.Response:
    method = request.method
    if method not in CMDB_METHODS:
        raise RestError(405)
    parts = _segments(request, "/api/v2/cmdb/")
    if len(parts) not in (2, 3):
        raise RestError(404)
    path, name, mkey = parts[0], parts[1], parts[2] if len(parts) == 3 else None
    who = await principal(request)
    write = method != "GET"
    _allowed(request, who, auth.group_of("cmdb", path), write)
    allowed = who.vdoms()
    asked = vdoms.asked(vdoms.param(request.query), allowed)
    scope_global = request.query.get("scope") == "global"
    if not write and not asked.many and vdoms.permitted(asked.names[0], allowed, scope_global=scope_global):
        return await _read(request, who, path, name, mkey, None if scope_global else asked.names[0])
    # the body is read only when some asked vdom is the caller's: a write to none of them is 403,
    # whatever the body holds (who may comes before what is sent)
    runs = any(vdoms.permitted(v, allowed, scope_global=scope_global) for v in asked.names)
    call = _call(request, path, name, mkey, await _body(request) if write and runs else None)
    answers = []
    outcome: dict[str, Any] | RestError | None = None
    for v in asked.names:
        vdom = None if scope_global else v
        if not vdoms.permitted(v, allowed, scope_global=scope_global):
            answers.append(envelope.error(method, RestError(403), vdom=vdom, path=path, name=name))
            continue
        if outcome is None:  # the request runs once: the device has one vdom
            try:
                # a write runs as a command (runner.py), a read only under the device lock (reads.py)
                outcome = await (run_on if write else read_on)(who.device,
                                                               lambda: cmdb_api.handle(who.device.cmdb, call))
            except RestError as err:
                outcome = err
        if isinstance(outcome, RestError):
            answers.append(_refused(method, outcome, vdom, path, name, mkey))
        else:
            answers.append(envelope.success(method, outcome, vdom=vdom, path=path, name=name))
    return _reply(answers[0]) if not asked.many else _reply_list(answers)


def _call(request: web.Request, path: str, name: str, mkey: str | None, body: Any) -> cmdb_api.Call:
    query = dict(request.query)
    query["vdom"] = vdoms.MANAGEMENT  # the one vdom a request runs in (vdoms.py: who may)
    return cmdb_api.Call(request.method, path, name, mkey, query, tuple(request.query.getall("filter", [])), body)


def _refused(method: str, err: RestError, vdom: str | None, path: str, name: str,
             mkey: str | None) -> dict[str, Any]:
    return envelope.error(method, err, vdom=vdom, path=path, name=name) | ({"mkey": mkey} if mkey is not None else {})


async def _read(request: web.Request, who: auth.Principal, path: str, name: str, mkey: str | None,
                vdom: str | None) -> web.Response:
    """A GET the caller may make, of one vdom: its answer from the read cache while the device's
    configuration is the one it was read from (``reads.ReadCache``), else read under the device
    lock (``reads.read_on``) and kept, unless it holds a secret (``cmdb_api.Fresh``: the device
    draws a new ``ENC`` ciphertext for every answer)."""
    # the cache key leaves an ?access_token= out: no key is kept in memory as part of a URL
    cache, device = request.app[READS], who.device
    url = request.raw_path  # as sent: the same bytes, the same answer (building a URL cost ~5 us)
    if "access_token" in request.query:
        url = str(request.rel_url.without_query_params("access_token"))
    body = cache.get(device, url)
    if body is None:
        call = _call(request, path, name, mkey, None)

        def work() -> tuple[Any, int, dict[str, Any]]:
            cmdb = device.cmdb
            return cmdb, cmdb.version, cmdb_api.handle(cmdb, call)

        try:
            cmdb, version, fields = await read_on(device, work)
        except RestError as err:
            return _reply(_refused("GET", err, vdom, path, name, mkey))
        body = _encode(envelope.success("GET", fields, vdom=vdom, path=path, name=name))
        if not isinstance(fields, cmdb_api.Fresh):  # an answer with a secret is drawn anew each time
            cache.put(device, url, cmdb, version, body)
    return web.Response(body=body, content_type="application/json")


def _reply_list(answers: list[dict[str, Any]]) -> web.Response:
    """vdom=*, global=1 or a list: one envelope per vdom, in a list (the device's multi-vdom answer),
    the HTTP status that of the first failure."""
    status = next((a["http_status"] for a in answers if a["http_status"] != 200), 200)
    return web.Response(body=_encode(answers), status=status,
                        content_type="application/json")


async def monitor_handler(request: web.Request) -> web.Response:
    rest = "/".join(_segments(request, "/api/v2/monitor/"))
    endpoint = monitor.find(rest, request.method)
    who = await principal(request)
    _allowed(request, who, auth.group_of("monitor", rest), endpoint.write)
    head, _, tail = rest.rpartition("/")
    allowed = who.vdoms()
    asked = vdoms.asked(vdoms.param(request.query), allowed)
    scope_global = request.query.get("scope") == "global"
    mine = [v for v in asked.names if vdoms.permitted(v, allowed, scope_global=scope_global)]
    fields: dict[str, Any] | monitor_certs.Download = {}
    if mine:  # the endpoint runs once: the device has one vdom
        if endpoint.admin_password and who.api_user is None:
            await _admin_password(request, who.name)
        body = await _monitor_body(request) if request.method != "GET" else None
        fields = await run_on(who.device, lambda: endpoint.run(who.device, request.query, body))
    if isinstance(fields, monitor_certs.Download):
        return web.Response(body=fields.data, content_type=fields.content_type,
                            headers={"Content-Disposition": f'attachment; filename="{fields.filename}"'})
    answers = [envelope.success(request.method, fields, vdom=v, path=head, name=tail) if v in mine else
               envelope.error(request.method, RestError(403), vdom=v, path=head, name=tail) for v in asked.names]
    return _reply(answers[0]) if not asked.many else _reply_list(answers)


async def _admin_password(request: web.Request, user: str) -> None:
    """FortiOS 7.6.5+: a session admin's ``api-user/generate-key`` carries the admin's own password
    in ``X-Admin-Passwd``.  Choices (the device's answer is not published): missing or wrong is
    403 with -37 (permission denied; not 401, which clients read as a lost session), logged as a
    failed login; a wrong one counts toward the address's lockout as a failed login does (a locked
    address is refused whatever it sends), a missing one does not (no password was guessed).  An
    API key caller sends no header: it has no password, and its key is the credential."""
    app = request.app
    remote = request.remote or "?"
    password = request.headers.get("X-Admin-Passwd", "")
    if app[LOCKOUT].locked(remote):
        refused: str | None = "locked-out"
    elif not password:
        refused = "missing-admin-password"
    else:
        refused = await asyncio.get_running_loop().run_in_executor(None, app[CHECK_LOGIN], user, password)
        if refused is not None:
            app[LOCKOUT].failed(remote)
        else:
            app[LOCKOUT].succeeded(remote)
    if refused is not None:
        log.warning("REST X-Admin-Passwd refused for %r from %s (%s)", user, remote, refused)
        _note(request, "login failed", user, reason=refused)
        raise RestError(403, -37)


def _cookies(response: web.StreamResponse, request: web.Request, key: str, csrf: str) -> None:
    port = request.url.port or 443
    response.set_cookie(f"session_key_{port}_fortishell", key, httponly=True, secure=True, samesite="Strict")
    response.set_cookie(f"ccsrf_token_{port}_fortishell", csrf, secure=True, samesite="Strict")
    response.set_cookie("ccsrftoken", csrf, secure=True, samesite="Strict")


async def _login(request: web.Request, username: str, password: str) -> tuple[str, str] | None:
    """A new session for a user of the users file; None (logged, counted) when refused."""
    app = request.app
    loop = asyncio.get_running_loop()
    remote = request.remote or "?"
    if app[LOCKOUT].locked(remote):
        log.warning("REST login refused for %r from %s: locked out after failed logins", username, remote)
        _note(request, "login failed", username, reason="locked-out")
        return None
    refused = await loop.run_in_executor(None, app[CHECK_LOGIN], username, password) if username \
        else "unknown-user"
    if refused is not None:
        log.warning("REST login failed for %r from %s", username, remote)
        _note(request, "login failed", username, reason=refused)
        app[LOCKOUT].failed(remote)
        return None
    app[LOCKOUT].succeeded(remote)
    _note(request, "login ok", username)
    device = await loop.run_in_executor(None, app[DEVICE_FOR], username)
    return app[SESSIONS].open(username, device)


async def authentication(request: web.Request) -> web.Response:
    """``POST /api/v2/authentication`` (7.6.3+ login), ``DELETE`` logs out."""
    if request.method not in ("POST", "DELETE"):
        raise RestError(404)  # as any path without a handler for the method
    if request.method == "DELETE":
        key = _bearer(request) or _session_cookie(request)
        closed = bool(key) and request.app[SESSIONS].close(str(key))
        return _reply({"status": "success" if closed else "error", "http_status": 200 if closed else 401},
                      200 if closed else 401)
    body = await _body(request)
    if not isinstance(body, dict):
        raise RestError(400, -1)
    username = str(body.get("username") or "")
    password = str(body.get("secretkey") or body.get("password") or "")
    opened = await _login(request, username, password)
    if opened is None:
        return _reply({"status": 0, "status_message": "LOGIN_FAILED", "http_status": 401}, 401)
    key, csrf = opened
    response = _reply({"status": 1, "status_message": "LOGIN_SUCCESS", "session_key": key, "http_status": 200})
    _cookies(response, request, key, csrf)
    return response


async def logincheck(request: web.Request) -> web.Response:
    """The legacy form login: ``username=..&secretkey=..``; ``1`` plus cookies on success, ``0`` else."""
    if request.method != "POST":
        raise RestError(404)
    raw = (await request.read()).decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    opened = await _login(request, form.get("username", ""), form.get("secretkey", form.get("password", "")))
    if opened is None:
        return web.Response(text="0", status=200, content_type="text/html")
    key, csrf = opened
    response = web.Response(text="1document.location=\"/ng/\";\n", content_type="text/html")
    _cookies(response, request, key, csrf)
    response.set_cookie("APSCOOKIE_fortishell", key, httponly=True, secure=True)
    return response


async def logout(request: web.Request) -> web.Response:
    key = _session_cookie(request) or _bearer(request)
    if key:
        request.app[SESSIONS].close(key)
    return web.Response(text="", status=200)


async def not_found(request: web.Request) -> web.Response:
    raise RestError(404)


def make_app(keys: auth.Keys, sessions: auth.Sessions, device_for: Callable[[str], Any],
             check_login: CheckLogin, lockout: auth.Lockout | None = None,
             logins: LoginNotes | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[KEYS], app[SESSIONS], app[DEVICE_FOR], app[CHECK_LOGIN] = keys, sessions, device_for, check_login
    app[LOGINS] = logins or _NoNotes()
    app[LOCKOUT] = lockout or auth.Lockout()
    app[READS] = ReadCache()
    # every path and method has its route (no middleware: guarded()); a method a handler does not
    # take is its own answer (the CMDB's 405; a login path's 404, as an unknown path)
    for path, handler in (("/api/v2/cmdb/{tail:.*}", cmdb_handler), ("/api/v2/monitor/{tail:.*}", monitor_handler),
                          ("/api/v2/authentication", authentication), ("/logincheck", logincheck),
                          ("/logout", logout), ("/{tail:.*}", not_found)):
        app.router.add_route("*", path, guarded(handler))
    return app
