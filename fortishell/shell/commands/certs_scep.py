"""SCEP in the certificate commands: ``local generate rsa ... <scep-url> <challenge>`` and
``ca import auto``.

* ``generate rsa <name> <key-size> <subject> <country> <state> <city> <org> <unit> <email> <SAN>
  <scep-url> <challenge-password> [<source-ip> <ca-identifier>]`` (KB 262267; ``""`` skips a
  position) creates the key and a CSR carrying the challenge password and enrolls it over SCEP
  (``scep/``).  The device runs the enrollment in the background; the emulator completes it
  before the prompt returns (transcripts stay deterministic) and prints nothing on success.  The
  entry remembers how it was enrolled (``enroll-protocol scep``, ``scep-url``,
  ``ca-identifier``, ``source-ip``; our choice, so that a pending request can be polled and
  ``auto-regenerate-days`` alone turns renewal on); the challenge password is one-time and is not
  kept (renewal uses ``scep-password``).  A CA that answers PENDING leaves the entry with its CSR:
  ``get`` shows ``state PENDING`` until a poll (every 5 minutes on the device clock) fetches the
  certificate.  A failure prints one line (``SCEP enrollment of certificate 'NAME' failed:
  <reason>``) and stores nothing; a certificate stored when the configuration file then cannot be
  written is kept, as after ``end``, and the save failure is the command's one line.  An EC key fails as on the device (KB 404520): ``Couldn't read
  inner PKCS#7``.
* ``ca import auto <url> [<ca-identifier>] [<source-ip>] [<fingerprint>]`` (7.6 CLI reference)
  fetches GetCACert and treats its CA certificates as ``ca import est`` treats ``/cacerts``:
  shown with their SHA-256 fingerprints, judged by the trust rules, then ``Do you want to
  continue? (y/n)`` unless the fingerprint pins one; stored as ``G_CA_Cert_N`` with ``scep-url``
  and ``ca-identifier``.  RA certificates of a CA+RA reply are not CA certificates and are not
  imported (the enrollment fetches them each time).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import rsa

from ...certs import CertFileError, request
from ...cli import ast
from ...cmdb.schema import CA
from ...errors import CertError, ValueParseError
from ...est import pki
from ..result import Question, Result
from .certs_est import QUESTION, _judge, _normalise_fingerprint, _shown, positions, store_cas

if TYPE_CHECKING:
    from ..session import Session

AUTO_FIELDS = ("url", "ca_id", "source_ip", "fingerprint")


def _source_ip(text: str | None) -> str | None:
    if not text:
        return None
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueParseError("Invalid IPv4 address.", text, -8) from None
    return text


def generate_scep(sess: "Session", kind: str, name: str, size: str, spec: request.RequestSpec,
                  opt: dict[str, str]) -> Result:
    """``generate rsa|ec ... <scep-url> <challenge>`` (module doc)."""
    from ...scep.settings import ScepSettings

    settings = ScepSettings.from_positions(name, opt["scep_url"], opt.get("challenge"), opt.get("ca_id"),
                                           _source_ip(opt.get("source_ip")))
    if kind != "rsa":
        raise CertError("Couldn't read inner PKCS#7 (SCEP enrollment needs an RSA key).")
    try:
        san = pki.parse_san(spec.san) if spec.san else None
        subject = request.subject_name(spec)
    except (pki.PkiError, CertFileError) as exc:
        raise CertError(f"Failed to generate the certificate request: {exc}.") from None
    key = pki.generate_key(request.algorithm(kind, size))
    csr = pki.build_csr(key, subject, san, challenge_password=settings.challenge)
    password = opt.get("key_password") or pki.random_password()
    values: dict[str, Any] = {"private-key": pki.encrypt_key(key, password), "password": password}
    if not isinstance(key, rsa.RSAPrivateKey):  # kind rsa: always RSA
        raise CertError("Couldn't read inner PKCS#7 (SCEP enrollment needs an RSA key).")
    outcome = sess.device.scep.enroll(settings, key, csr, values)
    return Result(list(outcome.notes))  # stored, but the configuration file could not be saved


def do_ca_import_auto(sess: "Session", rest: list[ast.Word]) -> Result:
    from ...scep.settings import ScepSettings

    values = positions(rest, AUTO_FIELDS)
    pin = _normalise_fingerprint(values["fingerprint"]) if values["fingerprint"] else None
    settings = ScepSettings.from_positions("", values["url"] or "", None, values["ca_id"],
                                           _source_ip(values["source_ip"]))
    chain = sess.device.scep.fetch_ca(settings)
    certs = list(chain.cas)
    shown = _shown(settings.url, certs)
    _judge(sess, certs, pin)
    fields = _fields(settings)
    if pin is not None:
        return Result(shown + store_cas(sess, certs, fields))
    return Result(question=Question(shown + [QUESTION], sess.guard(
        lambda yes: Result(store_cas(sess, certs, fields)) if yes else Result())))


def import_auto(sess: "Session", url: str, ca_id: str | None = None, source_ip: str | None = None) -> list[str]:
    """``ca import auto`` answered ``y`` (the REST door's ``ca/import`` with ``import_method scep``):
    the CA certificates of the GetCACert reply, judged and stored; the names given."""
    from ...scep.settings import ScepSettings

    settings = ScepSettings.from_positions("", url, None, ca_id, _source_ip(source_ip))
    certs = list(sess.device.scep.fetch_ca(settings).cas)
    _judge(sess, certs, None)
    before = set(sess.cmdb.keys(CA))
    store_cas(sess, certs, _fields(settings))
    return [name for name in sess.cmdb.keys(CA) if name not in before]


def _fields(settings: Any) -> dict[str, str]:
    fields = {"scep-url": settings.url, "ca-identifier": settings.ca_id or ""}
    if settings.source_ip:
        fields["source-ip"] = settings.source_ip
    return fields
