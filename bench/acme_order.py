"""Benchmark: one complete ACME order against pebble -- fortishell's client next to certbot's ``acme``.

Each run, on both sides: register a new account, order ``fgt.example.com``,
answer http-01 from a loopback responder (fortishell's device responder; the
``acme`` library's standalone server), finalize with a new RSA-2048 key's CSR,
download the chain.  Two pebble instances (Debian package ``pebble``, nonces
never rejected, ``PEBBLE_VA_NOSLEEP=1``), one validating each responder's port.
Prints the median wall times and the ratio fortishell / acme (target: <= 1.0,
not slower), then the median CPU time of this process per order on each side (the
client and its http-01 responder; pebble runs apart): the wall time mostly
waits on pebble and on polls, the CPU time is the client's own cost.  Needs
pebble and the test extra ``acme``.

    .venv/bin/python bench/acme_order.py [--runs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "acme"))

import josepy as jose  # noqa: E402
from acme import challenges, client, messages, standalone  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from pebblerun import AVAILABLE, Pebble  # noqa: E402

from fortishell.acme.driver import AcmeDriver  # noqa: E402
from fortishell.acme.responder import ChallengeResponder  # noqa: E402
from fortishell.acme.settings import AcmeSettings  # noqa: E402
from fortishell.clock import Clock  # noqa: E402
from fortishell.cmdb import factory  # noqa: E402

DOMAIN = "fgt.example.com"
CA, LOCAL = ("vpn", "certificate", "ca"), ("vpn", "certificate", "local")


def timed(run: "typing.Callable[[], float]") -> tuple[float, float]:
    """(wall seconds as ``run`` measured them, CPU seconds of this process meanwhile)."""
    cpu = time.process_time()
    wall = run()
    return wall, time.process_time() - cpu


def ours(peb: Pebble, responder: ChallengeResponder) -> float:
    cmdb = factory.factory_cmdb()  # a fresh device: no account yet
    with cmdb.transaction() as tx:
        tx.put(CA, "PebbleRoot", {"ca": peb.root_pem})
        tx.put(LOCAL, "bench", {"enroll-protocol": "acme2", "acme-ca-url": peb.directory, "acme-domain": DOMAIN})
    driver = AcmeDriver(cmdb, Clock(), None, responder)  # the device defaults (1 s between polls)
    settings = AcmeSettings.from_entry("bench", cmdb.entry(LOCAL, "bench"))
    start = time.perf_counter()
    driver.order(settings)
    return time.perf_counter() - start


def theirs(peb: Pebble, resources: set[standalone.HTTP01RequestHandler.HTTP01Resource]) -> float:
    start = time.perf_counter()
    key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(key, alg=jose.ES256, user_agent="bench", verify_ssl=str(peb.root_path))
    acme = client.ClientV2(client.ClientV2.get_directory(peb.directory, net), net)
    acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    cert_key = rsa.generate_private_key(65537, 2048)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
           .sign(cert_key, hashes.SHA256()))
    order = acme.new_order(csr.public_bytes(serialization.Encoding.PEM))
    for authz in order.authorizations:
        challb = next(c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01))
        response, validation = challb.response_and_validation(key)
        resources.add(standalone.HTTP01RequestHandler.HTTP01Resource(challb.chall, response, validation))
        acme.answer_challenge(challb, response)
    acme.poll_and_finalize(order, deadline=dt.datetime.now() + dt.timedelta(seconds=60))
    resources.clear()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not AVAILABLE:
        print("pebble is not installed (apt-get install pebble)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="fortishell-bench-acme-"))
    responder = ChallengeResponder()
    resources: set[standalone.HTTP01RequestHandler.HTTP01Resource] = set()
    http01 = standalone.HTTP01DualNetworkedServers(("127.0.0.1", 0), resources)
    http01.serve_forever()
    peb_ours = Pebble(work / "ours", responder.address[1]).start()
    peb_theirs = Pebble(work / "theirs", http01.getsocknames()[0][1]).start()
    try:
        ours(peb_ours, responder), theirs(peb_theirs, resources)  # warm-up (imports, first TLS)
        a = [timed(lambda: ours(peb_ours, responder)) for _ in range(args.runs)]
        b = [timed(lambda: theirs(peb_theirs, resources)) for _ in range(args.runs)]
    finally:
        peb_ours.stop()
        peb_theirs.stop()
        http01.shutdown_and_server_close()
        responder.stop()
    ma, mb = statistics.median(w for w, _ in a), statistics.median(w for w, _ in b)
    ca, cb = statistics.median(c for _, c in a), statistics.median(c for _, c in b)
    print(f"fortishell ACME order (median of {args.runs}): {ma * 1000:8.1f} ms")
    print(f"certbot acme library   (median of {args.runs}): {mb * 1000:8.1f} ms")
    print(f"ratio fortishell / acme: {ma / mb:.2f} (target <= 1.0)")
    print(f"CPU per order: fortishell {ca * 1000:.1f} ms, acme {cb * 1000:.1f} ms (ratio {ca / cb:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
