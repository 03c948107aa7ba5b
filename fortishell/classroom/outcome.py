"""Grading by outcome: a transcript compared for what the device did, not for keystrokes.

A transcript (``fortishell run``, ``lab start``) is a run of *exchanges*: a
prompt line with the command as typed (continued over the following lines while
a quote is open), then the command's output up to the next prompt line.  Both
transcripts are cut into exchanges and the actual one is normalised for what
the device itself takes as the same session:

* commands are compared in their canonical form (:mod:`.canonical`: unique
  prefixes spelt out, quoting normalised), so ``exec ping x`` is ``execute
  ping x``;
* a ``?`` help request (recorded by ``lab start`` as the partial line followed
  by ``?``) and its listing are set aside, as is an empty line (Enter alone);
* a command the device refused (its output ends with ``Command fail. Return
  code N``, or is the root prompt's ``command parse error before 'x'`` /
  ``Unknown action 0`` / ``ambiguous command before 'x': ...``) is set aside when the command the exercise expects
  follows it (the student retyped it); an exercise that expects the refusal
  gets it compared like any other exchange;
* the closing ``exit`` at the root prompt counts as the final prompt.

Everything the exercise expects must then be there, in order: every expected
exchange with all of its output lines (trace lines, ``Done.``, ``get`` fields,
compared line by line with :mod:`fortishell.expect`'s normalisation and
``<*>`` wildcards), and nothing else (an extra accepted command is a
difference).  ``strict`` grading (``--strict``) compares the transcripts
literally instead, the closing ``exit`` still taken as the final prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..cli import parser
from ..errors import AmbiguousCommand, FortiError, ParseError, UnknownAction
from ..expect import Comparison, Unit, line_matches, units
from .canonical import Modes

# a prompt: the host name, an optional "(context)", " # " (the bare final prompt loses its blank)
_PROMPT = re.compile(r"^([^\s#()]+(?: \([^()\n]*\))? #)(?: (.*))?$")


def _error_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The refusal lines, from the error classes themselves (one source for their wording)."""
    fail = FortiError("", rc=0).output()[-1].replace("0", "\x00")
    root = "|".join(re.escape(t).replace("\x00", ".*") for t in (ParseError("\x00").lines[0], *UnknownAction().lines,
                                                                  AmbiguousCommand("\x00", ["\x00"]).lines[0]))
    return re.compile("^" + re.escape(fail).replace("\x00", r"-?\d+") + "$"), re.compile(f"^(?:{root})$")


_COMMAND_FAIL, _ROOT_REFUSAL = _error_patterns()


@dataclass(frozen=True)
class Exchange:
    """One prompt line with its command and the output up to the next prompt."""

    prompt: str  # "FortiProxy (local) #"
    command: str  # as typed ("" at a bare prompt); continuation lines joined with "\n"
    first: int  # 1-based number of the prompt line in the transcript
    command_lines: tuple[str, ...]  # the prompt line and its continuation lines
    output: tuple[str, ...]

    @property
    def is_help(self) -> bool:
        text = self.command.rstrip()
        return text.endswith("?") and not parser.split_partial(text[:-1]).in_quote

    @property
    def is_blank(self) -> bool:
        return not self.command.strip() and not any(line.strip() for line in self.output)

    @property
    def refused(self) -> bool:
        shown = [line for line in self.output if line.strip()]
        if not shown:
            return False
        return bool(_COMMAND_FAIL.match(shown[-1]) or (len(shown) == 1 and _ROOT_REFUSAL.match(shown[0])))


@dataclass(frozen=True)
class SetAside:
    """An exchange of the actual transcript left out of the comparison, and why."""

    line: int
    text: str
    why: str  # "help" | "empty line" | "refused, retyped"


