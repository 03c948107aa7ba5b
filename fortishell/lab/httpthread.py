"""One stdlib HTTP server serving on its own daemon thread: the plumbing the plain-HTTP lab
services share (the CRL on ``crl.lab``, SCEP on ``scep.lab``).  Each service keeps its own
request handler (its app); this module binds, serves and stops (:class:`HttpService`), and its
:class:`LoggedHandler` sends http.server's request lines to the service's logger at debug level
(never to stderr, where they would land in a shell user's terminal)."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from ..errors import LabError
from ..quiethttp import QuietHTTPServer


class LabHTTPServer(QuietHTTPServer):
    """The lab services' server: request errors on the lab logger (:mod:`fortishell.quiethttp`)."""

    error_log = logging.getLogger("fortishell.lab")


class HttpThread:
    """A bound :class:`ThreadingHTTPServer` and the thread serving it, until :meth:`stop`."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._httpd: ThreadingHTTPServer | None = httpd
        self._thread: threading.Thread | None = thread

    @classmethod
    def start(cls, host: str, port: int, handler: type[BaseHTTPRequestHandler], *, what: str, name: str,
              poll_interval: float = 0.2) -> "HttpThread":
        """Bind ``host:port`` (0: any free port) and serve; ``what`` names the service in the
        one-line :class:`LabError` a bind failure raises (``the lab CRL server``), ``name`` its thread."""
        try:
            httpd = LabHTTPServer((host, port), handler)
        except OSError as exc:
            raise LabError(f"Cannot start {what} on {host}:{port}: {exc.strerror}") from None
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": poll_interval},
                                  name=name, daemon=True)
        thread.start()
        return cls(httpd, thread)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1]) if self._httpd is not None else 0

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket (idempotent)."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout)


class LoggedHandler(BaseHTTPRequestHandler):
    """A request handler whose access lines go to :attr:`log` (debug), not to stderr."""

    log: ClassVar[logging.Logger] = logging.getLogger("fortishell.lab")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        self.log.debug(format, *args)


class HttpService:
    """A lab service on ``host:port`` (0: any free port; the bound one once served) until :meth:`stop`."""

    host: str
    port: int
    _served: HttpThread | None = None

    def _serve(self, handler: type[BaseHTTPRequestHandler], *, what: str, name: str) -> None:
        self._served = HttpThread.start(self.host, self.port, handler, what=what, name=name)
        self.port = self._served.port

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        served, self._served = self._served, None
        if served is not None:
            served.stop()
