"""The lab ACME server's HTTPS side: directory and nonces over real TLS, JWS checks, 500 on a bug."""

from __future__ import annotations

import json
import logging
import ssl
from pathlib import Path

import httpx
import pytest

from fortishell.acme import jws
from fortishell.lab.acmeserver import AcmeServer
from fortishell.lab.ca import LabCA


@pytest.fixture()
def server() -> AcmeServer:
    srv = AcmeServer(LabCA.shipped(), lambda domain: None).start()
    yield srv
    srv.stop()


def _client(tmp_path: Path) -> httpx.Client:
    ctx = ssl.create_default_context(cadata=LabCA.shipped().cert_pem)
    return httpx.Client(verify=ctx, timeout=5)


def test_directory_nonce_and_a_rejected_signature(server: AcmeServer, tmp_path: Path) -> None:
    base = f"https://127.0.0.1:{server.address[1]}"
    with _client(tmp_path) as c:
        directory = c.get(f"{base}/directory").json()
        assert directory["newAccount"] == f"{base}/acme/new-account"
        nonce = c.head(directory["newNonce"]).headers["Replay-Nonce"]
        key, other = jws.new_account_key(), jws.new_account_key()
        body = json.loads(jws.sign(key, directory["newAccount"], nonce, {"termsOfServiceAgreed": True}))
        forged = jws.sign(other, directory["newAccount"], nonce, {"termsOfServiceAgreed": True})
        body["signature"] = json.loads(forged)["signature"]  # another key's signature over the same header
        resp = c.post(directory["newAccount"], content=json.dumps(body),
                      headers={"Content-Type": "application/jose+json"})
        assert resp.status_code == 403 and resp.json()["type"] == "urn:ietf:params:acme:error:unauthorized"
        # the nonce was spent: a replay gets badNonce
        again = c.post(directory["newAccount"], content=jws.sign(key, directory["newAccount"], nonce, {}),
                       headers={"Content-Type": "application/jose+json"})
        assert again.json()["type"] == "urn:ietf:params:acme:error:badNonce"
    assert any(" op=directory method=GET status=200 ms=" in line for line in server.log)
    assert any(" op=new-account method=POST status=403 " in line for line in server.log)
    assert all(line.split()[1].startswith("127.0.0.1:") for line in server.log)


def test_an_unexpected_error_is_a_500_with_the_traceback_logged(server: AcmeServer, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> object:
        raise ZeroDivisionError("lab bug")

    monkeypatch.setattr(server.app, "handle", broken)
    with caplog.at_level(logging.ERROR, logger="fortishell.lab"), _client(tmp_path) as c:
        resp = c.get(f"https://127.0.0.1:{server.address[1]}/directory")
    assert resp.status_code == 500 and resp.json()["type"].endswith(":serverInternal")
    assert "ZeroDivisionError: lab bug" in caplog.text
