"""parse_line never raises anything but FortiError subclasses."""

from hypothesis import given, settings
from hypothesis import strategies as st

from fortishell import errors
from fortishell.cli.parser import needs_more, parse_line, parse_script, split_partial

CLI_CHARS = st.sampled_from(list(" \t\n\r\\\"'|#()<>?-grepshowsetx\x00\x1c\u00a0é\u2028"))
texts = st.one_of(st.text(), st.text(CLI_CHARS, max_size=60))


def _parse(text):
    try:
        return parse_line(text)
    except errors.FortiError as exc:
        assert exc.output()
        return None


@settings(max_examples=400, deadline=None)
@given(texts)
def test_parse_line_only_forti_errors(text):
    _parse(text)
    assert isinstance(needs_more(text), bool)
    split_partial(text)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_parse_script_never_raises(text):
    for line in parse_script(text):
        assert line.words or line.filters or getattr(line, "error", None) is not None


def test_long_lines():
    big = "set comments " + "a" * 100_000
    assert len(parse_line(big).words[2].text) == 100_000
    assert _parse('set comments "' + "x\\" * 50_000) is None
    assert _parse("(" * 100_000) is None
