"""The ACME transport words wire failures as curl does (est/curlerrors.py, the project's one wording),
over real TLS on loopback against the embedded lab ACME server."""

from __future__ import annotations

import re
import socket

from fortishell.acme.events import Request, WireFailure
from fortishell.acme.transport import AcmeHttp, TransportConfig
from fortishell.lab.ca import LabCA
from fortishell.shell.device import Device


def _send(url: str, resolve: object = None, trust: tuple[str, ...] = ()) -> object:
    http = AcmeHttp(TransportConfig(trust, resolve, timeout=5.0))  # type: ignore[arg-type]
    try:
        return http.send(Request("GET", url))
    finally:
        http.close()


def test_a_certificate_for_another_name_says_so(device: Device) -> None:
    lab = device.acme.lab_endpoint()
    reply = _send("https://wrong.example/directory", lambda h, p: lab, (LabCA.shipped().cert_pem,))
    assert reply == WireFailure("SSL: no alternative certificate subject name matches target host name "
                                "'wrong.example'")


def test_an_untrusted_server_and_a_refused_connection(device: Device) -> None:
    lab = device.acme.lab_endpoint()
    reply = _send("https://acme.lab/directory", lambda h, p: lab)
    assert reply == WireFailure("SSL certificate problem: unable to get local issuer certificate")
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    reply = _send(f"https://127.0.0.1:{closed}/directory")
    assert isinstance(reply, WireFailure)
    assert re.fullmatch(rf"Failed to connect to 127\.0\.0\.1 port {closed} after \d+ ms: Connection refused",
                        reply.text), reply
