"""The JSON envelope of every REST answer, success or error, as FortiOS 7.6 writes it.

Success: ``http_method``, ``http_status`` 200, ``status`` ``success``, then what the
endpoint adds (``results``, ``mkey``, ``revision`` ...), then ``vdom``, ``path``,
``name``, ``serial``, ``version``, ``build``.  Errors: the same envelope with
``status`` ``error``, the HTTP code in ``http_status``, ``error`` (the CLI return
code when there is one) and ``cli_error`` (the CLI's own lines) when a CLI check
refused the value.  No I/O.
"""

from __future__ import annotations

from typing import Any

from ..errors import FortiError
from ..shell.commands.system import BUILD, SERIAL, VERSION

# what the device reports in every envelope (get system status: v7.6.1,build0197)
BUILD_NUMBER = int(BUILD)


class RestError(Exception):
    """An answer other than success: HTTP ``status``, device ``error`` code, optional ``cli_error``."""

    def __init__(self, status: int, error: int | None = None, cli_error: str | None = None,
                 **extra: Any) -> None:
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.cli_error = cli_error
        self.extra = extra

    @classmethod
    def from_cli(cls, exc: FortiError, status: int = 500) -> "RestError":
        """A CLI check that refused the request: its return code and its lines, as the device does."""
        return cls(status, exc.return_code, "\n".join(exc.output()))


def tail(vdom: str | None, path: str | None, name: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if vdom is not None:
        out["vdom"] = vdom
    if path is not None:
        out["path"] = path
    if name is not None:
        out["name"] = name
    out.update(serial=SERIAL, version=VERSION, build=BUILD_NUMBER)
    return out


def success(method: str, fields: dict[str, Any], *, vdom: str | None = "root", path: str | None = None,
            name: str | None = None) -> dict[str, Any]:
    return {"http_method": method, "http_status": 200, "status": "success", **fields,
            **tail(vdom, path, name)}


def error(method: str, err: RestError, *, vdom: str | None = "root", path: str | None = None,
          name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"http_method": method, "http_status": err.status, "status": "error"}
    if err.error is not None:
        body["error"] = err.error
    if err.cli_error is not None:
        body["cli_error"] = err.cli_error
    body.update(err.extra)
    body.update(tail(vdom, path, name))
    return body
