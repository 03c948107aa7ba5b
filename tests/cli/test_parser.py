"""parse_line / parse_script / needs_more / split_partial on the real grammar."""

import pytest

from fortishell import errors
from fortishell.cli import ast
from fortishell.cli.parser import needs_more, parse_line, parse_script, split_partial


def words(text):
    return [w.text for w in parse_line(text).words]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("conf system  interface", ["conf", "system", "interface"]),
        ("  show\tfull", ["show", "full"]),
        ('set comments "a b  c"', ["set", "comments", "a b  c"]),
        (r'set x "a\"b\'c\\d"', ["set", "x", "a\"b'c\\d"]),
        (r'set x "a\|b\n"', ["set", "x", r"a\|b\n"]),  # other escapes keep the backslash
        (r"set x 'a\b \"c'", ["set", "x", r"a\b \"c"]),  # no escapes in single quotes
        (r"set x a\ b", ["set", "x", "a b"]),
        (r"set x a\(b\#c\?", ["set", "x", "a(b#c?"]),
        ("set x ab\"c d\"'e'", ["set", "x", "abc de"]),
        ('set x ""', ["set", "x", ""]),
        ("set x a\\\ny", ["set", "x", "ay"]),  # continuation inside a word
        ("set x \\\n y", ["set", "x", "y"]),  # continuation between words
        ("execute vpn certificate local generate est est-test101 ec-secp256r1 https://testrfc7030.com:8443 "
         "CN=firewall-portal1,DC=local,DC=COM DNS:firewall-portal1.local.ca,IP:172.18.60.184 estuser estpwd G_CA_Cert_1",
         ["execute", "vpn", "certificate", "local", "generate", "est", "est-test101", "ec-secp256r1",
          "https://testrfc7030.com:8443", "CN=firewall-portal1,DC=local,DC=COM",
          "DNS:firewall-portal1.local.ca,IP:172.18.60.184", "estuser", "estpwd", "G_CA_Cert_1"]),
        ("set x café\u00a0bar", ["set", "x", "café\u00a0bar"]),  # NBSP is no blank
        ("SET X", ["SET", "X"]),  # case is kept
    ],
)
def test_words(text, expected):
    assert words(text) == expected


def test_word_flags_and_columns():
    line = parse_line('set  comments "hi there" x')
    assert [(w.text, w.quoted, w.col) for w in line.words] == [
        ("set", False, 0), ("comments", False, 5), ("hi there", True, 14), ("x", False, 25)]
    assert line.text == 'set  comments "hi there" x'
    assert line.filters == ()


def test_pem_spans_lines():
    pem = "-----BEGIN CERTIFICATE-----\nMIICXDCCAgag\n-----END CERTIFICATE-----"
    line = parse_line(f'set certificate "{pem}"')
    assert line.words[-1] == ast.Word(pem, True, 16)


@pytest.mark.parametrize("text", ["", "   ", "# comment", "  #config-version=FGVMK6-7.0.3:opmode=1"])
def test_empty(text):
    line = parse_line(text)
    assert line.is_empty and line.filters == ()


def test_grep_filters():
    line = parse_line('show vpn certificate local | grep -fi "est" | grep -v -n -A 2 x')
    assert [w.text for w in line.words] == ["show", "vpn", "certificate", "local"]
    g1, g2 = line.filters
    assert g1 == ast.Grep("est", ignore_case=True, fortinet_context=True)
    assert g2 == ast.Grep("x", invert=True, line_numbers=True, after=2)
    assert parse_line("get | grep -C3 -c y").filters == (ast.Grep("y", context=3, count=True),)
    assert parse_line("show | grep -h").filters[0].usage
    assert parse_line("show | grep -q x").filters[0].usage
    assert parse_line("show | grep").filters[0].usage
    assert parse_line('show | grep -i "-v"').filters == (ast.Grep("-v", ignore_case=True),)
    assert parse_line("show|grep a").filters == (ast.Grep("a"),)


