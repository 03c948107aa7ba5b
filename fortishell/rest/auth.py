"""Who is calling: API keys of ``config system api-user``, login sessions, access profiles.

* ``Authorization: Bearer <key>`` — the key of an API user (``execute api-user
  generate-key``) in the configuration of one of the served devices; the key
  picks the device.  ``?access_token=<key>`` only when that device has ``config
  system global`` / ``set rest-api-key-url-query enable`` (FortiOS 7.4.5+), else 401.
* a login session (``POST /api/v2/authentication`` or ``/logincheck`` with a user
  of the users file, as for SSH): ``Bearer <session_key>`` or the session cookie;
  with the cookie, writes must echo the CSRF cookie as ``X-CSRFTOKEN``.  An admin
  of the users file has every right on their device.
* an API user's rights come from its ``accprofile``: the permission group of the
  request's path (``system.*`` -> ``sysgrp``, ``vpn.*`` and ``vpn-certificate/*``
  -> ``vpngrp``, ``log`` -> ``loggrp``; others ``sysgrp``) must be ``read`` for GET,
  ``read-write`` otherwise; 403 otherwise.  A profile that does not exist grants nothing.

Failed logins are logged and rate-limited per client address as FortiOS does with its
``admin-lockout-threshold`` / ``admin-lockout-duration`` defaults: after 3 failures the
address is locked out for 60 seconds, whatever it sends (:class:`Lockout`).

An API user with ``config trusthost`` entries is taken only from an address inside one of them
(``ipv4-trusthost`` / ``ipv6-trusthost`` by the entry's ``type``; an IPv4-mapped IPv6 peer counts
as IPv4); without entries from any address.  Elsewhere its key is refused as an unknown key is
(401), and the login log says ``reason=untrusted-host`` (our choice: the device logs a failed API
login).  Login sessions of the users file have no trusthost here (the users file has none).

An API user touches only the vdoms of its ``set vdom`` list (:meth:`Principal.vdoms`; what a
request for another vdom gets is in ``vdoms.py``); an admin of the users file every vdom.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..cmdb.entry import Entry
from ..cmdb.schema import GLOBAL
from ..cmdb.schema_admin import ACCPROFILE, API_USER, TRUSTHOST
from ..cmdb.types import DEVICE_VDOMS
from .apikey import verify_key
from .memo import EntryMemo

SESSION_SECONDS = 5 * 60  # admintimeout's default (5 minutes), renewed by every request


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the device it acts on, its name, its API user (None: an admin)."""

    device: Any
    name: str
    api_user: str | None = None
    csrf: str | None = None  # a cookie session: the token writes must echo

    def may(self, group: str, write: bool) -> bool:
        if self.api_user is None:
            return True
        grant = GRANTS.of(self.device, self.api_user)
        level = grant.levels.get(group) if grant is not None else None
        return bool(level == "read-write" or level == "read" and not write)

    def vdoms(self) -> tuple[str, ...]:
        """The device's vdoms this caller may touch: all for an admin, an API user's ``vdom`` list."""
        if self.api_user is None:
            return DEVICE_VDOMS
        grant = GRANTS.of(self.device, self.api_user)
        return grant.vdoms if grant is not None else ()


def trusted(principal: Principal, address: str | None) -> bool:
    """Whether ``address`` (the client's) is among the API user's trusthosts (True for an admin)."""
    if principal.api_user is None:
        return True
    grant = GRANTS.of(principal.device, principal.api_user)
    if grant is None:
        return False
    if grant.hosts is None:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in grant.hosts)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Grant:
    """What an API user may do: its vdoms, its access profile's level of each group (a group the
    profile lacks is absent), its trusthost networks (None: no entries, any address)."""

    vdoms: tuple[str, ...]
    levels: dict[str, Any]
    hosts: tuple[Network, ...] | None


def make_grant(user: Entry, profile: Entry | None) -> Grant:
    names = user.get("vdom")
    levels = {a.name: profile.get(a.name) for a in profile.spec.attrs} if profile is not None else {}
    entries = user.sub(TRUSTHOST)
    hosts: list[Network] | None = None
    if isinstance(entries, dict) and entries:
        hosts = []
        for entry in entries.values():
            try:
                if entry.get("type") == "ipv6-trusthost":
                    hosts.append(ipaddress.IPv6Network(str(entry.get("ipv6-trusthost")), strict=False))
                else:
                    hosts.append(ipaddress.IPv4Network(str(entry.get("ipv4-trusthost")).replace(" ", "/"),
                                                       strict=False))
            except ValueError:
                continue  # an unreadable entry trusts nothing
    return Grant(tuple(v for v in DEVICE_VDOMS if isinstance(names, list) and v in names), levels,
                 None if hosts is None else tuple(hosts))


