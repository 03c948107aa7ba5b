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
not documented: the reply TTL for lab hosts is the guide's 31 and 64 for
loopback; there is no one-second pause between packets (lab transcripts stay
fast).

The lab hosts and the only ports they answer on (``SERVICES``):

* ``testrfc7030.com`` (54.70.32.33): EST on 8443/tcp (the responder);
* ``tftp.lab`` (192.0.2.69): TFTP on 69/udp, files in ``<state-dir>/tftp/``;
* ``crl.lab`` (192.0.2.80): HTTP on 80/tcp, the lab CA's CRL;
* ``scep.lab`` (192.0.2.88): the lab SCEP responder on 80/tcp, plain HTTP (``http://scep.lab/scep``
  or the NDES path ``/certsrv/mscep/mscep.dll``; ``lab/scepserver.py``), issuing from this
  state directory's lab CA;
* ``acme.lab`` (192.0.2.43): the lab ACME server on 443/tcp (``https://acme.lab/directory``),
  run by the device's ACME service (``acme/service.py``), which registers it in ``extra_services``.

Any other port of a lab host refuses the connection (:meth:`resolve` maps it
to a loopback port nothing listens on, so the client sees a real
``ECONNREFUSED``).  The TFTP, CRL and SCEP servers start lazily like the responder;
with ``--lab-server`` the EST host goes to the shared responder while TFTP, the CRL
and SCEP stay in this process (on the lab state of this state directory), unless the URL
names the classroom server's ports too: ``https://HOST:8443/?tftp=P&crl=P&scep=P&acme=P&http01=Q`` (what
``fortishell lab-server`` prints for students).  With ``acme=P``, ``acme.lab:443`` is the
classroom's ACME server, which validates http-01 by fetching from this device's address at
port ``http01=Q``: the device's challenge responder then listens there (``--acme-http-port``
wins), on every address, so that the classroom server reaches it from another machine.
"""

from __future__ import annotations

import ipaddress
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..clock import Clock
from ..errors import LabError
from .crl import CrlService, lab_ca_for
from .scepserver import ScepService
from .server import EstResponder, ResponderConfig
from .state import LabState
from .tftp import TftpService

DEFAULT_HOSTS: dict[str, str] = {"testrfc7030.com": "54.70.32.33", "tftp.lab": "192.0.2.69",
                                 "crl.lab": "192.0.2.80", "acme.lab": "192.0.2.43",
                                 "scep.lab": "192.0.2.88"}
EST, TFTP, CRL, ACME, SCEP = "est", "tftp", "crl", "acme", "scep"
SERVICES: dict[str, dict[tuple[str, int], str]] = {
    "testrfc7030.com": {("tcp", 8443): EST},
    "tftp.lab": {("udp", 69): TFTP},
    "crl.lab": {("tcp", 80): CRL},
    "acme.lab": {("tcp", 443): ACME},  # HTTPS; the device's ACME service registers it (extra_services)
    "scep.lab": {("tcp", 80): SCEP},  # plain HTTP, as SCEP servers (NDES) are reached
}
# Nothing listens on TCP port 1 of loopback (tcpmux, privileged, unused): connecting there is
# refused at once, which is how the lab network answers a port without a service.
REFUSED: tuple[str, int] = ("127.0.0.1", 1)
LAB_TTL = 31
LOOPBACK_TTL = 64
STATE_SUBDIR = "est-lab"
TFTP_SUBDIR = "tftp"


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
        self.tftp: TftpService | None = None
        self.crl: CrlService | None = None
        self.scep: ScepService | None = None
        self._lock = threading.Lock()
        self._remote: tuple[str, int] | None = None
        # a classroom lab-server's TFTP / CRL / SCEP / ACME ports (``--lab-server URL?tftp=P&crl=P``)
        self._remote_udp_tcp: dict[str, tuple[str, int]] = {}
        # the classroom ACME server's http-01 port (``http01=Q``): where this device must answer
        self.acme_http01_port: int | None = None
        self.extra_services: dict[str, Callable[[], tuple[str, int]]] = {}  # service -> endpoint (acme.lab)
        if lab_server_url:
            parts = urlsplit(lab_server_url)
            if parts.scheme != "https" or not parts.hostname:
                raise LabError(f"Lab server URL must be https://host[:port], not '{lab_server_url}'")
            try:
                self._remote = (parts.hostname, parts.port or 443)
            except ValueError:
                raise LabError(f"Bad port in lab server URL '{lab_server_url}'") from None
            query = parse_qs(parts.query)
            self._remote_udp_tcp = _service_ports(parts.hostname, query, lab_server_url)
            if ACME in self._remote_udp_tcp:
                self.acme_http01_port = _query_port(query, "http01", lab_server_url) or 80

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

    def resolve(self, host: str, port: int, proto: str = "tcp") -> tuple[str, int] | None:
        """Where to connect for ``host:port`` -- None for hosts outside the lab.

        A lab host's port without a service maps to :data:`REFUSED`."""
        lab = self.lab_host(host)
        if lab is None:
            return None
        service = SERVICES.get(lab, {}).get((proto, port))
        if service == EST:
            return self._endpoint()
        if service == TFTP:
            return self._tftp_endpoint()
        if service == CRL:
            return self._crl_endpoint()
        if service == SCEP:
            return self._scep_endpoint()
        if service in self._remote_udp_tcp:  # a classroom lab-server's ACME server
            return self._remote_udp_tcp[service]
        if service in self.extra_services:
            return self.extra_services[service]()
        return REFUSED

    def _lab_state_dir(self) -> Path | None:
        return self.state_dir / STATE_SUBDIR if self.state_dir is not None else None

    def _tftp_endpoint(self) -> tuple[str, int]:
        if TFTP in self._remote_udp_tcp:
            return self._remote_udp_tcp[TFTP]
        with self._lock:
            if self.tftp is None:
                root = self.state_dir / TFTP_SUBDIR if self.state_dir is not None else Path(
                    tempfile.mkdtemp(prefix="fortishell-tftp-"))
                self.tftp = TftpService(root).start()
            return self.tftp.address

    def tftp_settle(self) -> None:
        """After a put to the lab TFTP server: return once the file is complete on disk."""
        tftp = self.tftp
        if tftp is not None:
            tftp.wait_idle()

    def _crl_endpoint(self) -> tuple[str, int]:
        if CRL in self._remote_udp_tcp:
            return self._remote_udp_tcp[CRL]
        with self._lock:
            if self.crl is None:
                state_dir = self._lab_state_dir()
                self.crl = CrlService(LabState(state_dir), lab_ca_for(state_dir), self.clock).start()
            return self.crl.address

    def _scep_endpoint(self) -> tuple[str, int]:
        if SCEP in self._remote_udp_tcp:
            return self._remote_udp_tcp[SCEP]
        with self._lock:
            if self.scep is None:
                state_dir = self._lab_state_dir()
                self.scep = ScepService.for_lab(lab_ca_for(state_dir), LabState(state_dir), state_dir,
                                                self.clock).start()
            return self.scep.address

    def _endpoint(self) -> tuple[str, int]:
        if self._remote is not None:
            return self._remote
        with self._lock:
            if self.responder is None:
                state = self._lab_state_dir()
                self.responder = EstResponder(ResponderConfig(state_dir=state, clock=self.clock)).start()
            return (self.responder.host, self.responder.port)

    def close(self) -> None:
        with self._lock:
            responder, self.responder = self.responder, None
            tftp, self.tftp = self.tftp, None
            crl, self.crl = self.crl, None
            scep, self.scep = self.scep, None
        for service in (responder, tftp, crl, scep):
            if service is not None:
                service.stop()

    # ------------------------------------------------------------ ping
    def ping(self, host: str, count: int = 5) -> list[str]:
        """``execute ping <host>`` output lines (FortiOS/busybox layout)."""
        name = host.strip()
        lab = self.lab_host(name)
        if lab is not None:
            shown, addr = (lab if name.lower().rstrip(".") == lab else self.hosts[lab]), self.hosts[lab]
            times = [self._probe(lab) for _ in range(count)]
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

    def _probe(self, lab: str) -> float | None:
        """One simulated echo: the time of a TCP connect to the host's (first) TCP service, in ms."""
        ports = [port for proto, port in SERVICES.get(lab, {}) if proto == "tcp"]
        if not ports:
            return 0.1  # a UDP-only host: nothing to time, loopback is immediate
        addr = self.resolve(lab, ports[0]) or REFUSED
        start = time.perf_counter()
        try:
            with socket.create_connection(addr, timeout=2.0):
                pass
        except OSError:
            return None
        return (time.perf_counter() - start) * 1000.0


def _service_ports(host: str, query: dict[str, list[str]], url: str) -> dict[str, tuple[str, int]]:
    """``tftp=`` / ``crl=`` / ``scep=`` / ``acme=`` ports of a lab-server URL's query (what
    ``lab-server`` prints)."""
    out: dict[str, tuple[str, int]] = {}
    for service in (TFTP, CRL, SCEP, ACME):
        port = _query_port(query, service, url)
        if port is not None:
            out[service] = (host, port)
    return out


def _query_port(query: dict[str, list[str]], name: str, url: str) -> int | None:
    values = query.get(name)
    if not values:
        return None
    try:
        port = int(values[-1])
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise LabError(f"Bad {name} port in lab server URL '{url}'")
    return port


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
