"""The classroom ACME server's records on disk (``<state-dir>/est-lab/acme.json``): a restarted
``lab-server --acme-port`` still knows its students' accounts, orders and certificates; a change
that cannot be saved is not made; an unreadable file stops the start with one line.  In-process,
through ``classroom.start`` (what ``lab-server`` runs), a JWS client over real TLS on loopback and
the device's own challenge responder."""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fortishell.acme import jws
from fortishell.acme.responder import ChallengeResponder
from fortishell.errors import LabError
from fortishell.lab import classroom
from fortishell.lab.acmeserver import AcmeServer
from fortishell.lab.ca import LabCA
from fortishell.lab.cli import build_parser

DOMAIN = "student1.lab.example"


class Student:
    """A bare RFC 8555 client: one account key, the server's nonces, signed POSTs."""

    def __init__(self, base: str, key: ec.EllipticCurvePrivateKey) -> None:
        self.base, self.key, self.kid = base, key, None
        self.http = httpx.Client(verify=ssl.create_default_context(cadata=LabCA.shipped().cert_pem), timeout=10)
        self.nonce = self.http.head(f"{base}/acme/new-nonce").headers["Replay-Nonce"]

    def post(self, path_or_url: str, payload: Any) -> httpx.Response:
        url = path_or_url if path_or_url.startswith("https:") else self.base + path_or_url
        for _ in range(3):  # badNonce (a nonce the restarted server never gave): retried
            resp = self.http.post(url, content=jws.sign(self.key, url, self.nonce, payload, kid=self.kid),
                                  headers={"Content-Type": "application/jose+json"})
            self.nonce = resp.headers.get("Replay-Nonce", self.nonce)
            if not resp.headers.get("Content-Type", "").startswith("application/problem") or \
                    not resp.json()["type"].endswith(":badNonce"):
                return resp
        return resp


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[Any]:
    running: list[Any] = []
    responder = ChallengeResponder()

    def start(**flags: str) -> AcmeServer:
        argv = ["--port", "0", "--acme-port", "0", "--acme-http01-port", str(responder.address[1])]
        for name, value in flags.items():
            argv += ["--acme-" + name.replace("_", "-"), value]
        args: argparse.Namespace = build_parser().parse_args(argv)
        args.state_root, args.state_dir = tmp_path, tmp_path / "est-lab"  # what main() sets (not --ephemeral)
        services, _ = classroom.start(args, None)
        running.extend(services)
        return next(s for s in services if isinstance(s, AcmeServer))

    def stop() -> None:
        while running:
            running.pop().stop()

    start.stop = stop  # type: ignore[attr-defined]
    start.responder = responder  # type: ignore[attr-defined]
    yield start
    stop()
    responder.stop()


def _base(server: AcmeServer) -> str:
    return f"https://127.0.0.1:{server.address[1]}"


def _order(student: Student, responder: ChallengeResponder) -> tuple[str, str]:
    """A complete order of DOMAIN: (order URL, the certificate chain's PEM)."""
    order = student.post("/acme/new-order", {"identifiers": [{"type": "dns", "value": DOMAIN}]})
    assert order.status_code == 201, order.text
    authz_url = order.json()["authorizations"][0]
    challenge = student.post(authz_url, None).json()["challenges"][0]
    responder.serve(challenge["token"], jws.key_authorization(challenge["token"], student.key))
    assert student.post(challenge["url"], {}).status_code == 200
    assert student.post(authz_url, None).json()["status"] == "valid"
    cert_key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
           .sign(cert_key, hashes.SHA256()))
    done = student.post(order.json()["finalize"], {"csr": jws.b64u(csr.public_bytes(serialization.Encoding.DER))})
    assert done.json()["status"] == "valid", done.text
    return order.headers["Location"], student.post(done.json()["certificate"], None).text


def test_a_restarted_lab_server_knows_its_accounts_orders_and_certificates(lab: Any, tmp_path: Path) -> None:
    server = lab()
    student = Student(_base(server), jws.new_account_key())
    account = student.post("/acme/new-account", {"termsOfServiceAgreed": True, "contact": ["mailto:s1@lab.example"]})
    assert account.status_code == 201
    student.kid = account.headers["Location"]
    order_url, chain = _order(student, lab.responder)
    assert json.loads((tmp_path / "est-lab" / "acme.json").read_text())["accounts"]["1"]["contact"] == [
        "mailto:s1@lab.example"]
    lab.stop()

    server = lab()  # the restart: new process state, same state directory
    again = Student(_base(server), student.key)
    found = again.post("/acme/new-account", {"onlyReturnExisting": True})
    assert found.status_code == 200, found.text
    assert found.headers["Location"].rsplit("/", 1)[-1] == student.kid.rsplit("/", 1)[-1]
    assert found.json()["contact"] == ["mailto:s1@lab.example"]
    again.kid = found.headers["Location"]
    old = again.post(_base(server) + "/acme/order/" + order_url.rsplit("/", 1)[-1], None).json()
    assert old["status"] == "valid" and old["identifiers"] == [{"type": "dns", "value": DOMAIN}]
    assert again.post(old["certificate"], None).text == chain
    # the account orders again; a new student's account gets a new number
    _order(again, lab.responder)
    other = Student(_base(server), jws.new_account_key()).post("/acme/new-account", {"termsOfServiceAgreed": True})
    assert other.status_code == 201 and other.headers["Location"].rsplit("/", 1)[-1] not in ("1", "2", "3", "4")


