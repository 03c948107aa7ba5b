"""Every fault, habit and PKI-topology flag of ``fortishell lab-server`` says what it does (not
just its name), with its default; every positional argument of ``lab`` and ``lab-ca`` has a help
text.  Read from the parsers' own --help output, as a trainer reads it."""

from __future__ import annotations

import re

import pytest

from fortishell.classroom import cli as lab_cli
from fortishell.lab import cacli
from fortishell.lab import cli

DEFAULT = re.compile(r"\s*\(default: [^)]*\)\s*$")


def _options(text: str) -> dict[str, str]:
    """flag -> help text, from argparse output (a long flag's help starts on the next line)."""
    found: dict[str, str] = {}
    flag = ""
    for line in text.splitlines():
        m = re.match(r"^  (-\S+(?: (?:[A-Z][A-Z0-9_ ]*?|\{[^}]*\}))?(?:, -\S+(?: [A-Z][A-Z0-9_ ]*?)?)*)(?:\s{2,}(.*))?$", line)
        if m:
            flag = re.findall(r"(?:^|, )(-[^\s,]+)", m.group(1))[-1]  # the long spelling
            found[flag] = m.group(2) or ""
        elif flag and line.startswith("    ") and line.strip():
            found[flag] = (found[flag] + " " + line.strip()).strip()
        else:
            flag = ""
    return found


def _positionals(text: str) -> dict[str, str]:
    block = text.split("positional arguments:\n", 1)[1].split("\n\n", 1)[0] if "positional arguments:" in text else ""
    found: dict[str, str] = {}
    for line in block.splitlines():
        m = re.match(r"^  (\S+)(?:\s{2,}(.*))?$", line)
        if m and not line.startswith("    "):
            found[m.group(1)] = m.group(2) or ""
    return found


@pytest.fixture()
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # argparse then prints each option on one line


def test_every_lab_server_fault_habit_and_topology_flag_is_explained(wide: None) -> None:
    helps = _options(cli.build_parser().format_help())
    names = [*cli.FAULT_FLAGS, *cli.HABIT_FLAGS, *cli.TOPOLOGY_FLAGS,
             "retry_after", "delay", "fault_endpoint", "wrap_columns", "pkcs7_type"]
    for name in names:
        flag = "--" + name.replace("_", "-")
        assert flag in helps, flag
        text = helps[flag]
        assert DEFAULT.search(text), (flag, text)  # the default is stated
        said = DEFAULT.sub("", text).replace("fault:", "").replace("habit:", "").lower().split()
        own = set(name.split("_")) | {"a", "an", "the"}
        assert len(said) >= 5 and len(set(said) - own) >= 3, (flag, text)  # more than the flag's own words


def test_every_positional_argument_of_lab_and_lab_ca_has_help(wide: None, capsys: pytest.CaptureFixture[str]) -> None:
    for parser, argv in ((lab_cli._parser(), ["start", "--help"]), (lab_cli._parser(), ["check", "--help"]),
                         (lab_cli._parser(), ["grade", "--help"]), (cacli._parser(), ["sign", "--help"]),
                         (cacli._parser(), ["revoke", "--help"])):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        text = capsys.readouterr().out
        positionals = _positionals(text)
        assert positionals, (argv, text)
        for name, help_text in positionals.items():
            assert len(help_text.split()) >= 3, (argv, name, text)
