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

LOGGER = "py.warnings"  # the logger logging.captureWarnings writes to


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