def exchanges(text: str) -> list[Exchange]:
    """Cut a transcript into exchanges (text before the first prompt is an exchange with no prompt)."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    out: list[Exchange] = []
    i = 0
    while i < len(lines):
        m = _PROMPT.match(lines[i].rstrip())  # None only before the first prompt
        first = i
        prompt, command = (m.group(1), m.group(2) or "") if m else ("", "")
        taken = [lines[i]]
        i += 1
        if m is not None:
            while command and parser.needs_more(command) and i < len(lines):
                command += "\n" + lines[i]
                taken.append(lines[i])
                i += 1
        output = []
        while i < len(lines) and not _PROMPT.match(lines[i].rstrip()):
            output.append(lines[i])
            i += 1
        if m is None and not output and not taken[0].strip():
            continue
        out.append(Exchange(prompt, command, first + 1, tuple(taken), tuple(output)))
    return out


def _canonical_units(ex: Exchange, modes: Modes) -> list[Unit]:
    """The exchange as comparable units: the prompt line with the canonical command, then the output."""
    if not ex.prompt:
        head: list[Unit] = []
    else:
        if ex.prompt.endswith(" #") and "(" not in ex.prompt:
            modes.at_root()
        canonical = modes.canonical(ex.command) if ex.command.strip() else ""
        text = f"{ex.prompt} {canonical}".rstrip()
        # a value over several lines (a PEM block) is part of the command: all of it is compared
        head = [Unit("\n".join(u.text for u in units(text)), ex.first, ex.command_lines)]
        if not ex.refused and ex.command.strip():
            modes.accepted(ex.command)
    body = [Unit(u.text, u.first + ex.first + len(ex.command_lines) - 1, u.original)
            for u in units("\n".join(ex.output))] if any(line.strip() for line in ex.output) else []
    return head + body


def _matches(expected: list[Unit], actual: list[Unit]) -> bool:
    return len(expected) == len(actual) and all(line_matches(e.text, a.text) for e, a in zip(expected, actual))


def _closing(exs: list[Exchange]) -> list[Exchange]:
    """The closing ``exit`` at the root prompt stands for the final prompt."""
    if exs:
        last = exs[-1]
        if last.command.strip() == "exit" and "(" not in last.prompt:
            exs[-1] = Exchange(last.prompt, "", last.first, last.command_lines, last.output)
    return exs


def compare_outcome(expected: str, actual: str) -> tuple[Comparison, list[SetAside]]:
    """Compare by outcome (see the module text); the set-aside exchanges of ``actual`` with it."""
    exp_ex = exchanges(expected)
    act_all = _closing(exchanges(actual))
    set_aside: list[SetAside] = []
    act_ex: list[Exchange] = []
    for i, ex in enumerate(act_all):
        last = i == len(act_all) - 1
        if ex.prompt and ex.is_help:
            set_aside.append(SetAside(ex.first, ex.command_lines[0], "help"))
        elif ex.prompt and ex.is_blank and not last:
            set_aside.append(SetAside(ex.first, ex.command_lines[0], "empty line"))
        else:
            act_ex.append(ex)
    exp_modes, act_modes = Modes(), Modes()
    exp_units_by = [_canonical_units(e, exp_modes) for e in exp_ex]
    exp_units = [u for us in exp_units_by for u in us]
    kept: list[Unit] = []
    pending: list[tuple[Exchange, list[Unit]]] = []
    ei = 0
    diverged = False
    for ex in act_ex:
        us = _canonical_units(ex, act_modes)
        if diverged:
            kept.extend(us)
        elif ei < len(exp_units_by) and _matches(exp_units_by[ei], us):
            set_aside.extend(SetAside(p.first, p.command_lines[0], "refused, retyped") for p, _ in pending)
            pending.clear()
            kept.extend(us)
            ei += 1
        elif ex.refused:
            pending.append((ex, us))
        else:
            for _, pus in pending:
                kept.extend(pus)
            pending.clear()
            kept.extend(us)
            diverged = True
    for _, pus in pending:
        kept.extend(pus)
    ok = not diverged and ei == len(exp_units_by) and not pending and _matches(exp_units, kept)
    set_aside.sort(key=lambda s: s.line)
    return Comparison(exp_units, kept, ok), set_aside


def starts_at_prompt(path: Path) -> bool:
    """Whether the file at ``path`` reads as a transcript: its first non-blank line is a prompt line."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            for _ in range(16):  # blank lines before it are allowed
                first = f.readline(4096)
                if first.strip() or not first:
                    break
    except OSError:
        return True  # unreadable: graded, so that the error is reported
    return bool(_PROMPT.match(first.rstrip()))