@pytest.mark.parametrize(
    "text, before",
    [
        ("show | more", "more"),
        ("show |", "|"),
        ("| grep x", "|"),
        ("show | | grep x", "|"),
        ("show | grep a b", "b"),
        ("set x a(b", "(b"),
        ("set x a # b", "#"),
        ("set x <y>", "<y>"),
        ("get ?", "?"),
        ("show | grep 'a\\(b'", "a\\(b"),  # invalid BRE
        ("show\nnext", "next"),  # two lines given to parse_line
    ],
)
def test_parse_errors(text, before):
    with pytest.raises(errors.ParseError) as exc:
        parse_line(text)
    assert exc.value.output()[0] == f"command parse error before '{before}'"
    assert exc.value.rc == -61


@pytest.mark.parametrize("text", ['set x "abc', "set x 'abc", 'set x "a\\"', 'set x ab"c\nd'])
def test_unmatched_quote(text):
    with pytest.raises(errors.UnmatchedQuote) as exc:
        parse_line(text)
    assert exc.value.output() == ["token line: Unmatched double quote.", "Command fail. Return code -61"]


@pytest.mark.parametrize(
    "text, more",
    [("set x \"abc", True), ("set x 'a", True), ("set x a\\", True), ("set x a\\\\", False),
     ('set x "a\\"', True), ('set x "a"', False), ("", False), ("set x", False),
     ('set certificate "-----BEGIN\nMII', True), ('set certificate "-----BEGIN\nMII"', False),
     ("set x \\", True)],
)
def test_needs_more(text, more):
    assert needs_more(text) is more


def test_split_partial():
    p = split_partial("conf vpn cert")
    assert [w.text for w in p.words] == ["conf", "vpn"] and p.current == "cert"
    assert not p.in_quote and not p.in_grep
    p = split_partial("conf vpn ")
    assert [w.text for w in p.words] == ["conf", "vpn"] and p.current == ""
    p = split_partial('set comments "hello wor')
    assert p.current == "hello wor" and p.in_quote
    p = split_partial("show | grep -f ")
    assert p.in_grep and [w.text for w in p.words] == ["grep", "-f"]
    assert [w.text for w in p.command] == ["show"]
    assert split_partial("").words == () and split_partial("").current == ""
    assert split_partial("set x (").current == "("


def test_parse_script_pem_config():
    text = (
        "#config-version=FGVMK6-7.0.3-FW-build0237-211207:opmode=1:vdom=0:user=admin\n"
        "#conf_file_ver=282647502847925\n"
        "\n"
        "config vpn certificate local\n"
        '    edit "est-test101"\n'
        "        set password ENC /B1vbJ7c==\n"
        '        set certificate "-----BEGIN CERTIFICATE-----\n'
        "MIICXDCCAgagAwIBAgII\n"
        '-----END CERTIFICATE-----"\n'
        "        # an indented comment line\n"
        "        set range global\n"
        "    next\r\n"
        "end"
    )
    lines = parse_script(text)
    assert [(ln.lineno, ln.words[0].text) for ln in lines] == [
        (4, "config"), (5, "edit"), (6, "set"), (7, "set"), (11, "set"), (12, "next"), (13, "end")]
    pem = lines[3]
    assert pem.words[2].text == "-----BEGIN CERTIFICATE-----\nMIICXDCCAgagAwIBAgII\n-----END CERTIFICATE-----"
    assert pem.text == '        set certificate "-----BEGIN CERTIFICATE-----\nMIICXDCCAgagAwIBAgII\n-----END CERTIFICATE-----"'
    assert lines[1].text == '    edit "est-test101"' and lines[1].words[1] == ast.Word("est-test101", True, 9)
    assert lines[5].text == "    next"


def test_parse_script_keeps_bad_lines_in_place():
    lines = parse_script('show\nset x a(b\nshow | more\nget\nset y "open\nend\n')
    assert [type(ln).__name__ for ln in lines] == ["Line", "BadLine", "BadLine", "Line", "BadLine"]
    assert isinstance(lines[1].error, errors.ParseError) and lines[1].error.before == "(b"
    assert lines[2].error.before == "more"
    assert isinstance(lines[4].error, errors.UnmatchedQuote)  # swallows the rest, like FortiOS
    assert [ln.lineno for ln in lines] == [1, 2, 3, 4, 5]


def test_parse_script_line_numbers_and_continuations():
    lines = parse_script("a b \\\n  c\n\n\n  d\n")
    assert [(ln.lineno, [w.text for w in ln.words]) for ln in lines] == [(1, ["a", "b", "c"]), (5, ["d"])]
    assert parse_script("") == [] and parse_script("# only\n\n") == []
