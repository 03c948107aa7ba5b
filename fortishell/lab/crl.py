"""The lab CA's certificate revocation list, published over plain HTTP.

The CRL lists every serial in the lab state's ``revoked.log`` (see
``state.py``), is signed by the lab root (SHA-256) and is made fresh for each
request: ``thisUpdate`` = the lab clock, ``nextUpdate`` a week later, the CRL
number = the number of revocations plus one.  Issued certificates carry no CRL
distribution point (the guide's responses must stay byte-identical), so a
device is told the URL: ``http://crl.lab/estExampleCA.crl`` (``crl.lab`` =
192.0.2.80, port 80 in the lab network; really a ``http.server`` on a loopback
port).  Any other path answers 404.  Each GET is told to the ``on_request`` hook
(``lab-server`` writes it to its access log).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ..clock import Clock
from ..errors import LabError
from .ca import LabCA
from .httpthread import HttpService, LoggedHandler
from .state import LabState

CRL_PATH = "/estExampleCA.crl"
CRL_HOST = "crl.lab"
CRL_URL = f"http://{CRL_HOST}{CRL_PATH}"
NEXT_UPDATE = _dt.timedelta(days=7)
_log = logging.getLogger("fortishell.lab.crl")


def lab_ca_for(state_dir: Path | None) -> LabCA:
    """The CA of a lab state directory: one made with ``--new-ca`` there, else the shipped one."""
    if state_dir is not None and (Path(state_dir) / "ca" / "ca.pem").exists():
        try:
            return LabCA.load(Path(state_dir) / "ca")
        except (OSError, ValueError) as exc:
            raise LabError(f"Lab CA in {state_dir}/ca is damaged: {exc}") from None
    return LabCA.shipped()


def build_crl(ca: LabCA, revoked: dict[int, str], now: _dt.datetime) -> x509.CertificateRevocationList:
    now = now.astimezone(_dt.timezone.utc).replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now)
        .next_update(now + NEXT_UPDATE)
        .add_extension(x509.CRLNumber(len(revoked) + 1), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(ca.ski, None, None), critical=False)
    )
    for serial, when in sorted(revoked.items()):
        try:
            date = _dt.datetime.fromisoformat(when)
        except ValueError:
            date = now
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(date).build())
    return builder.sign(ca.key, hashes.SHA256())


def crl_pem(crl: x509.CertificateRevocationList) -> str:
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class CrlFetch:
    """One GET the CRL server answered (its ``on_request`` hook: the access log)."""

    peer: tuple[str, int]
    target: str
    status: int
    seconds: float


class CrlService(HttpService):
    """A plain-HTTP server for the lab CRL on a loopback port (a thread); ``on_request`` is
    told of each GET once it is answered."""

    def __init__(self, state: LabState, ca: LabCA, clock: Clock | None = None,
                 host: str = "127.0.0.1", port: int = 0,
                 on_request: Callable[[CrlFetch], None] | None = None) -> None:
        self.state, self.ca, self.clock = state, ca, clock or Clock()
        self.host, self.port = host, port
        self.on_request = on_request

    def current(self) -> x509.CertificateRevocationList:
        return build_crl(self.ca, self.state.revoked(), self.clock.now())

    def start(self) -> "CrlService":
        service = self

        class Handler(LoggedHandler):
            log = _log
            server_version = "lab-crl"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                started = time.monotonic()
                status, body = self._prepare()
                hook = service.on_request
                if hook is not None:  # told before the reply goes out: sequential requests log in order
                    peer = (str(self.client_address[0]), int(self.client_address[1]))
                    hook(CrlFetch(peer, self.path, status, time.monotonic() - started))
                if status != 200:
                    self.send_error(status, "Not Found" if status == 404 else "CRL not available")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _prepare(self) -> tuple[int, bytes]:
                if self.path.split("?", 1)[0] != CRL_PATH:
                    return 404, b""
                try:
                    return 200, service.current().public_bytes(serialization.Encoding.DER)
                except LabError as exc:
                    _log.error("CRL not available: %s", exc)
                    return 503, b""

        self._serve(Handler, what="the lab CRL server", name="fortishell-crl")
        return self
