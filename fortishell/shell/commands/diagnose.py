"""``diagnose debug ...``: the device's debug state (fortishell.trace.Tracer).

Nothing is printed by these commands except queries; trace lines reach the
output only while ``diagnose debug enable`` is on and the application's level is
non-zero.  Undocumented layouts chosen here:

* ``diagnose debug application est`` (no level) prints ``est debug level is -1``.
* ``diagnose debug info`` prints ``debug output:`` / ``console timestamp:`` /
  ``<app> debug level:`` for every application with a non-zero level /
  ``debug duration:``, names padded to 24 columns.
* ``diagnose debug duration`` without a value prints the duration in minutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...cli import ast
from ...errors import IncompleteCommand, ParseError, ValueParseError
from ...trace import APPLICATIONS
from ..result import Result
from . import acme
from .tree import CommandHandlers, Handler, Node, extra_words, fixed_args, run

if TYPE_CHECKING:
    from ..session import Session

_ON_OFF = [("enable", "Enable."), ("disable", "Disable.")]


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise ValueParseError(f"invalid integer value: {text}", text, -651) from None


def do_application(sess: "Session", rest: list[ast.Word]) -> Result:
    from ...cli import abbrev

    if not rest:
        raise IncompleteCommand()
    extra_words(rest, 2)
    app = abbrev.resolve(rest[0].text, list(APPLICATIONS))
    tracer = sess.device.tracer
    if len(rest) == 1:
        return Result([f"{app} debug level is {tracer.levels.get(app, 0)}"])
    tracer.set_level(app, _int(rest[1].text))
    return Result()


def _application_args(sess: "Session", typed: list[str]) -> list[tuple[str, str]]:
    if not typed:
        return list(APPLICATIONS.items())
    if len(typed) == 1:
        return [("<integer>", "Debug level (-1: all, 0: off)."), ("<Enter>", "")]
    return [("<Enter>", "")] if len(typed) == 2 else []


def _switch(attr: str, value: bool) -> Handler:
    def handler(sess: "Session", rest: list[ast.Word]) -> Result:
        extra_words(rest, 0)
        setattr(sess.device.tracer, attr, value)
        return Result()

    return handler


def do_reset(sess: "Session", rest: list[ast.Word]) -> Result:
    extra_words(rest, 0)
    sess.device.tracer.reset()
    return Result()


def do_info(sess: "Session", rest: list[ast.Word]) -> Result:
    extra_words(rest, 0)
    tracer = sess.device.tracer

    def row(name: str, value: object) -> str:
        return f"{name + ':':<24}{value}"

    lines = [
        row("debug output", "enable" if tracer.enabled else "disable"),
        row("console timestamp", "enable" if tracer.timestamps else "disable"),
    ]
    lines += [row(f"{app} debug level", lvl) for app, lvl in sorted(tracer.levels.items()) if lvl]
    lines.append(row("debug duration", f"{tracer.duration_minutes} minutes"))
    return Result(lines)


def do_timestamp(sess: "Session", rest: list[ast.Word]) -> Result:
    from ...cli import abbrev

    if not rest:
        raise IncompleteCommand()
    extra_words(rest, 1)
    choice = abbrev.resolve(rest[0].text, ["enable", "disable"])
    sess.device.tracer.timestamps = choice == "enable"
    return Result()


def do_duration(sess: "Session", rest: list[ast.Word]) -> Result:
    extra_words(rest, 1)
    tracer = sess.device.tracer
    if not rest:
        return Result([f"debug output duration: {tracer.duration_minutes} minutes"])
    minutes = _int(rest[0].text)
    if minutes < 0:
        raise ParseError(rest[0].text)
    tracer.duration_minutes = minutes
    return Result()


TREE = Node("Diagnose facility.", {
    "sys": acme.SYS_NODE,  # diagnose sys acme status-full <domain>
    "debug": Node("Debug.", {
        "application": Node("Set/Get debug level for daemons.", handler=do_application,
                            args=_application_args),
        "console": Node("Console debug options.", {
            "timestamp": Node("Enable/disable timestamp in debug output.", handler=do_timestamp,
                              args=fixed_args(_ON_OFF)),
        }),
        "disable": Node("Disable debug output.", handler=_switch("enabled", False)),
        "duration": Node("Set/get debug duration in minutes (0: unlimited).", handler=do_duration,
                         args=fixed_args([("<integer>", "Minutes.")], optional_from=0)),
        "enable": Node("Enable debug output.", handler=_switch("enabled", True)),
        "info": Node("Show active debug level settings.", handler=do_info),
        "reset": Node("Reset all debug levels to default.", handler=do_reset),
    }),
})


def do_diagnose(sess: "Session", cmd: ast.Diagnose) -> Result:
    return run(sess, TREE, list(cmd.args))


HANDLERS: CommandHandlers = {ast.Diagnose: do_diagnose}
