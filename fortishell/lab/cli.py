"""``fortishell lab-server``: the lab EST responder on its own, for a classroom.

Prints where it listens and the fault knobs in force, then one access-log line
per request (:mod:`.accesslog`) on standard output and, with ``--access-log
FILE``, appended to FILE; serves until Ctrl-C / SIGTERM.

The state (serial counter, issued certificates, revocations, a ``--new-ca`` CA) is
kept on disk in ``<state-dir>/est-lab``: ``<state-dir>`` is the global ``fortishell
--state-dir DIR`` (else ``$FORTISHELL_STATE_DIR``, else the XDG default), the place
the embedded responder and ``lab-ca`` use, so a restart never issues a serial
twice.  ``--ephemeral`` keeps it in memory (tests, throw-away runs).

EST is served by ``--workers N`` processes (default: one per core) forked over one
listening socket (:mod:`.workers`); the other lab services stay in this process.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import IO

from .. import options
from ..clock import Clock, parse_clock_option
from ..errors import FortiError, LabError
from ..x509text import sha256_fingerprint
from . import classroom, workers
from .accesslog import AccessLog, describe_faults
from .ca import LabCA
from .network import STATE_SUBDIR
from .server import EstResponder, ResponderConfig

# the program name: its usage and the lead of every error line, `fortishell lab-server: ...`, as
# the other subcommands write theirs (`fortishell lab-ca: ...`, `fortishell serve: ...`)
PROG = "fortishell lab-server"

FAULT_FLAGS = (
    "reject_auth", "status_500", "truncate_body", "garbage_base64", "wrong_content_type",
    "drop_connection", "wrong_key_cert", "foreign_ca_cert", "tls_failure", "split_writes",
    "cacerts_not_ca", "cacerts_unchained",
)
# fault flag -> help: what a student's device meets (the "HTTP" faults only on the operations of
# --fault-endpoint; tls_failure and split_writes on every connection)
FAULT_HELP = {
    "reject_auth": "answer every enrollment 401 with a new authentication challenge, whatever the "
                   "credentials, so the client never gets in",
    "status_500": "answer 500 Internal Server Error instead of the reply",
    "truncate_body": "announce the whole Content-Length, send half of the body, then close the connection",
    "garbage_base64": "send a body that is not base64 at all, with a Content-Length that matches it",
    "wrong_content_type": "label replies Content-Type: text/html instead of the EST media type",
    "drop_connection": "read the request, then close the connection without any answer",
    "wrong_key_cert": "enrollment: issue a certificate for another public key than the CSR's, which the "
                      "client must refuse",
    "foreign_ca_cert": "enrollment: issue the certificate from a throw-away CA with the lab CA's name but "
                       "another key, which the client must refuse",
    "tls_failure": "answer every TLS ClientHello with a fatal handshake_failure alert (every connection, "
                   "whatever --fault-endpoint)",
    "split_writes": "send each reply's header block and body in two writes with Nagle on, as many real EST "
                    "servers do: a client that delays its ACKs waits about 40 ms per reply (every reply)",
    "cacerts_not_ca": "/cacerts also carries the responder's own TLS server certificate (CA:FALSE), which "
                      "the client must not take as a CA",
    "cacerts_unchained": "/cacerts also carries a CA certificate issued by a root missing from the reply, "
                         "so it chains to nothing the client has",
}
# PKI topology knobs (lab/topology.py): flag -> help
TOPOLOGY_FLAGS = {
    "issuing_intermediate": "real-server PKI: issue certificates from the intermediate CA CN=estExampleSubCA "
                            "(signed by the lab root); /cacerts sends [intermediate, root] in chain order "
                            "(default: the root issues)",
    "tls_separate_root": "real-server PKI: present a TLS server certificate issued by a separate root "
                         "CN=estTlsRootCA that is not in /cacerts (default: the lab root's)",
    "rogue_root": "hostile PKI: add a self-signed CN=estRogueRootCA to /cacerts and issue enrollments "
                  "from it, sending it along (default: off)",
    "evil_twin": "hostile PKI: /cacerts sends [root, R, R'], two self-signed CN=Evil Twin roots with one "
                 "key naming each other; enrollments are issued by that key and carry R, R' (default: off)",
}


def build_parser() -> argparse.ArgumentParser:
    p = options.Parser(prog=PROG, description="Run the lab EST (RFC 7030) responder.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=options.listen_port, default=8443,
                   help="port to listen on, 1-65535 or 0 for any free port (default: 8443)")
    p.add_argument("--ephemeral", action="store_true",
                   help="keep serials and issued certificates in memory only, lost at exit (several workers: "
                        "in a directory on /dev/shm, removed at exit) (default: on disk in "
                        "<state-dir>/est-lab, <state-dir> as for the shell: fortishell --state-dir DIR lab-server, "
                        "else $FORTISHELL_STATE_DIR, else $XDG_STATE_HOME/fortishell, else ~/.local/state/fortishell)")
    # the one spelling of the state directory is the global one (before the command): refused here
    p.add_argument("--state-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--new-ca", action="store_true",
                   help="make a fresh lab CA, saved in the lab state (unless --ephemeral) and used from then on "
                        "(default: the shipped CN=estExampleCA, or the one made earlier with --new-ca)")
    p.add_argument("--auth", choices=("basic", "digest"), default="basic", help="HTTP authentication (default: basic)")
    p.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD",
                   help="HTTP user, repeatable (default: estuser:estpwd)")
    p.add_argument("--srp-user", action="append", default=[], metavar="NAME:PASSWORD",
                   help="TLS-SRP user, repeatable (default: srpuser:srppwd)")
    p.add_argument("--require-pop", action="store_true",
                   help="require tls-unique in challengePassword, TLS 1.2 only (default: not required)")
    p.add_argument("--clock", type=options.clock, default=None, metavar="WHEN",
                   help="fixed responder time, e.g. '2023-04-06 22:37:34': what it issues is dated by this "
                        "clock, never by the students' device clocks, so give a room the exercise's clock "
                        "(default: the real time)")
    p.add_argument("--workers", type=_workers, default=None, metavar="N",
                   help=f"worker processes serving EST over the one listening port, 1-{workers.MAX_WORKERS}; they "
                        "share the lab state, the fault knobs and the access log; 1 serves in this process "
                        f"(default: the number of cores, here {workers.default_workers()})")
    p.add_argument("--access-log", metavar="FILE",
                   help="also append the access log to FILE (default: standard output only)")
    p.add_argument("--quiet", action="store_true",
                   help="no access-log lines on standard output (default: one line per request)")
    classroom.add_arguments(p)
    for name in FAULT_FLAGS:
        p.add_argument("--" + name.replace("_", "-"), action="store_true",
                       help="fault: " + FAULT_HELP[name] + " (default: off)")
    for name, text in TOPOLOGY_FLAGS.items():  # PKI topology knobs
        p.add_argument("--" + name.replace("_", "-"), action="store_true", help=text)
    p.add_argument("--retry-after", nargs=2, type=options.count, metavar=("COUNT", "SECONDS"),
                   help="fault: answer the first COUNT enrollments 202 with Retry-After SECONDS (default: off)")
    p.add_argument("--delay", type=options.seconds, default=0.0, metavar="SECONDS",
                   help="fault: wait SECONDS (0-600) before each answer (default: 0)")
    p.add_argument("--fault-endpoint", action="append", default=[], metavar="OP",
                   choices=("cacerts", "csrattrs", "simpleenroll", "simplereenroll", "serverkeygen"),
                   help="limit the HTTP faults to OP, repeatable (default: every EST operation)")
    _add_habit_flags(p)
    return p


# real-server body habits (see .habits): how independent EST servers shape their replies
HABIT_FLAGS = {
    "nul_terminated": "end every base64 body with one NUL byte, counted in Content-Length, "
                      "as the reference server's /csrattrs (default: off)",
    "pem_armour": "send PKCS#7 bodies in PEM armour, -----BEGIN PKCS7----- (default: off)",
    "no_transfer_encoding": "leave out the Content-Transfer-Encoding header (default: sent, base64)",
    "chain_order": "PKCS#7 certificate sets in chain order, not DER SET order; enrollment replies "
                   "add the CA certificate after the issued one (default: off)",
    "chunked": "send replies in chunked transfer encoding, without Content-Length (default: off)",
    "http10": "answer with HTTP/1.0 status lines and close the connection after each reply (default: off)",
    "connection_close": "send Connection: close and close the connection after each reply (default: off)",
    "csrattrs_example": "answer /csrattrs with the RFC 7030 section 4.5.2 example: challengePassword, "
                        "id-ecPublicKey secp384r1, extensionRequest macAddress, ecdsa-with-SHA384 (default: off)",
}


def _add_habit_flags(p: argparse.ArgumentParser) -> None:
    for name, text in HABIT_FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), action="store_true", help="habit: " + text)
    p.add_argument("--wrap-columns", type=_columns, default=0, metavar="N",
                   help="habit: base64 bodies in lines of N columns (4-1024) ending CRLF, e.g. 76 "
                        "(default: 64 columns ending LF)")
    p.add_argument("--pkcs7-type", choices=("bare", "certs-only"), default="",
                   help="habit: Content-Type of every PKCS#7 reply, application/pkcs7-mime without (bare) or "
                        "with smime-type=certs-only (default: cacerts bare, enrollment certs-only)")


def _columns(text: str) -> int:
    value = options.count(text)
    if not 4 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"{value} is not between 4 and 1024")
    return value


def habit_knobs(args: argparse.Namespace) -> dict[str, object]:
    knobs: dict[str, object] = {n: True for n in HABIT_FLAGS if getattr(args, n)}
    if args.wrap_columns:
        knobs["wrap_columns"] = args.wrap_columns
    if args.pkcs7_type:
        knobs["pkcs7_type"] = args.pkcs7_type
    return knobs
# end of real-server body habits


def _workers(text: str) -> int:
    value = options.count(text)
    if not 1 <= value <= workers.MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and {workers.MAX_WORKERS}")
    if value > 1 and not workers.can_fork():
        raise argparse.ArgumentTypeError("more than one worker needs os.fork (POSIX)")
    return value


def _pairs(items: list[str], default: dict[str, str]) -> dict[str, str]:
    if not items:
        return dict(default)
    out = {}
    for item in items:
        name, sep, pwd = item.partition(":")
        if not sep or not name:
            raise LabError(f"'{item}' is not NAME:PASSWORD")
        out[name] = pwd
    return out


def config_from_args(args: argparse.Namespace) -> ResponderConfig:
    ca = None
    if args.new_ca:
        ca = LabCA.new()
        if args.state_dir is not None:
            ca.save(Path(args.state_dir) / "ca")
    elif args.state_dir is not None and (Path(args.state_dir) / "ca" / "ca.pem").exists():
        ca = LabCA.load(Path(args.state_dir) / "ca")  # a CA made earlier with --new-ca
    clock = Clock(fixed=parse_clock_option(args.clock)) if args.clock else None
    return ResponderConfig(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        users=_pairs(args.user, {"estuser": "estpwd"}),
        auth=args.auth,
        srp_users=_pairs(args.srp_user, {"srpuser": "srppwd"}),
        require_pop=args.require_pop,
        clock=clock,
        ca=ca,
    )


def main(argv: list[str], *, state_dir: str | None = None, clock: str | None = None) -> int:
    """``fortishell lab-server ...``: serve until interrupted.

    ``state_dir`` / ``clock``: the global ``--state-dir`` / ``--clock`` of ``fortishell``
    (``lab-server --clock`` wins).  The responder's state lives on disk in
    ``<state-dir>/est-lab`` (the embedded responder's and ``lab-ca``'s place), ``<state-dir>``
    defaulting as for the shell, so a restart continues the serial counter; ``--ephemeral``
    keeps it in memory."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.state_dir is not None:  # the old spelling, which named the lab state itself
        parser.error("--state-dir goes before the command: fortishell --state-dir DIR lab-server "
                     f"(the lab state is then DIR/{STATE_SUBDIR})")
    # unexpected responder errors (tracebacks) go to standard error, apart from the access log
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s lab-server %(levelname)s %(message)s")
    # the state lives where the embedded responder of the same state directory keeps it (and
    # where lab-ca reads it): <state-dir>/est-lab, <state-dir> resolved as for the shell
    args.state_root = Path(state_dir) if state_dir is not None else options.default_state_dir()
    args.state_dir = None if args.ephemeral else args.state_root / STATE_SUBDIR
    if args.clock is None:
        args.clock = clock
    count = args.workers if args.workers is not None else workers.default_workers()
    scratch: Path | None = None  # --ephemeral with several workers: their shared state, removed at exit
    pool: workers.WorkerPool | None = None
    log_file: IO[str] | None = None
    try:
        if args.access_log:
            log_file = open(args.access_log, "a", encoding="utf-8")  # noqa: SIM115 - open while serving
        config = config_from_args(args)
        if count > 1:
            _check_before_fork(args)
            config.faults = workers.SharedFaults()  # a POST /.lab/faults to one worker is seen by all
            if args.ephemeral:  # the workers' one lab state; the classroom services stay as with one process
                scratch = config.state_dir = workers.scratch_state_dir()
        streams = ([] if args.quiet else [sys.stdout]) + ([log_file] if log_file else [])
        access_log = AccessLog(streams)
        config.on_request = access_log
        responder = EstResponder(config)
        access_log.faults = responder.faults  # changes through POST /.lab/faults are logged too
        knobs: dict[str, object] = {n: True for n in (*FAULT_FLAGS, *TOPOLOGY_FLAGS) if getattr(args, n)}
        if args.retry_after:
            knobs["retry_after"] = tuple(args.retry_after)
        if args.delay:
            knobs["delay_seconds"] = args.delay
        if args.fault_endpoint:
            knobs["endpoints"] = tuple(args.fault_endpoint)
        knobs.update(habit_knobs(args))  # real-server body habits
        responder.faults.set(**knobs)
        if count > 1:  # forked before this process starts any thread (the classroom services)
            pool = workers.WorkerPool(responder, count).start()
        else:
            responder.start()
        try:
            extras, extra_lines = classroom.start(args, responder.clock, responder.url, access_log,
                                                  ca=responder.ca, state=responder.state)
        except BaseException:
            _stop(responder, pool)
            raise
    except (FortiError, ValueError, OSError) as exc:
        if log_file is not None:
            log_file.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(exc, FortiError):
            lines = exc.lines
        elif isinstance(exc, OSError):
            lines = [f"cannot open {exc.filename}: {exc.strerror}" if exc.filename else str(exc)]
        else:
            lines = [str(exc)]
        print("\n".join([f"{PROG}: " + lines[0], *lines[1:]]), file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"EST lab responder listening on {responder.url} (CA CN=estExampleCA, serial "
          f"{responder.ca.cert.serial_number:x}); {count} worker process{'es' if count > 1 else ''}; "
          "Ctrl-C stops it", flush=True)
    if scratch is not None and not workers.in_memory(scratch):
        state = f"state in {scratch} until exit (--ephemeral)"
    else:
        state = f"state in {args.state_dir}" if not args.ephemeral else "state in memory (--ephemeral)"
    log_to = ", ".join((["standard output"] if not args.quiet else []) + ([args.access_log] if args.access_log else []))
    print(f"faults: {describe_faults(responder.faults.snapshot())}; {state}; "
          f"access log: {log_to or 'off'}", flush=True)
    # the fingerprint students compare with what `ca import est` shows them (lab-ca show prints it too)
    print(f"lab CA SHA-256 Fingerprint: {sha256_fingerprint(responder.ca.cert)}", flush=True)
    for line in extra_lines:
        print(line, flush=True)
    code = 0
    try:
        while not stop.wait(0.5):
            if pool is not None and _lost_workers(pool):
                code = 1
                break
    finally:
        for service in extras:
            service.stop()
        _stop(responder, pool)
        if log_file is not None:
            log_file.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return code


def _check_before_fork(args: argparse.Namespace) -> None:
    """What the classroom services would refuse after the workers are forked, refused before
    (the same words as lab/scepserver.py)."""
    if args.scep_port is not None and args.scep_manual and args.ephemeral:
        raise LabError("--scep-manual keeps the requests in the lab state, where lab-ca approve finds them: "
                       "it cannot be used with --ephemeral")


def _stop(responder: EstResponder, pool: workers.WorkerPool | None) -> None:
    if pool is not None:
        pool.stop()
    else:
        responder.stop()


def _lost_workers(pool: workers.WorkerPool) -> bool:
    """Say on standard error which workers ended on their own; True when none is left."""
    for pid, status in pool.reap():
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        print(f"{PROG}: worker process {pid} ended ({how}); {len(pool.pids)} left", file=sys.stderr, flush=True)
    return not pool.pids


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
