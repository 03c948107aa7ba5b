"""build_command: verb abbreviation, argument shapes and FortiOS errors."""

import pytest

from fortishell import errors
from fortishell.cli import ast
from fortishell.cli.build import build_command
from fortishell.cli.parser import parse_line

R, T, E = ast.ROOT_VERBS, ast.TABLE_VERBS, ast.ENTRY_VERBS


def build(text, verbs, root=False):
    return build_command(parse_line(text), verbs, at_root=root)


def texts(ws):
    return [w.text for w in ws]


def test_shapes():
    assert texts(build("conf vpn cert local", R, True).path) == ["vpn", "cert", "local"]
    assert build("sh full", R, True) == ast.Show((), full=True)
    assert texts(build("show full-configuration vpn certificate local", R, True).path) == ["vpn", "certificate", "local"]
    assert build("sh f", R, True) == ast.Show((ast.Word("f", col=3),))
    assert isinstance(build("exe", R, True) if False else build("exec ping x", R, True), ast.Execute)
    assert texts(build("diag debug enable", R, True).args) == ["debug", "enable"]
    assert texts(build("get", E).path) == []
    assert build('ed "est-test101"', T).key == ast.Word("est-test101", True, 3)
    assert build("delete a", T).key.text == "a"
    assert build("purge", T) == ast.Purge()
    c = build("clone a to b", T)
    assert (type(c), c.old.text, c.new.text) == (ast.Clone, "a", "b")
    m = build("move 3 af 1", T)
    assert (m.key.text, m.where, m.other.text) == ("3", "after", "1")
    s = build("set est-server https://testrfc7030.com:8443", E)
    assert (s.attr.text, texts(s.values)) == ("est-server", ["https://testrfc7030.com:8443"])
    assert build("set comments", E).values == ()  # decided by the session
    assert isinstance(build("app allowaccess http", E), ast.Append)
    assert isinstance(build("sel a b", E), ast.Select)
    assert isinstance(build("unsel a b", E), ast.Unselect)
    assert build("unset auto-regenerate-days", E).attr.text == "auto-regenerate-days"
    for text, cls in [("next", ast.Next), ("end", ast.End), ("abort", ast.Abort), ("n", ast.Next)]:
        assert type(build(text, E)) is cls
    assert type(build("exit", R, True)) is ast.Exit
    assert type(build("", R, True)) is ast.Empty
    line = parse_line("show | grep est")
    assert build_command(line, R, at_root=True).line.filters == line.filters


@pytest.mark.parametrize(
    "text, verbs, root, exc, out",
    [
        ("delete 1", R, True, errors.UnknownAction, ["Unknown action 0"]),
        ("set opmode x", R, True, errors.UnknownAction, ["Unknown action 0"]),
        ("ed x", R, True, errors.UnknownAction, ["Unknown action 0"]),
        ("SHOW FUL", R, True, errors.ParseError, ["command parse error before 'SHOW'"]),
        ("foo", R, True, errors.ParseError, ["command parse error before 'foo'"]),
        ("e", R, True, errors.AmbiguousCommand, ["ambiguous command before 'e': execute exit"]),
        ("e x", R, True, errors.AmbiguousCommand, ["ambiguous command before 'e': execute exit"]),
        ("exit now", R, True, errors.ParseError, ["command parse error before 'now'"]),
        ("delte 1", T, False, errors.UnknownAction, ["Unknown action 0"]),
        ("emd", E, False, errors.UnknownAction, ["Unknown action 0"]),
        ("se x", E, False, errors.AmbiguousCommand, ["ambiguous command before 'se': set select"]),
        ("Set x", E, False, errors.UnknownAction, ["Unknown action 0"]),
        ("next now", E, False, errors.ParseError, ["command parse error before 'now'", "Command fail. Return code -61"]),
        ("edit a b", T, False, errors.ParseError, ["command parse error before 'b'", "Command fail. Return code -61"]),
        ("rename a xx b", T, False, errors.ParseError, ["command parse error before 'xx'", "Command fail. Return code -61"]),
        ("move a under b", T, False, errors.ParseError, ["command parse error before 'under'", "Command fail. Return code -61"]),
        ("edit", T, False, errors.IncompleteCommand, ["", "incomplete command in the end", "Command fail. Return code -160"]),
        ("set", E, False, errors.IncompleteCommand, ["", "incomplete command in the end", "Command fail. Return code -160"]),
        ("rename a", T, False, errors.IncompleteCommand, ["", "incomplete command in the end", "Command fail. Return code -160"]),
        ("config", R, True, errors.IncompleteCommand, ["", "incomplete command in the end", "Command fail. Return code -160"]),
        ("execute", R, True, errors.IncompleteCommand, ["", "incomplete command in the end", "Command fail. Return code -160"]),
    ],
)
def test_errors(text, verbs, root, exc, out):
    with pytest.raises(exc) as info:
        build(text, verbs, root)
    assert info.value.output() == out


def test_bad_script_line_raises_its_error():
    from fortishell.cli.parser import parse_script

    (bad,) = parse_script("set x a(b\n")
    with pytest.raises(errors.ParseError):
        build_command(bad, E)
