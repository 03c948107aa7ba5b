"""Shared fixtures for the cmdb tests."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cmdb_helpers import LOCAL, example3_cert
from fortishell.cmdb.model import Cmdb


@pytest.fixture
def cert() -> x509.Certificate:
    return example3_cert()


@pytest.fixture
def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def est_cmdb(cert_pem: str) -> Cmdb:
    """A CMDB holding est-test101 as at the end of the guide's Example 3."""
    cmdb = Cmdb()
    buf = cmdb.begin_edit(LOCAL, "est-test101")
    buf.set("password", ["f51da8548af5fef820edfe6267b0c178"])
    buf.set("enroll-protocol", ["est"])
    buf.set("est-server", ["https://testrfc7030.com:8443"])
    buf.set("est-http-username", ["estuser"])
    buf.set("est-http-password", ["estpwd"])
    buf.set("certificate", [cert_pem])
    buf.set_value("private-key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGbMFcGCSqG\n-----END ENCRYPTED PRIVATE KEY-----")
    cmdb.commit(buf)
    return cmdb
