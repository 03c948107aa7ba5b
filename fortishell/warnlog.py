"""Python warnings as logged events: no warning ever reaches a shell user.

Libraries warn on stderr (cryptography's "PKCS#7 certificates could not be
parsed as DER, falling back to parsing as BER" for a certificate set in chain
order, deprecations, ...).  At the process boundary (:func:`capture`, called
by the ``fortishell`` entry point before any command) warnings are routed to
the ``py.warnings`` logger instead; every device's ``debug.log`` handler is
attached to it (:func:`attach`), so a warning becomes one WARNING line in
debug.log.  A process without a device (``lab-server``) logs them where it
logs its errors (its root logger, standard error).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

LOGGER = "py.warnings"  # the logger logging.captureWarnings writes to
TREE = "fortishell"  # the loggers of fortishell's own modules (fortishell.lab, fortishell.acme, ...)


def capture() -> None:
    """Route Python warnings to the ``py.warnings`` logger from now on (idempotent)."""
    logging.captureWarnings(True)
    log = logging.getLogger(LOGGER)
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())  # never logging's last-resort handler (stderr)


def attach(handler: logging.Handler) -> None:
    """Also write captured warnings to ``handler`` (a device's debug.log)."""
    log = logging.getLogger(LOGGER)
    if handler not in log.handlers:
        log.addHandler(handler)


@contextmanager
def library_logs_to(log: logging.Logger) -> Iterator[None]:
    """While a local shell or ``run`` has its device open: what fortishell's own services log
    (the embedded lab servers, the ACME challenge responder, the REST and SSH modules: the
    ``fortishell`` logger tree) goes to that device's debug.log handlers, never to logging's
    last-resort handler (standard error: the user's terminal).  ``serve`` and ``lab-server``
    keep their errors on their own console."""
    tree = logging.getLogger(TREE)
    handlers = list(log.handlers) or [logging.NullHandler()]
    for handler in handlers:
        tree.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            tree.removeHandler(handler)
