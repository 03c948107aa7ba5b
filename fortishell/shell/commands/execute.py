"""``execute`` commands: date, time, factoryreset, log, ping, vpn certificate local generate est.

Choices where FortiOS behaviour is undocumented:

* ``execute date`` / ``execute time`` without an argument print ``current date
  is: 2023-04-06`` / ``current time is: 22:37:34``; with one they move the
  device clock (time of day kept by ``date``, date kept by ``time``).  A value
  that does not parse prints ``invalid date value: x`` / ``invalid time value: x``,
  a blank line and ``value parse error before 'x'`` (rc -651, like a bad integer).
  ``execute time`` accepts ``hh:mm:ss`` and ``hh:mm``.
* ``execute factoryreset`` asks first; ``y`` restores the factory configuration
  and returns the session to the root prompt (the real box reboots; the emulator
  is back at once), ``n`` does nothing.
* ``execute vpn certificate local generate est <name> ...`` on an existing
  certificate asks the guide's Example 3 question and re-generates on ``y``.
* ``execute log display`` shows the device event log (certificate expiry
  warnings, renewals, renewal failures), newest first, in the FortiOS
  ``N logs found.`` layout.  The emulator records event logs only, so the
  display filter's category defaults to ``event``; ``execute log filter
  category event`` (or ``1``, its FortiOS number) is accepted and changes
  nothing, any other category shows ``0 logs found.``; ``execute log filter
  reset`` returns to ``event``.  The filter belongs to the device (FortiOS
  keeps it per CLI session; one filter per box is our simplification).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...cli import ast
from ...errors import IncompleteCommand, ValueParseError
from ..result import Question, Result
from . import certs_tree
from .tree import CommandHandlers, Node, extra_words, fixed_args, run

if TYPE_CHECKING:
    from ..session import Session

LOCAL = ("vpn", "certificate", "local")

_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$")


# ------------------------------------------------------------------ date / time
def _clock_part(sess: "Session", rest: list[ast.Word], what: str, shown: str, pattern: re.Pattern[str],
                make: Callable[[re.Match[str]], Any], merge: Callable[[dt.datetime, Any], dt.datetime]) -> Result:
    """``execute date`` / ``execute time``: show the clock's part, or set it keeping the rest."""
    extra_words(rest, 1)
    clock = sess.device.clock
    if not rest:
        return Result([f"current {what} is: {clock.now():{shown}}"])
    text = rest[0].text
    m = pattern.match(text)
    try:
        if not m:
            raise ValueError(text)
        value = make(m)
    except ValueError:
        raise ValueParseError(f"invalid {what} value: {text}", text, -651) from None
    clock.set(merge(clock.now(), value))
    return Result()


def do_date(sess: "Session", rest: list[ast.Word]) -> Result:
    return _clock_part(sess, rest, "date", "%Y-%m-%d", _DATE,
                       lambda m: dt.date(int(m[1]), int(m[2]), int(m[3])),
                       lambda now, d: now.replace(year=d.year, month=d.month, day=d.day))


def do_time(sess: "Session", rest: list[ast.Word]) -> Result:
    return _clock_part(sess, rest, "time", "%H:%M:%S", _TIME,
                       lambda m: dt.time(int(m[1]), int(m[2]), int(m[3] or 0)),
                       lambda now, t: now.replace(hour=t.hour, minute=t.minute, second=t.second, microsecond=0))


# ------------------------------------------------------------------ factoryreset
FACTORYRESET_QUESTION = ["This operation will reset the system to factory default!",
                         "Do you want to continue? (y/n)"]


def do_factoryreset(sess: "Session", rest: list[ast.Word]) -> Result:
    extra_words(rest, 0)

    def answer(yes: bool) -> Result:
        if yes:
            sess.device.factory_reset()
            sess.reset()
        return Result()

    return Result(question=Question(list(FACTORYRESET_QUESTION), sess.guard(answer)))


# ------------------------------------------------------------------ ping
def do_ping(sess: "Session", rest: list[ast.Word]) -> Result:
    if not rest:
        raise IncompleteCommand()
    extra_words(rest, 1)
    return Result(list(sess.device.network.ping(rest[0].text)))


# ------------------------------------------------------------------ generate est
def regenerate_question(name: str) -> list[str]:
    return [
        f"Certificate '{name}' already exists, re-generate will ignore all the options you have provided.",
        "Are you sure to re-generate the certificate?",
        "Do you want to continue? (y/n)",
    ]


def do_generate_est(sess: "Session", rest: list[ast.Word]) -> Result:
    from ...est import args as estargs

    parsed = estargs.parse_generate_args([w.text for w in rest], sess.cmdb)
    if isinstance(parsed, estargs.Regenerate):
        name = parsed.name

        def answer(yes: bool) -> Result:
            if not yes:
                return Result()
            return Result(sess.device.regenerate(name))  # a failure marks `state` RENEWAL FAILED

        return Result(question=Question(regenerate_question(name), sess.guard(answer)))
    from .certs_est import enroll

    return Result(enroll(sess, parsed))  # plus the CA-name check of certs_est


