"""``fortishell lab-ca``: the lab CA by hand, on the lab state of ``--state-dir``.

    fortishell [--state-dir DIR] lab-ca [--lab-state LABDIR] [--clock WHEN] sign CSR [-o CERT]
    fortishell [--state-dir DIR] lab-ca [--lab-state LABDIR] revoke SERIAL
    fortishell [--state-dir DIR] lab-ca [--lab-state LABDIR] crl

The lab state is ``DIR/est-lab`` (what the embedded responder uses) unless
``--lab-state`` names another one (give a standalone ``fortishell lab-server
--state-dir LABDIR`` the same directory to share it).  ``sign`` issues a
certificate for a CSR file (PEM or DER) exactly as the responder would (same
serial counter, same profile) and prints it as PEM (or writes it to ``-o``);
``revoke`` adds an issued serial (decimal, or hex with ``0x``) to the CRL;
``crl`` prints the current CRL as PEM.  Exit status 1 with one line on
standard error when something is wrong.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..clock import Clock, parse_clock_option
from ..errors import FortiError
from .ca import CsrRejected
from .crl import build_crl, crl_pem, lab_ca_for
from .state import LabState

STATE_SUBDIR = "est-lab"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fortishell lab-ca", description="The lab CA by hand.")
    p.add_argument("--lab-state", metavar="LABDIR", help="lab state directory (default: <state-dir>/est-lab)")
    p.add_argument("--clock", metavar="WHEN", help="issue / revoke / sign the CRL at WHEN (default: now)")
    sub = p.add_subparsers(dest="action", required=True)
    sign = sub.add_parser("sign", help="issue a certificate for a CSR file")
    sign.add_argument("csr", type=Path)
    sign.add_argument("-o", "--output", type=Path, help="write the certificate here (default: stdout)")
    revoke = sub.add_parser("revoke", help="revoke an issued certificate by serial number")
    revoke.add_argument("serial")
    sub.add_parser("crl", help="print the current CRL (PEM)")
    return p


def _serial(text: str) -> int:
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise SystemExit(f"lab-ca: '{text}' is not a serial number") from None


def main(argv: list[str], state_dir: Path, clock: str | None = None) -> int:
    """``clock``: the global ``--clock`` (``lab-ca --clock`` wins)."""
    args = _parser().parse_args(argv)
    args.clock = args.clock or clock
    lab_dir = Path(args.lab_state) if args.lab_state else Path(state_dir) / STATE_SUBDIR
    try:
        lab_clock = Clock(parse_clock_option(args.clock)) if args.clock else Clock()
    except ValueError:
        print(f"lab-ca: invalid --clock value: {args.clock}", file=sys.stderr)
        return 2
    try:
        state = LabState(lab_dir)
        ca = lab_ca_for(lab_dir)
        if args.action == "sign":
            data = args.csr.read_bytes()
            try:
                csr = (x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data))
            except ValueError:
                raise CsrRejected(f"{args.csr} is not a certificate signing request") from None
            serial = state.next_serial()
            cert = ca.issue(csr, now=lab_clock.now(), serial=serial)
            pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
            state.record(serial, subject=cert.subject.rfc4514_string(),
                         not_after=cert.not_valid_after_utc.isoformat(), pem=pem, op="lab-ca sign")
            if args.output:
                args.output.write_text(pem)
                print(f"issued serial {serial} (0x{serial:x}) -> {args.output}")
            else:
                print(pem, end="")
        elif args.action == "revoke":
            serial = _serial(args.serial)
            if state.revoke(serial, lab_clock.now().replace(microsecond=0).isoformat()):
                print(f"revoked serial {serial} (0x{serial:x})")
            else:
                print(f"serial {serial} (0x{serial:x}) was already revoked")
        else:
            print(crl_pem(build_crl(ca, state.revoked(), lab_clock.now())), end="")
    except FortiError as exc:
        print("lab-ca: " + " ".join(exc.lines), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"lab-ca: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}", file=sys.stderr)
        return 1
    return 0
