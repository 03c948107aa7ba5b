"""The lab SCEP responder on plain HTTP (``scep.lab``, 192.0.2.88 port 80 in the lab network).

:class:`ScepService` serves :class:`~fortishell.lab.scepapp.ScepApp` with the standard
library's threading HTTP server on a loopback port (a thread), as the CRL server does:
started lazily by the lab network in-process, or by ``fortishell lab-server --scep-port P``
for a classroom (its options: :func:`add_arguments`).  HTTP/1.0, one request a
connection (what the FortiOS client, derived from sscep, speaks).  A client silent for
``io_timeout`` seconds (10) is disconnected; a request body over 64 KiB is answered 413 unread; an unexpected error 500, its traceback on the
``fortishell.lab`` logger.  Each answered request is told to ``on_request`` (a
:class:`ScepExchange`: the access log).
"""

from __future__ import annotations

import argparse
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..clock import Clock
from ..errors import LabError
from ..x509text import sha256_fingerprint
from .ca import LabCA
from .scepapp import DEFAULT_CHALLENGE, MAX_BODY, ScepApp, ScepFaults, ScepReply, ScepRequest
from .httpthread import HttpService, LoggedHandler
from .state import LabState

SCEP_HOST = "scep.lab"
SCEP_PATH = "/scep"
SCEP_URL = f"http://{SCEP_HOST}{SCEP_PATH}"  # what a device in the lab is told
IO_TIMEOUT = 10.0  # seconds a read from a client may take (the EST responder's limit)
_log = logging.getLogger("fortishell.lab")


@dataclass(frozen=True)
class ScepExchange:
    """One request the SCEP server answered (its ``on_request`` hook: the access log)."""

    peer: tuple[str, int]
    op: str
    outcome: str
    seconds: float
    serial: int | None


class ScepService(HttpService):
    """The SCEP responder on ``host:port`` (0: any free port) until :meth:`stop`."""

    def __init__(self, app: ScepApp, host: str = "127.0.0.1", port: int = 0,
                 on_request: Callable[[ScepExchange], None] | None = None, io_timeout: float = IO_TIMEOUT) -> None:
        self.app, self.host, self.port = app, host, port
        self.io_timeout = io_timeout
        self.on_request = on_request

    @classmethod
    def for_lab(cls, ca: LabCA, state: LabState, lab_dir: Path | None,
                clock: Clock | None = None) -> "ScepService":
        """The embedded lab's responder on a loopback port: defaults (CA+RA, challenge
        ``fortinet-lab``, no faults)."""
        return cls(ScepApp(ca, state, lab_dir, now=(clock or Clock()).now))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{SCEP_PATH}"

    def start(self) -> "ScepService":
        service = self

        class Handler(LoggedHandler):
            log = _log
            server_version = "lab-scep"
            sys_version = ""
            timeout = service.io_timeout  # each socket read: a silent client does not keep a thread

            def _serve(self) -> None:
                started = time.monotonic()
                reply = self._answer()
                hook = service.on_request
                if hook is not None:  # told before the reply goes out: sequential requests log in order
                    peer = (str(self.client_address[0]), int(self.client_address[1]))
                    hook(ScepExchange(peer, reply.op, reply.outcome, time.monotonic() - started, reply.serial))
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def _answer(self) -> ScepReply:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_BODY:
                    self.close_connection = True  # the body is left unread
                    return ScepReply(413 if length > 0 else 400, "text/plain", b"bad request body\n",
                                     "scep-PKIOperation", str(413 if length > 0 else 400))
                body = self.rfile.read(length) if length else b""
                try:
                    return service.app.handle(ScepRequest(self.command, self.path, body))
                except Exception:  # noqa: BLE001 - a lab bug: 500, the traceback on the lab logger
                    _log.error("lab SCEP server: %s %s failed\n%s", self.command, self.path, traceback.format_exc())
                    return ScepReply(500, "text/plain", b"internal error\n", "scep-?", "500")

            do_GET = do_POST = _serve  # noqa: N815 - http.server's names

        self._serve(Handler, what="the lab SCEP server", name="fortishell-scep")
        return self


# ---------------------------------------------------------------- lab-server options
def add_arguments(p: argparse.ArgumentParser, port_type: Callable[[str], int]) -> None:
    """``lab-server``'s SCEP options (``port_type``: the listen-port parser)."""
    p.add_argument("--scep-port", type=port_type, default=None, metavar="PORT",
                   help=f"also serve the lab SCEP responder (scep.lab) over HTTP on PORT, paths {SCEP_PATH} and "
                        "/certsrv/mscep/mscep.dll (and /approval/scep, which holds every request until lab-ca approve), "
                        "issuing from the lab CA state (default: no SCEP server)")
    p.add_argument("--scep-challenge", default=DEFAULT_CHALLENGE, metavar="SECRET",
                   help=f"the challenge password a SCEP PKCSReq must carry (default: {DEFAULT_CHALLENGE})")
    p.add_argument("--scep-manual", action="store_true",
                   help="SCEP manual approval: answer PKCSReq PENDING until `fortishell lab-ca approve "
                        "<transaction-id>` (or reject); lab-ca show lists them (default: issue at once)")
    p.add_argument("--scep-single-ca", action="store_true",
                   help="SCEP single CA: an RSA issuing CA CN=estExampleSCEPCA (signed by the lab root) answers "
                        "and issues; GetCACert sends it alone (default: CA+RA, an RSA RA beside the lab root, "
                        "which issues)")
    for flag, info in (("bad-request", "badRequest"), ("bad-message-check", "badMessageCheck"),
                       ("bad-time", "badTime")):
        p.add_argument(f"--scep-{flag}", action="store_true",
                       help=f"SCEP fault: answer every PKIOperation CertRep FAILURE, failInfo {info} (default: off)")


def faults_from_args(args: argparse.Namespace) -> ScepFaults:
    return ScepFaults(bad_request=args.scep_bad_request, bad_message_check=args.scep_bad_message_check,
                      bad_time=args.scep_bad_time, manual=args.scep_manual)


def start_from_args(args: argparse.Namespace, ca: LabCA, state: LabState, clock: Clock | None,
                    on_request: Callable[[ScepExchange], None] | None) -> tuple[ScepService, list[str]]:
    """``--scep-port``'s service (started) and its start-up lines: where, and the SHA-256
    fingerprint of the certificate that answers (what ``scepclient -ca-fingerprint`` takes
    to envelope to the RA alone)."""
    lab_dir = Path(args.state_dir) if args.state_dir is not None else None
    if args.scep_manual and lab_dir is None:
        raise LabError("--scep-manual keeps the requests in the lab state, where lab-ca approve finds them: "
                       "it cannot be used with --ephemeral")
    app = ScepApp(ca, state, lab_dir, now=(clock or Clock()).now, challenge=args.scep_challenge,
                  faults=faults_from_args(args), single_ca=args.scep_single_ca)
    service = ScepService(app, args.host, args.scep_port, on_request=on_request).start()
    mode = "single CA" if args.scep_single_ca else "CA+RA"
    challenge = ("the default, " + DEFAULT_CHALLENGE) if args.scep_challenge == DEFAULT_CHALLENGE \
        else "from --scep-challenge"
    ident = app.identity
    return service, [f"SCEP responder at {service.url} (scep.lab; {mode}; faults: {app.faults.describe()}; "
                     f"challenge: {challenge})",
                     f"SCEP {'CA' if ident.single_ca else 'RA'} {ident.cert.subject.rfc4514_string()} "
                     f"SHA-256 Fingerprint: {sha256_fingerprint(ident.cert)}"]
