"""``fortishell lab-ca``: the lab CA by hand, on the lab state of ``--state-dir``.

    fortishell [--state-dir DIR] lab-ca [--lab-state LABDIR] [--clock WHEN] sign CSR [-o CERT]
    fortishell [--state-dir DIR] lab-ca [--lab-state LABDIR] revoke SERIAL
    fortishell [--state-dir DIR] lab-ca [--lab-state LABDIR] crl
    fortishell [--state-dir DIR] lab-ca [--lab-state LABDIR] show
    fortishell [--state-dir DIR] lab-ca [--lab-state LABDIR] approve|reject TRANSACTION-ID|--all

The lab state is ``DIR/est-lab`` (what the embedded responder uses) unless
``--lab-state`` names another one (give a standalone ``fortishell lab-server
--state-dir LABDIR`` the same directory to share it); ``--lab-state`` and
``--clock`` may also follow the action.  ``sign`` issues a certificate for a CSR
file (PEM or DER) exactly as the responder would (same serial counter, same
profile) and prints it as PEM (or writes it to ``-o``); ``revoke`` adds an issued
serial to the CRL; ``crl`` prints the current CRL as PEM; ``show`` prints the lab
CA certificate with its SHA-256 fingerprint as ``ca import est`` shows it, the
clock that dates what it issues (:func:`issuing_lines`), then its PEM.

Serials are written as the device writes them (``07:46:9a``, ``get ... details``);
``revoke`` also takes hex (``7469a``, ``0x7469a``) and decimal (``476826``).  Digits
alone can be either: the one issued by this CA is meant, and when both were issued
the command asks for an unambiguous form.

``approve`` / ``reject`` decide a SCEP request (its transaction id, or the first
characters of exactly one) the lab SCEP responder holds in manual-approval mode
(``lab-server --scep-manual``, or a device's request to ``http://scep.lab/approval/scep``;
``--all`` decides every pending request; the pending store in ``LABDIR/scep/pending.json``,
:mod:`.scepstore`): the requester's next poll gets its certificate (issued then, on the
responder's clock) or FAILURE badRequest.  ``show`` lists the SCEP requests, with their
transaction ids and status, after the fingerprint.

Exit status 1 with one line ``fortishell lab-ca: ...`` on standard error when something
is wrong (2 for a command-line error, as argparse).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..clock import Clock, parse_clock_option
from ..errors import FortiError, LabError
from ..x509text import name_spaced, serial_colon, serial_readings, sha256_fingerprint
from .ca import CsrRejected, LabCA, leaf_builder
from .crl import build_crl, crl_pem, lab_ca_for
from .scepstore import PendingStore
from .state import LabState

STATE_SUBDIR = "est-lab"
PROG = "fortishell lab-ca"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="The lab CA by hand.")
    _common(p, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="action", required=True)
    sign = sub.add_parser("sign", help="issue a certificate for a CSR file")
    sign.add_argument("csr", type=Path, metavar="CSR",
                      help="the certificate signing request file, PEM or DER (e.g. from execute vpn certificate "
                           "local export tftp)")
    sign.add_argument("-o", "--output", type=Path, help="write the certificate here (default: stdout)")
    revoke = sub.add_parser("revoke", help="revoke an issued certificate by serial number")
    revoke.add_argument("serial", help="as the device shows it (07:46:9a), hex (7469a, 0x7469a) or decimal")
    crl = sub.add_parser("crl", help="print the current CRL (PEM)")
    show = sub.add_parser("show", help="print the lab CA certificate, its SHA-256 fingerprint and the SCEP "
                                       "requests waiting for approval")
    approve = sub.add_parser("approve", help="approve a pending SCEP request (lab-server --scep-manual)")
    reject = sub.add_parser("reject", help="reject a pending SCEP request (lab-server --scep-manual)")
    for decide in (approve, reject):
        which = decide.add_mutually_exclusive_group(required=True)
        which.add_argument("transaction_id", metavar="TRANSACTION-ID", nargs="?",
                           help="the request's transaction id, as lab-ca show and the access log print it "
                                "(or the first characters of exactly one, in any case)")
        which.add_argument("--all", action="store_true", help="every request waiting for approval")
    for action in (sign, revoke, crl, show, approve, reject):
        _common(action, argparse.SUPPRESS)
    return p


def _common(p: argparse.ArgumentParser, default: object) -> None:
    """The options taken before and after the action (the later one wins)."""
    p.add_argument("--lab-state", metavar="LABDIR", default=default,
                   help="lab state directory (default: <state-dir>/est-lab)")
    p.add_argument("--clock", metavar="WHEN", default=default,
                   help="issue / revoke / sign the CRL at WHEN (default: now)")


def _fail(text: str) -> int:
    print(f"{PROG}: {text}", file=sys.stderr)
    return 1


def main(argv: list[str], state_dir: Path, clock: str | None = None) -> int:
    """``clock``: the global ``--clock`` (``lab-ca --clock`` wins)."""
    args = _parser().parse_args(argv)
    when = getattr(args, "clock", None) or clock
    lab_state = getattr(args, "lab_state", None)
    lab_dir = Path(lab_state) if lab_state else Path(state_dir) / STATE_SUBDIR
    try:
        lab_clock = Clock(parse_clock_option(when)) if when else Clock()
    except ValueError:
        print(f"{PROG}: invalid --clock value: {when}", file=sys.stderr)
        return 2
    try:
        if args.action == "show":
            print("\n".join(show_lines(lab_ca_for(lab_dir), PendingStore(lab_dir),
                                        issuing_lines(lab_clock.now() if when else None))))
            return 0
        if args.action in ("approve", "reject"):
            store, yes = PendingStore(lab_dir), args.action == "approve"
            rows = store.decide_all(yes) if args.all else [store.decide(args.transaction_id, yes)]
            for decided in rows:
                print(f"SCEP request {decided.transaction_id} ({decided.subject}) {decided.status}")
            if not rows:
                print("No SCEP request is waiting for approval")
            return 0
        state = LabState(lab_dir)
        ca = lab_ca_for(lab_dir)
        if args.action == "sign":
            _sign(state, ca, lab_clock, args.csr, args.output)
        elif args.action == "revoke":
            serial = _issued_serial(state, args.serial)
            if state.revoke(serial, lab_clock.now().replace(microsecond=0).isoformat()):
                print(f"revoked serial {serial_colon(serial)}")
            else:
                print(f"serial {serial_colon(serial)} was already revoked")
        else:
            print(crl_pem(build_crl(ca, state.revoked(), lab_clock.now())), end="")
    except FortiError as exc:
        return _fail(" ".join(exc.lines))
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}")
    return 0


def _sign(state: LabState, ca: LabCA, clock: Clock, csr_file: Path, output: Path | None) -> None:
    data = csr_file.read_bytes()
    try:
        csr = (x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data))
    except ValueError:
        raise CsrRejected(f"{csr_file} is not a certificate signing request") from None
    now = clock.now()
    leaf_builder(csr, issuer=ca.cert, now=now, serial=1)  # CsrRejected before a serial is used (no gap)
    serial = state.next_serial()
    cert = ca.issue(csr, now=now, serial=serial)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    state.record(serial, subject=cert.subject.rfc4514_string(),
                 not_after=cert.not_valid_after_utc.isoformat(), pem=pem, op="lab-ca sign")
    if output:
        output.write_text(pem)
        print(f"issued serial {serial_colon(serial)} -> {output}")
    else:
        print(pem, end="")


def _issued_serial(state: LabState, text: str) -> int:
    """The serial ``text`` names (module note); the first reading when none was issued (the
    revocation then says so), LabError when it is no serial or names two issued ones."""
    readings = serial_readings(text)
    if not readings:
        raise LabError(f"'{text}' is not a serial number (write it as the device shows it, e.g. 07:46:9a, "
                       "or in hex, 0x7469a, or in decimal)")
    issued = state.issued()
    hits = [serial for serial in readings if serial in issued]
    if len(hits) > 1:
        raise LabError(f"'{text}' names two issued serials, {serial_colon(hits[0])} (decimal) and "
                       f"{serial_colon(hits[1])} (hex): write it as the device shows it")
    if not hits and len(readings) > 1:
        raise LabError(f"Neither {serial_colon(readings[0])} ({text} in decimal) nor {serial_colon(readings[1])} "
                       f"(0x{text}) was issued by this lab CA")
    return hits[0] if hits else readings[0]


def issuing_lines(at: _dt.datetime | None) -> list[str]:
    """Which clock dates what this lab CA issues: ``at`` (``--clock``) or the real time.

    Choice (issue 22): an issuer dates certificates by its own clock.  A shell's
    embedded responder is the device's, so it issues on the device clock; a
    standalone ``lab-server`` and ``lab-ca sign`` use theirs (``--clock``, else the
    real time) and never a student's device clock, which EST does not send.  The
    device stores such a certificate as issued (its ``Valid from`` may lie ahead
    of the device clock); the trainer sees the clock here, and matches a room to
    an exercise with ``lab-server --clock``."""
    when = f"{at:%Y-%m-%d %H:%M:%S}  GMT (--clock)" if at is not None else "the real time (no --clock)"
    return [f"Issues at:   {when}",
            "Certificates are dated by the issuer's clock, not the student's device clock: "
            "lab-ca and lab-server --clock WHEN (else the real time); the embedded responder of a "
            "shell or lab start issues on that device's clock."]


def show_lines(ca: LabCA, pending: PendingStore | None = None, issuing: list[str] | None = None) -> list[str]:
    """The lab CA certificate: the first lines as ``get vpn certificate ca details`` prints them,
    the fingerprint as ``ca import est`` does, ``issuing`` (:func:`issuing_lines`), the SCEP requests
    (``pending``), then its PEM."""
    cert = ca.cert
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return [f"Subject:     {name_spaced(cert.subject)}",
            f"Issuer:      {name_spaced(cert.issuer)}",
            f"Valid from:  {cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S}  GMT",
            f"Valid to:    {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S}  GMT",
            f"Serial Num:  {serial_colon(cert.serial_number)}",
            f"SHA-256 Fingerprint: {sha256_fingerprint(cert)}",
            *(issuing or []),
            *(scep_lines(pending) if pending is not None else []),
            *pem.rstrip("\n").split("\n")]


def scep_lines(pending: PendingStore) -> list[str]:
    """The SCEP requests of manual-approval mode, oldest first: transaction id, status, when, subject."""
    rows = pending.all()
    if not rows:
        return ["SCEP requests: none"]
    width = max(len(r.transaction_id) for r in rows)
    return ["SCEP requests (fortishell lab-ca approve|reject TRANSACTION-ID):",
            *(f"  {r.transaction_id:<{width}}  {r.status:<8}  {r.received}  {r.subject}"
              + (f"  serial {serial_colon(r.serial)}" if r.serial is not None else "") for r in rows)]
