"""A standard-library threading HTTP server whose request errors never reach stderr.

``socketserver`` prints a traceback to stderr when a request handler raises, and stderr is a
shell user's terminal (the device's ACME challenge responder runs inside the shell; the lab
services beside it).  :class:`QuietHTTPServer` sends them to a logger instead: a client that
hangs up or resets mid-reply is the peer's doing (debug, one line); anything else is a bug,
logged with its traceback (``debug.log``)."""

from __future__ import annotations

import logging
import sys
import traceback
from http.server import ThreadingHTTPServer
from typing import ClassVar


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    error_log: ClassVar[logging.Logger] = logging.getLogger("fortishell")

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # ConnectionResetError, BrokenPipeError, ssl's EOF and alerts, timeouts
            self.error_log.debug("HTTP server: connection from %s ended: %s", client_address, exc)
            return
        self.error_log.error("HTTP server: request from %s failed\n%s", client_address, traceback.format_exc())
