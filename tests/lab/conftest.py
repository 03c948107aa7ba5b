"""Fixtures for the lab responder tests: a responder on 127.0.0.1 with a fixed lab clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from labkit import LAB_TIME, basic, certs_from_reply, client_context, csr_b64, enroll_headers, make_csr, raw_request

from fortishell.clock import Clock
from fortishell.lab.ca import LabCA
from fortishell.lab.server import EstResponder, ResponderConfig


@pytest.fixture(scope="session")
def lab_ca() -> LabCA:
    return LabCA.shipped()


@pytest.fixture()
def clock() -> Clock:
    return Clock(fixed=LAB_TIME)


@pytest.fixture()
def make_responder(tmp_path: Path, clock: Clock):
    started: list[EstResponder] = []

    def make(**kw) -> EstResponder:
        kw.setdefault("state_dir", tmp_path / "state")
        kw.setdefault("clock", clock)
        r = EstResponder(ResponderConfig(**kw)).start()
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


@pytest.fixture()
def responder(make_responder) -> EstResponder:
    return make_responder()


@pytest.fixture()
def ca_file(tmp_path: Path, lab_ca: LabCA) -> Path:
    p = tmp_path / "ca.pem"
    p.write_text(lab_ca.cert_pem)
    return p


@pytest.fixture()
def enroll(responder, lab_ca):
    """enroll(cn) -> (key, cert) through simpleenroll with Basic auth."""

    def do(cn: str = "firewall-portal1", port: int | None = None):
        key, csr = make_csr(cn)
        r = raw_request(port or responder.port, client_context(lab_ca), "POST", "/.well-known/est/simpleenroll",
                        body=csr_b64(csr), headers=enroll_headers(basic()))
        assert r.status == 200, r
        return key, certs_from_reply(r.body)[0]

    return do
