"""| grep on a realistic show listing: every flag, -f context, BRE."""

import pytest

from fortishell import errors
from fortishell.cli.grep import GREP_USAGE, apply_filters, bre_to_python
from fortishell.cli.parser import parse_line

LISTING = """\
config vpn certificate local
    edit "est-test101"
        set password ENC /B1vbJ7c==
        set certificate "-----BEGIN CERTIFICATE-----
MIICXDCCAgagAwIBAgII
edit "not-a-block"
-----END CERTIFICATE-----"
        set enroll-protocol est
        set est-server "https://testrfc7030.com:8443"
    next
    edit "Fortinet_SSL"
        set source factory
    next
end
config system global
    set hostname "FPX-EST"
end""".split("\n")


def grep(cmd):
    return apply_filters(LISTING, parse_line("show " + cmd).filters)


def test_plain_and_flags():
    assert grep("| grep est-server") == ['        set est-server "https://testrfc7030.com:8443"']
    assert grep("| grep -i FPX") == ['    set hostname "FPX-EST"']
    assert grep("| grep FPX-est") == []
    assert grep("| grep -n source") == ["12:        set source factory"]
    assert grep("| grep -c edit") == ["3"]
    assert grep("| grep -vc e") == [str(sum("e" not in ln for ln in LISTING))]
    assert grep("| grep -A 1 factory") == ["        set source factory", "    next"]
    assert grep("| grep -B1 hostname") == ["config system global", '    set hostname "FPX-EST"']
    assert grep("| grep -n -C 1 'source\\|hostname'") == [
        '11-    edit "Fortinet_SSL"', "12:        set source factory", "13-    next",
        "--", "15-config system global", '16:    set hostname "FPX-EST"', "17-end"]


def test_chained_filters():
    assert grep("| grep set | grep -v ENC | grep -c .") == ["5"]


def test_bre():
    assert grep("| grep '^end'") == ["end", "end"]
    assert grep("| grep 'factory$'") == ["        set source factory"]
    assert grep("| grep 'est\\(-test1\\)\\{1\\}0'") == ['    edit "est-test101"']
    assert grep("| grep 'so.rce'") == ["        set source factory"]
    assert grep("| grep 'a+b'") == []  # + is literal in a BRE
    assert bre_to_python("a\\|b") == "a|b"
    assert bre_to_python("*a") == "\\*a"
    assert bre_to_python("[[:digit:]]x") == "[0-9]x"
    assert grep("| grep '[[:upper:]]\\{3\\}-EST'") == ['    set hostname "FPX-EST"']


def test_fortinet_context():
    assert grep('| grep -f "source"') == [
        "config vpn certificate local",
        '    edit "Fortinet_SSL"',
        "        set source factory <---",
        "    next",
        "end",
    ]
    out = grep("| grep -fi HOSTNAME")
    assert out == ["config system global", '    set hostname "FPX-EST" <---', "end"]
    # a match inside the PEM string keeps the whole edit block, quoted 'edit' is no block
    out = grep("| grep -f MIIC")
    assert out[0] == "config vpn certificate local" and out[-1] == "end"
    assert "MIICXDCCAgagAwIBAgII <---" in out and '    edit "Fortinet_SSL"' not in out
    assert len(out) == 11
    assert grep('| grep -f "Sitea"') == []


def test_usage_and_errors():
    assert grep("| grep -h") == list(GREP_USAGE)
    assert grep("| grep -x foo") == list(GREP_USAGE)
    assert GREP_USAGE[0] == "Usage: grep [-invfcABC] PATTERN"
    with pytest.raises(errors.ParseError) as exc:
        parse_line("show | grep 'a\\(b'")
    assert exc.value.output() == ["command parse error before 'a\\(b'", "Command fail. Return code -61"]
    with pytest.raises(errors.ParseError):
        parse_line("show | grep '[abc'")


@pytest.mark.parametrize("pattern", [
    "a\\{1", "a\\{1,2", "a\\{\\}", "a\\{2,1\\}", "a\\{x\\}", "a\\{ 1\\}", "a\\{1,2,3\\}", "a\\{32768\\}",
])
def test_invalid_intervals_are_refused(pattern):
    with pytest.raises(errors.ParseError) as exc:
        parse_line(f'show | grep "{pattern}"')
    assert exc.value.output() == [f"command parse error before '{pattern}'", "Command fail. Return code -61"]


@pytest.mark.parametrize(("pattern", "lines", "hits"), [
    ("a\\{2\\}", ["a", "aa", "xaax"], ["aa", "xaax"]),
    ("^a\\{2,\\}$", ["a", "aa", "aaaa"], ["aa", "aaaa"]),
    ("^a\\{1,2\\}$", ["", "a", "aa", "aaa"], ["a", "aa"]),
    ("^a\\{,2\\}$", ["", "a", "aa", "aaa"], ["", "a", "aa"]),
    ("^\\(ab\\)\\{2\\}$", ["ab", "abab", "aabb"], ["abab"]),
    ("^a\\{1\\}\\{2\\}$", ["a", "aa", "aaa"], ["aa"]),      # a repeated repetition (GNU grep)
    ("\\{1\\}", ["{1}", "1"], ["{1}"]),                     # nothing to repeat: literal, as in GNU grep
    ("a\\}", ["a}", "a"], ["a}"]),
])
def test_valid_intervals(pattern, lines, hits):
    assert apply_filters(lines, parse_line(f'show | grep "{pattern}"').filters) == hits


def test_invalid_interval_through_the_session(tmp_path):
    import datetime as dt

    from fortishell.clock import Clock
    from fortishell.shell.device import Device
    from fortishell.shell.session import Session

    dev = Device.open(tmp_path / "f.conf", tmp_path / "state", Clock(fixed=dt.datetime(2023, 4, 6, tzinfo=dt.timezone.utc)))
    try:
        sess = Session(dev)
        r = sess.execute('get system status | grep "a\\{1"')
        assert (r.lines, r.rc) == (["command parse error before 'a\\{1'"], -61)
        r = sess.execute('get system status | grep "Version\\{1\\}"')
        assert r.rc == 0 and r.lines and all("Version" in ln for ln in r.lines)
    finally:
        dev.close()
