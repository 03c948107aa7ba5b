"""Interop, the other direction: certbot's ``acme`` library (an independent RFC 8555 client)
obtains a certificate from the lab ACME server, answering http-01 with its own standalone server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

acme_client = pytest.importorskip("acme.client", reason="certbot's acme library is a test extra")
from acme import challenges, messages, standalone  # noqa: E402
import josepy as jose  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from fortishell.lab.acmeserver import AcmeServer  # noqa: E402
from fortishell.lab.ca import LabCA  # noqa: E402


def _csr_pem(domain: str) -> bytes:
    key = rsa.generate_private_key(65537, 2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


def test_certbot_acme_library_obtains_a_certificate_from_the_lab_server(tmp_path: Path) -> None:
    ca = LabCA.shipped()
    resources: set[standalone.HTTP01RequestHandler.HTTP01Resource] = set()
    http01 = standalone.HTTP01DualNetworkedServers(("127.0.0.1", 0), resources)
    http01.serve_forever()
    try:
        port = http01.getsocknames()[0][1]
        server = AcmeServer(ca, lambda domain: ("127.0.0.1", port)).start()
        try:
            root = tmp_path / "labca.pem"
            root.write_text(ca.cert_pem)
            key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
            net = acme_client.ClientNetwork(key, alg=jose.ES256, user_agent="certbot-acme-test",
                                            verify_ssl=str(root))
            directory = acme_client.ClientV2.get_directory(f"https://127.0.0.1:{server.address[1]}/directory", net)
            client = acme_client.ClientV2(directory, net)
            client.new_account(messages.NewRegistration.from_data(email="ops@example.com",
                                                                  terms_of_service_agreed=True))
            order = client.new_order(_csr_pem("www.lab.example"))
            for authz in order.authorizations:
                challb = next(c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01))
                response, validation = challb.response_and_validation(key)
                resources.add(standalone.HTTP01RequestHandler.HTTP01Resource(
                    chall=challb.chall, response=response, validation=validation))
                client.answer_challenge(challb, response)
            done = client.poll_and_finalize(order, deadline=dt.datetime.now() + dt.timedelta(seconds=30))
        finally:
            server.stop()
    finally:
        http01.shutdown_and_server_close()
    chain = x509.load_pem_x509_certificates(done.fullchain_pem.encode())
    assert chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["www.lab.example"]
    assert ca.chains_to_me(chain[0])
    assert any(" op=chall method=POST status=200 " in line for line in server.log)
