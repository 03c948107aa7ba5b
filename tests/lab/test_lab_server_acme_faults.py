"""``fortishell lab-server`` ACME fault flags (``--acme-invalid-challenges``, ``--acme-bad-nonces N``,
``--acme-rate-limited``, ``--acme-slow-validation S``): parsed by the command's own parser, started by
the code ``lab-server`` runs (``classroom.start``), and felt by a client over real TLS on loopback."""

from __future__ import annotations

import argparse
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fortishell.acme import jws
from fortishell.errors import LabError
from fortishell.lab import classroom
from fortishell.lab.acmeserver import AcmeServer
from fortishell.lab.ca import LabCA
from fortishell.lab.cli import build_parser

FLAGS = ("--acme-invalid-challenges", "--acme-bad-nonces", "--acme-rate-limited", "--acme-slow-validation")


def _args(tmp_path: Path, *argv: str) -> argparse.Namespace:
    args = build_parser().parse_args(["--port", "0", *argv])
    args.state_root, args.state_dir = tmp_path, None  # what main() sets (--ephemeral)
    return args


@pytest.fixture()
def started(tmp_path: Path) -> Iterator[tuple[AcmeServer, list[str]]]:
    args = _args(tmp_path, "--acme-port", "0", "--acme-bad-nonces", "2", "--acme-rate-limited",
                 "--acme-slow-validation", "1.5", "--acme-invalid-challenges")
    services, lines = classroom.start(args, None)
    (server,) = [s for s in services if isinstance(s, AcmeServer)]
    yield server, lines
    for service in services:
        service.stop()


def _post(c: httpx.Client, key: object, url: str, nonce: str, payload: object, kid: str | None = None) -> httpx.Response:
    return c.post(url, content=jws.sign(key, url, nonce, payload, kid=kid),  # type: ignore[arg-type]
                  headers={"Content-Type": "application/jose+json"})


def test_flags_set_the_knobs_and_a_client_meets_them(started: tuple[AcmeServer, list[str]]) -> None:
    server, lines = started
    faults = server.faults
    assert (faults.invalid_challenges, faults.bad_nonces, faults.rate_limited, faults.slow_validation) == \
        (True, 2, True, 1.5)
    acme_line = next(line for line in lines if line.startswith("ACME server at "))
    assert acme_line.endswith("; faults: invalid-challenges, bad-nonces=2, rate-limited, slow-validation=1.5s)"), \
        acme_line
    base = f"https://127.0.0.1:{server.address[1]}"
    ctx = ssl.create_default_context(cadata=LabCA.shipped().cert_pem)
    key = jws.new_account_key()
    with httpx.Client(verify=ctx, timeout=5) as c:
        new_account = f"{base}/acme/new-account"
        nonce = c.head(f"{base}/acme/new-nonce").headers["Replay-Nonce"]
        kinds = []
        for _ in range(3):  # a fresh nonce each time: the first two are refused all the same
            resp = _post(c, key, new_account, nonce, {"termsOfServiceAgreed": True})
            kinds.append(resp.json().get("type", resp.status_code))
            nonce = resp.headers["Replay-Nonce"]
        assert kinds[:2] == ["urn:ietf:params:acme:error:badNonce"] * 2
        assert resp.status_code == 201, resp.text
        kid = resp.headers["Location"]
        order = _post(c, key, f"{base}/acme/new-order", resp.headers["Replay-Nonce"],
                      {"identifiers": [{"type": "dns", "value": "fgt.lab.example"}]}, kid=kid)
        assert order.status_code == 429 and order.json()["type"] == "urn:ietf:params:acme:error:rateLimited"
        assert order.headers["Retry-After"] == "3600"
    assert faults.bad_nonces == 0


def test_without_faults_the_acme_line_says_nothing_of_them(tmp_path: Path) -> None:
    services, lines = classroom.start(_args(tmp_path, "--acme-port", "0"), None)
    try:
        assert not [line for line in lines if "faults" in line]
        (server,) = [s for s in services if isinstance(s, AcmeServer)]
        assert server.faults == type(server.faults)()
    finally:
        for service in services:
            service.stop()


def test_help_texts_and_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(build_parser().format_help().split())
    for flag in FLAGS:
        assert flag in text
    assert "every http-01 validation fails" in text and "(default: off)" in text
    for bad in (("--acme-bad-nonces", "-1"), ("--acme-bad-nonces", "two"), ("--acme-slow-validation", "601")):
        with pytest.raises(SystemExit):
            build_parser().parse_args(list(bad))
        assert "error: argument " + bad[0] in capsys.readouterr().err
    # ACME faults without the ACME server: refused, nothing started
    with pytest.raises(LabError, match="--acme-rate-limited needs --acme-port"):
        classroom.start(_args(tmp_path, "--acme-rate-limited"), None)
