"""The lab network: which host names reach the lab responder, and ``execute ping``.

A training lab has no internet.  :class:`LabNetwork` maps the lab host names
(``testrfc7030.com`` and its published address 54.70.32.33) to the EST
responder: the in-process one, started lazily on an ephemeral 127.0.0.1 port
the first time a lab host is contacted, or a shared classroom responder given
as ``--lab-server URL``.  Callers connect to the mapped address and still
verify TLS for the *original* host name (the lab server certificate names
``testrfc7030.com``).

Ping never sends ICMP: lab hosts answer with times measured by a TCP connect
to the responder, loopback answers at once, any other address loses every
packet, and names outside the lab do not resolve.  Choices where FortiOS is
not documented: every port of a lab host reaches the responder; the reply TTL
for lab hosts is the guide's 31 and 64 for loopback; there is no one-second
pause between packets (lab transcripts stay fast).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from ..clock import Clock
from ..errors import LabError
from .server import EstResponder, ResponderConfig

DEFAULT_HOSTS: dict[str, str] = {"testrfc7030.com": "54.70.32.33"}
LAB_TTL = 31
LOOPBACK_TTL = 64
STATE_SUBDIR = "est-lab"


class LabNetwork:
    def __init__(
        self,
        *,
        lab_server_url: str | None = None,
        state_dir: Path | None = None,
        clock: Clock | None = None,
        hosts: dict[str, str] | None = None,
    ) -> None:
        self.hosts = {k.lower(): v for k, v in (hosts or DEFAULT_HOSTS).items()}
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.clock = clock
        self.responder: EstResponder | None = None
        self._lock = threading.Lock()
        self._remote: tuple[str, int] | None = None
        if lab_server_url:
            parts = urlsplit(lab_server_url)
            if parts.scheme != "https" or not parts.hostname:
                raise LabError(f"Lab server URL must be https://host[:port], not '{lab_server_url}'")
            try:
                self._remote = (parts.hostname, parts.port or 443)
            except ValueError:
                raise LabError(f"Bad port in lab server URL '{lab_server_url}'") from None

    # ------------------------------------------------------------ host map
    def lab_host(self, host: str) -> str | None:
        """The lab host name ``host`` designates (a lab name or its display address), else None."""
        name = host.strip().rstrip(".").lower()
        if name in self.hosts:
            return name
        for lab, addr in self.hosts.items():
            if name == addr:
                return lab
        return None

    def resolve(self, host: str, port: int) -> tuple[str, int] | None:
        """Where to connect for ``host:port`` -- None for hosts outside the lab."""
        if self.lab_host(host) is None:
            return None
        return self._endpoint()

    def _endpoint(self) -> tuple[str, int]:
        if self._remote is not None:
            return self._remote
        with self._lock:
            if self.responder is None:
                state = self.state_dir / STATE_SUBDIR if self.state_dir is not None else None
                self.responder = EstResponder(ResponderConfig(state_dir=state, clock=self.clock)).start()
            return (self.responder.host, self.responder.port)

    def close(self) -> None:
        with self._lock:
            responder, self.responder = self.responder, None
        if responder is not None:
            responder.stop()

    # ------------------------------------------------------------ ping
    def ping(self, host: str, count: int = 5) -> list[str]:
        """``execute ping <host>`` output lines (FortiOS/busybox layout)."""
        name = host.strip()
        lab = self.lab_host(name)
        if lab is not None:
            shown, addr = (lab if name.lower().rstrip(".") == lab else self.hosts[lab]), self.hosts[lab]
            times = [self._probe() for _ in range(count)]
            return _report(shown, addr, LAB_TTL, times, count)
        if name.lower() == "localhost":
            name = "127.0.0.1"
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            return ["Unable to resolve hostname."]
        if ip.is_loopback:
            return _report(str(ip), str(ip), LOOPBACK_TTL, [0.0] * count, count)
        return _report(str(ip), str(ip), LAB_TTL, [None] * count, count)

    def _probe(self) -> float | None:
        """One simulated echo: the time of a TCP connect to the lab endpoint, in ms."""
        addr = self._endpoint()
        start = time.perf_counter()
        try:
            with socket.create_connection(addr, timeout=2.0):
                pass
        except OSError:
            return None
        return (time.perf_counter() - start) * 1000.0


def _report(shown: str, addr: str, ttl: int, times: list[float | None], count: int) -> list[str]:
    lines = [f"PING {shown} ({addr}): 56 data bytes"]
    got = [t for t in times if t is not None]
    for seq, t in enumerate(times):
        if t is not None:
            lines.append(f"64 bytes from {addr}: icmp_seq={seq} ttl={ttl} time={t:.1f} ms")
    loss = round(100 * (count - len(got)) / count) if count else 0
    lines += ["", f"--- {shown} ping statistics ---", f"{count} packets transmitted, {len(got)} packets received, {loss}% packet loss"]
    if got:
        lines.append(f"round-trip min/avg/max = {min(got):.1f}/{sum(got) / len(got):.1f}/{max(got):.1f} ms")
    return lines
