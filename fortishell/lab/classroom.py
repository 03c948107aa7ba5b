"""The services ``fortishell lab-server`` runs next to the EST responder for a classroom.

``--tftp-port P`` starts the lab TFTP server (files in ``--tftp-root``, default
``<state-dir>/tftp``, as the embedded ``tftp.lab``); ``--crl-port P`` publishes the lab
CA's CRL over plain HTTP at ``/estExampleCA.crl`` (revocations: ``fortishell [--state-dir
DIR] lab-ca revoke SERIAL``, on the same ``<state-dir>/est-lab``); ``--acme-port P`` serves
the lab ACME server (``acme.lab``'s ``https://HOST:P/directory``), issuing from the
responder's CA and lab state (one serial counter; its accounts and orders in
``<state-dir>/est-lab/acme.json``, unless ``--ephemeral``), its http-01 validation fetching from
the address each challenge-ready request came from, at ``--acme-http01-port`` (the port
students give as ``--acme-http-port``; the students' URL carries it as ``http01=``), with
the fault knobs ``--acme-invalid-challenges``, ``--acme-bad-nonces N``, ``--acme-rate-limited``
and ``--acme-slow-validation SECONDS`` (:class:`.acmeapp.AcmeFaults`; shown on its start-up line);
``--scep-port P`` serves the lab SCEP responder (``scep.lab``, plain HTTP, ``lab/scepserver.py``:
its options ``--scep-challenge``, ``--scep-manual``, ``--scep-single-ca`` and the failInfo faults).
All listen on ``--host`` and write their requests to the responder's access log.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Protocol

from .. import options
from ..errors import LabError
from ..clock import Clock
from .accesslog import AccessLog
from .acmeapp import ACME_FAULT_HELP, AcmeFaults
from .acmeserver import AcmeServer
from .acmestate import RecordFile
from .ca import LabCA
from .crl import CRL_PATH, CrlService, lab_ca_for
from . import scepserver
from .state import LabState
from .tftp import TftpService


ACME_HTTP01_PORT = 5002  # pebble's http-01 port


class Service(Protocol):
    def stop(self) -> None: ...


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tftp-port", type=options.listen_port, default=None, metavar="PORT",
                   help="also serve TFTP on PORT, 1-65535 or 0 for any free port (default: no TFTP)")
    p.add_argument("--tftp-root", type=Path, default=None, metavar="DIR",
                   help="TFTP files (default: <state-dir>/tftp)")
    p.add_argument("--crl-port", type=options.listen_port, default=None, metavar="PORT",
                   help=f"also publish the lab CRL over HTTP on PORT, path {CRL_PATH} (default: no CRL server)")
    p.add_argument("--acme-port", type=options.listen_port, default=None, metavar="PORT",
                   help="also serve the lab ACME server (acme.lab, https://HOST:PORT/directory) on PORT, issuing "
                        "from the lab CA state (default: no ACME server)")
    p.add_argument("--acme-http01-port", type=options.port, default=ACME_HTTP01_PORT, metavar="PORT",
                   help="validate http-01 at this port of the address each student's device asks from; students "
                        f"answer there (--acme-http-port, or http01= in their --lab-server URL) "
                        f"(default: {ACME_HTTP01_PORT}, as pebble)")
    # the lab ACME server's fault knobs (AcmeFaults), for exercises on failed orders
    for name, text in ACME_FAULT_HELP.items():
        flag = "--acme-" + name.replace("_", "-")
        if name == "bad_nonces":
            p.add_argument(flag, type=options.count, default=0, metavar="N", help="ACME fault: " + text)
        elif name == "slow_validation":
            p.add_argument(flag, type=options.seconds, default=0.0, metavar="SECONDS", help="ACME fault: " + text)
        else:
            p.add_argument(flag, action="store_true", help="ACME fault: " + text)
    scepserver.add_arguments(p, options.listen_port)


def acme_faults(args: argparse.Namespace) -> AcmeFaults:
    """The ``--acme-*`` fault flags as knobs; refused without ``--acme-port`` (nothing to apply them to)."""
    faults = AcmeFaults(**{name: getattr(args, "acme_" + name) for name in ACME_FAULT_HELP})
    if faults != AcmeFaults() and args.acme_port is None:
        flag = next("--acme-" + n.replace("_", "-") for n in ACME_FAULT_HELP if getattr(args, "acme_" + n))
        raise LabError(f"{flag} needs --acme-port (the lab ACME server)")
    return faults


def start(args: argparse.Namespace, clock: Clock | None, responder_url: str = "",
          log: AccessLog | None = None, *, ca: LabCA | None = None,
          state: LabState | None = None) -> tuple[list[Service], list[str]]:
    """Start what the options ask for; returns the services and one line per service, then
    the ``--lab-server`` URL students give (with the TFTP / CRL / ACME ports) when there are any.
    With ``log`` (the responder's access log), TFTP transfers, CRL fetches and ACME requests
    are logged too; ``ca`` / ``state``: the responder's (the ACME server issues from them)."""
    services: list[Service] = []
    lines: list[str] = []
    query: list[str] = []
    state_dir = Path(args.state_dir) if args.state_dir is not None else None
    faults = acme_faults(args)
    try:
        if args.tftp_port is not None:
            root = args.tftp_root or Path(args.state_root) / "tftp"  # the embedded tftp.lab's root (network.TFTP_SUBDIR)
            tftp = TftpService(root, args.host, args.tftp_port, on_transfer=log.tftp if log else None).start()
            services.append(tftp)
            lines.append(f"TFTP server listening on {args.host}:{tftp.port} (files in {root})")
            query.append(f"tftp={tftp.port}")
        if args.crl_port is not None:
            crl = CrlService(LabState(state_dir), lab_ca_for(state_dir), clock, args.host, args.crl_port,
                             on_request=log.crl if log else None).start()
            services.append(crl)
            lines.append(f"CRL published at http://{args.host}:{crl.port}{CRL_PATH}")
            query.append(f"crl={crl.port}")
        if args.acme_port is not None:
            acme = AcmeServer(ca or lab_ca_for(state_dir), lambda _domain: None, host=args.host,
                              port=args.acme_port, now=clock.now if clock is not None else None,
                              http01_port=args.acme_http01_port, state=state or LabState(state_dir),
                              on_request=log.acme if log else None, faults=faults,
                              records=RecordFile(state_dir) if state_dir is not None else None)
            try:
                acme.start()
            except OSError as exc:
                raise LabError(f"Cannot listen on {args.host}:{args.acme_port} (ACME): "
                               f"{exc.strerror or exc}") from None
            services.append(acme)
            knobs = f"; faults: {faults.describe()}" if faults.describe() else ""
            lines.append(f"ACME server at https://{args.host}:{acme.address[1]}/directory (acme.lab; http-01 "
                         f"validated at port {args.acme_http01_port} of each student's address{knobs})")
            query += [f"acme={acme.address[1]}", f"http01={args.acme_http01_port}"]
        if args.scep_port is not None:
            scep, scep_lines = scepserver.start_from_args(args, ca or lab_ca_for(state_dir),
                                                          state or LabState(state_dir), clock, log.scep if log else None)
            services.append(scep)
            lines += scep_lines
            query.append(f"scep={scep.port}")
    except BaseException:
        for service in services:
            service.stop()
        raise
    if query and responder_url:
        lines.append(f"students: fortishell --lab-server '{responder_url}/?{'&'.join(query)}'")
    return services, lines