def test_a_validation_cut_short_by_a_restart_is_invalid_not_pending(lab: Any) -> None:
    server = lab(slow_validation="60")
    student = Student(_base(server), jws.new_account_key())
    student.kid = student.post("/acme/new-account", {"termsOfServiceAgreed": True}).headers["Location"]
    order = student.post("/acme/new-order", {"identifiers": [{"type": "dns", "value": DOMAIN}]})
    authz_url = order.json()["authorizations"][0]
    challenge = student.post(authz_url, None).json()["challenges"][0]
    running = set(threading.enumerate())
    assert student.post(challenge["url"], {}).json()["status"] == "processing"
    lab.stop()
    # the stopped server's pending validation is called off: it never writes over the next one's file
    assert not [t for t in set(threading.enumerate()) - running if isinstance(t, threading.Timer)]
    server = lab()
    student.base = _base(server)  # the same key and kid; the restarted server's nonces
    student.nonce = student.http.head(f"{student.base}/acme/new-nonce").headers["Replay-Nonce"]
    path = "/acme/authz/" + authz_url.rsplit("/", 1)[-1]
    authz = student.post(path, None).json()
    assert authz["status"] == "invalid"
    assert authz["challenges"][0]["error"]["type"] == "urn:ietf:params:acme:error:serverInternal"
    assert student.post("/acme/order/" + order.headers["Location"].rsplit("/", 1)[-1], None).json()["status"] == \
        "invalid"


def test_a_change_that_cannot_be_saved_is_not_made(lab: Any, tmp_path: Path) -> None:
    server = lab()
    student = Student(_base(server), jws.new_account_key())
    shutil.rmtree(tmp_path / "est-lab")  # the state directory is gone: acme.json cannot be written
    failed = student.post("/acme/new-account", {"termsOfServiceAgreed": True})
    assert failed.status_code == 500 and failed.json()["type"] == "urn:ietf:params:acme:error:serverInternal"
    (tmp_path / "est-lab").mkdir()
    again = student.post("/acme/new-account", {"onlyReturnExisting": True})
    assert again.json()["type"] == "urn:ietf:params:acme:error:accountDoesNotExist"  # nothing half-made
    made = student.post("/acme/new-account", {"termsOfServiceAgreed": True})
    assert made.status_code == 201 and made.headers["Location"].endswith("/acme/acct/1")  # the id was not spent
    assert list(json.loads((tmp_path / "est-lab" / "acme.json").read_text())["accounts"]) == ["1"]
    assert not [p.name for p in (tmp_path / "est-lab").iterdir() if p.name.startswith(".acme.json")]


def test_an_unreadable_acme_state_stops_the_start_in_one_line(lab: Any, tmp_path: Path) -> None:
    (tmp_path / "est-lab").mkdir()
    (tmp_path / "est-lab" / "acme.json").write_text('{"version": 1, "accounts": ')  # torn by hand
    with pytest.raises(LabError) as caught:
        lab()
    assert caught.value.lines == [f"Lab ACME state file {tmp_path / 'est-lab' / 'acme.json'} is unreadable: "
                                  "Expecting value: line 1 column 28 (char 27)"]


def test_a_request_that_fails_on_a_bug_leaves_nothing_half_made(lab: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    server = lab()
    student = Student(_base(server), jws.new_account_key())
    answer = server.app._json

    def broken(status: int, *args: Any, **kw: Any) -> Any:
        if status == 201:  # after the account was made, before it is answered
            raise ZeroDivisionError("lab bug")
        return answer(status, *args, **kw)

    monkeypatch.setattr(server.app, "_json", broken)
    assert student.post("/acme/new-account", {"termsOfServiceAgreed": True}).status_code == 500
    monkeypatch.undo()
    again = student.post("/acme/new-account", {"onlyReturnExisting": True})
    assert again.json()["type"] == "urn:ietf:params:acme:error:accountDoesNotExist"
    assert not (tmp_path / "est-lab" / "acme.json").exists()