def _generate_args(sess: "Session", typed: list[str]) -> list[tuple[str, str]]:
    from ...est.args import POSITIONS, regenerates

    i = len(typed)
    out: list[tuple[str, str]] = []
    if i < len(POSITIONS):
        name, help_text = POSITIONS[i]
        out.append((f"<{name}>" if not str(name).startswith("<") else str(name), help_text))
        if i == 0:
            out.extend((k, "local certificate") for k in sess.cmdb.keys(LOCAL))
    if i >= 3 or (i == 1 and regenerates(sess.cmdb, typed[0])):
        out.append(("<Enter>", ""))
    return out


# ------------------------------------------------------------------ log
LOG_CATEGORIES: dict[str, str] = {
    "traffic": "0", "event": "1", "utm-virus": "2", "utm-webfilter": "3", "utm-ips": "4",
    "utm-emailfilter": "5", "anomaly": "7", "voip": "8", "utm-dlp": "9", "utm-app-ctrl": "10",
    "utm-waf": "11", "utm-dns": "15", "utm-ssh": "16", "utm-ssl": "17", "utm-file-filter": "19",
}


def do_log_display(sess: "Session", rest: list[ast.Word]) -> Result:
    extra_words(rest, 0)
    device = sess.device
    if device.log_category != "event":
        return Result(["0 logs found.", "0 logs returned."])
    return Result(list(device.eventlog.display()))


def do_log_filter_category(sess: "Session", rest: list[ast.Word]) -> Result:
    if not rest:
        raise IncompleteCommand()
    extra_words(rest, 1)
    text = rest[0].text.lower()
    numbers = {num: name for name, num in LOG_CATEGORIES.items()}
    name = numbers.get(text, text if text in LOG_CATEGORIES else None)
    if name is None:
        raise ValueParseError(None, rest[0].text, -651)
    sess.device.log_category = name
    return Result()


def do_log_filter_reset(sess: "Session", rest: list[ast.Word]) -> Result:
    extra_words(rest, 0)
    sess.device.log_category = "event"
    return Result()


def _log_categories(sess: "Session", typed: list[str]) -> list[tuple[str, str]]:
    if typed:
        return [("<Enter>", "")] if len(typed) == 1 else []
    return [(name, f"Category {num}.") for name, num in LOG_CATEGORIES.items()]


ALGORITHMS = ("rsa-1024", "rsa-1536", "rsa-2048", "rsa-4096", "ec-secp256r1", "ec-secp384r1", "ec-secp521r1")

TREE = Node("Execute static commands.", {
    "api-user": certs_tree.api_user_node(),
    "date": Node("Get/set system date.", handler=do_date,
                 args=fixed_args([("<yyyy-mm-dd>", "Date.")], optional_from=0)),
    "factoryreset": Node("Reset to factory default.", handler=do_factoryreset),
    "log": Node("Log commands.", {
        "display": Node("Display filtered log messages.", handler=do_log_display),
        "filter": Node("Filter log messages.", {
            "category": Node("Category.", handler=do_log_filter_category, args=_log_categories),
            "reset": Node("Reset filter.", handler=do_log_filter_reset),
        }),
    }),
    "ping": Node("Simple ping utility.", handler=do_ping,
                 args=fixed_args([("<string>", "Hostname or IP address.")])),
    "time": Node("Get/set system time.", handler=do_time,
                 args=fixed_args([("<hh:mm:ss>", "Time.")], optional_from=0)),
    "vpn": Node("VPN commands.", {
        "certificate": Node("Certificate commands.", {
            # ca / crl and local import/export/generate rsa|ec: certs_tree.py (data; the handlers
            # in certs.py, certs_ca.py, certs_est.py, certs_scep.py are imported when first run)
            "ca": certs_tree.ca_node(),
            "crl": certs_tree.crl_node(),
            "local": Node("Local certificate.", {
                "generate": Node("Generate a certificate request.", {
                    **certs_tree.generate_nodes(),
                    "est": Node("Generate a certificate request and enroll it with EST (RFC 7030).",
                                handler=do_generate_est, args=_generate_args,
                                # HTTP password, key password, SRP password (<name> is 1)
                                secret_args=(7, 10, 14)),
                }),
                **certs_tree.local_nodes(),
            }),
        }),
    }),
})


def do_execute(sess: "Session", cmd: ast.Execute) -> Result:
    return run(sess, TREE, list(cmd.args))


HANDLERS: CommandHandlers = {ast.Execute: do_execute}