class Grants:
    """An API user's :class:`Grant`, worked out once per pair of entries (the user's, its
    profile's): a new user or profile entry is a new pair and the next request sees the change
    (``memo.EntryMemo``); at most ``size`` pairs."""

    def __init__(self, size: int = 256) -> None:
        self._memo: EntryMemo[Grant] = EntryMemo(size)
        self._size = size
        # (CMDB id, user) -> (that CMDB, its version, the grant then): a request asks three times
        # (trusthost, access level, vdoms), and every request of an unchanged configuration again
        self._now: dict[tuple[int, str], tuple[Any, int, Grant | None]] = {}

    def of(self, device: Any, name: str) -> Grant | None:
        """API user ``name``'s grant on ``device`` now (None: no such user)."""
        cmdb = device.cmdb
        version = cmdb.version  # read first: entries read after it are at least that new
        hit = self._now.get((id(cmdb), name))
        if hit is not None and hit[0] is cmdb and hit[1] == version:
            return hit[2]
        grant = self._of(cmdb, name)
        if len(self._now) >= self._size:
            self._now.clear()
        self._now[(id(cmdb), name)] = (cmdb, version, grant)
        return grant

    def _of(self, cmdb: Any, name: str) -> Grant | None:
        user = cmdb.entry(API_USER, name)
        if user is None:
            return None
        profile = cmdb.entry(ACCPROFILE, str(user.get("accprofile")))
        grant = self._memo.get(id(user), (user, profile))
        if grant is None:
            grant = make_grant(user, profile)
            self._memo.put(id(user), (user, profile), grant)
        return grant


GRANTS = Grants()


def group_of(kind: str, path: str) -> str:
    """The access-profile group of a request: ``kind`` cmdb|monitor, ``path`` its first segment."""
    head = path.split(".", 1)[0].split("/", 1)[0]
    if head.startswith("vpn"):
        return "vpngrp"
    if head == "log":
        return "loggrp"
    return "sysgrp"


def url_query_allowed(device: Any) -> bool:
    entry = device.cmdb.entry(GLOBAL)
    return entry is not None and entry.get("rest-api-key-url-query") == "enable"


class Keys:
    """API keys -> (device, API user); devices are looked through on a miss (opening them).

    A key verified once is remembered with the stored hash it matched: while the user's
    ``api-key`` is still that very string the key holds without hashing it again (a hash check
    was ~15% of a GET); a new key, an unset one or a deleted user is seen by the next request.
    """

    def __init__(self, devices: Callable[[], list[Any]]) -> None:
        self._devices = devices
        self._known: dict[str, tuple[Principal, str]] = {}  # key -> (its caller, the hash it matched)
        self._lock = threading.Lock()

    def cached(self, key: str) -> Principal | None:
        """The caller of a key seen before, if the key still holds (no blocking)."""
        with self._lock:
            hit = self._known.get(key)
        if hit is None:
            return None
        who, matched = hit
        stored = _stored(who.device, who.name)
        if stored and stored == matched:
            return who
        if stored and verify_key(key, stored):  # the same key hashed again (written back, restored)
            with self._lock:
                self._known[key] = (who, stored)
            return who
        with self._lock:
            self._known.pop(key, None)
        return None

    def lookup(self, key: str) -> Principal | None:
        """Every device's API users (may open devices: call off the event loop)."""
        found = self.cached(key)
        if found is not None:
            return found
        if not key:
            return None
        for device in self._devices():
            for user in device.cmdb.entries(API_USER):
                name = str(user.key)
                stored = _stored(device, name)
                if stored and verify_key(key, stored):
                    who = Principal(device, name, name)
                    with self._lock:
                        self._known[key] = (who, stored)
                    return who
        return None


def _stored(device: Any, name: str) -> str:
    """The ``api-key`` hash API user ``name`` has now ("" without one, or without the user)."""
    user = device.cmdb.entry(API_USER, name)
    stored = user.get("api-key") if user is not None else None
    return str(stored) if stored else ""


@dataclass
class _Session:
    user: str
    device: Any
    csrf: str
    expires: float


class Sessions:
    """Login sessions (``/api/v2/authentication``, ``/logincheck``): key -> user, CSRF token."""

    def __init__(self, seconds: float = SESSION_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._by_key: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def open(self, user: str, device: Any) -> tuple[str, str]:
        key, csrf = secrets.token_urlsafe(24), secrets.token_hex(16)
        with self._lock:
            now = self._clock()
            for k in [k for k, s in self._by_key.items() if s.expires < now]:
                del self._by_key[k]
            self._by_key[key] = _Session(user, device, csrf, now + self._seconds)
        return key, csrf

    def get(self, key: str, *, cookie: bool) -> Principal | None:
        with self._lock:
            s = self._by_key.get(key)
            now = self._clock()
            if s is None:
                return None
            if s.expires < now:
                del self._by_key[key]
                return None
            s.expires = now + self._seconds
            return Principal(s.device, s.user, None, s.csrf if cookie else None)

    def close(self, key: str) -> bool:
        with self._lock:
            return self._by_key.pop(key, None) is not None


class Lockout:
    """Failed logins per client address: ``threshold`` failures lock it out for ``seconds``."""

    def __init__(self, threshold: int = 3, seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold, self._seconds, self._clock = threshold, seconds, clock
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def locked(self, who: str) -> bool:
        with self._lock:
            until = self._until.get(who)
            if until is None:
                return False
            if self._clock() >= until:
                del self._until[who]
                return False
            return True

    def failed(self, who: str) -> None:
        with self._lock:
            n = self._failures.get(who, 0) + 1
            if n >= self._threshold:
                self._until[who] = self._clock() + self._seconds
                n = 0
            self._failures[who] = n

    def succeeded(self, who: str) -> None:
        with self._lock:
            self._failures.pop(who, None)
