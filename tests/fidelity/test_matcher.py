"""The guide-fidelity matcher (``fortishell.fidelity``) against the guide's own trace lines:
value-only changes match 100%, a missing / renamed / renumbered / reworded line is reported
exactly with its near miss, and order violations are detected."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from fortishell.fidelity import TraceLine, match_in_order, parse_trace_lines

HERE = Path(__file__).resolve().parent


def _load_fixture() -> dict[str, list[str]]:
    spec = importlib.util.spec_from_file_location("extract_guide_trace", HERE / "extract_guide_trace.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_fixture()


FIXTURE = _load_fixture()
EXAMPLE1 = FIXTURE["example1"]

# Values the emulator legitimately prints differently (another key, another length).
VALUE_CHANGES = {
    "[1788] est_curl_req: Buffer:MIIBqwYJKoZIhvcNAQcCoIIBnDCCAZgCAQExADALBgkqhkiG9w0BBwGgggGAMIIB":
        "[1788] est_curl_req: Buffer:MIIBhAYJKoZIhvcNAQcCoIIBdTCCAXECAQExADALBgkqhkiG9w0BBwGgggFZMIIB\n"
        "VTCB/aADAgECAgkAq+gy4fZqa0MwCgYIKoZIzj0EAwIwFzEVMBMGA1UEAxMMZXN0\nOt5bRHsNMQA=",
    "[1788] est_curl_req: Buffer:MCYGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAg==":
        "[1788] est_curl_req: Buffer:MCkGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAgYDKgME",
    "[1651] curl_header_debug_func: Header received:Content-Length: 585":
        "[1651] curl_header_debug_func: Header received:Content-Length: 1288",
    "[1651] curl_header_debug_func: Header received:Content-Length: 57":
        "[1651] curl_header_debug_func: Header received:Content-Length: 61",
    "[1439] decode_csrattrs_callback: Decoding csrattrs, resp->len: 57":
        "[1439] decode_csrattrs_callback: Decoding csrattrs, resp->len: 61",
}

# Lines a real transcript has between the guide's lines (the guide elides them).
NOISE_AFTER = {
    "[1651] curl_header_debug_func: Header received:HTTP/1.1 200 OK": [
        "[1651] curl_header_debug_func: Header received:Server: lab",
    ],
    "[1474] decode_csrattrs_callback: Object: 2.16.840.1.101.3.4.2.2 sha384": [
        "est_ctx:\tis_global:1", "\tvfid:0", "\tpasswd:(null)",
    ],
    "[427] est_print_x509:         Version: 3 (0x2)": [
        "        Serial Number: 476999 (0x74747)", "            X509v3 Subject Key Identifier:",
        "                C5:3F:75:22:04:04:E4:B2:BA:5F:CE:CE:4C:DE:C7:CE:C2:3C:50:15", "",
    ],
}


def transcript_from(guide: list[str]) -> list[str]:
    """A transcript made from the guide's lines by changing only values (plus unbracketed noise)."""
    out = ["FortiProxy # diagnose debug enable", "", "FortiProxy # execute vpn certificate local generate est ..."]
    for line in guide:
        out.extend(VALUE_CHANGES.get(line, line).split("\n"))
        out.extend(NOISE_AFTER.get(line, []))
    out += ["Done.", "", "FortiProxy # "]
    return out


def test_fixture_has_the_guide_sections() -> None:
    assert set(FIXTURE) == {"failure", "example1", "example2", "example3"}
    assert len(EXAMPLE1) > 50


def test_parse_trace_lines() -> None:
    lines = [
        "FortiProxy # execute vpn certificate local generate est est-test101",
        "[1728] est_curl_req: URL: https://testrfc7030.com:8443/.well-known/est/cacerts   ",
        "est_ctx:\tis_global:1",
        "[427] est_print_x509:         Version: 3 (0x2)",
        "2023-04-06 22:37:34 [1651] curl_header_debug_func: Header received:",
        "    [592] est_ctx_clear_tmp_data: trace",
        "[abc] not_a_trace: line",
        "fDCCASOgAwIBAgIDB0aXMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDGVzdEV4YW1w",
    ]
    parsed = parse_trace_lines(lines)
    assert parsed == [
        TraceLine(1728, "est_curl_req", "URL: https://testrfc7030.com:8443/.well-known/est/cacerts"),
        TraceLine(427, "est_print_x509", "        Version: 3 (0x2)"),
        TraceLine(1651, "curl_header_debug_func", "Header received:"),
        TraceLine(592, "est_ctx_clear_tmp_data", "trace"),
    ]
    assert [t.index for t in parsed] == [2, 4, 5, 6]
    assert str(parsed[0]) == "[1728] est_curl_req: URL: https://testrfc7030.com:8443/.well-known/est/cacerts"
    assert parse_trace_lines("\n".join(lines)) == parsed


def test_example1_values_changed_matches_100_percent() -> None:
    transcript = transcript_from(EXAMPLE1)
    assert transcript != EXAMPLE1
    report = match_in_order(EXAMPLE1, transcript)
    assert report.total == len(EXAMPLE1)
    assert report.matched == report.total and report.percent == 100.0 and report.ok
    assert report.missing == []
    assert [g for g, _ in report.pairs] == list(range(len(EXAMPLE1)))
    assert report.summary("example1")[0] == f"example1: {len(EXAMPLE1)}/{len(EXAMPLE1)} trace lines matched in order (100.0%)"


@pytest.mark.parametrize("section", ["failure", "example2", "example3"])
def test_every_section_against_itself_with_trailing_spaces(section: str) -> None:
    guide = [ln + "  " for ln in FIXTURE[section]]  # the guide carries stray trailing spaces
    assert match_in_order(guide, transcript_from(FIXTURE[section])).percent == 100.0


def test_the_failure_lines_are_not_in_a_successful_enrollment() -> None:
    report = match_in_order(FIXTURE["failure"], transcript_from(EXAMPLE1))
    assert report.matched == 0 and report.percent == 0.0
    assert [m.guide.number for m in report.missing] == [1795, 2402]
    assert all(m.why.startswith("not in the transcript") for m in report.missing)


def _without(lines: list[str], target: str) -> list[str]:
    assert lines.count(target) == 1
    return [ln for ln in lines if ln != target]


def test_one_line_missing_reported_exactly() -> None:
    gone = "[1288] save_pkcs7_certs: CA certs imported!"
    report = match_in_order(EXAMPLE1, _without(transcript_from(EXAMPLE1), gone))
    assert report.matched == report.total - 1
    assert report.percent == pytest.approx(100.0 * (report.total - 1) / report.total)
    [miss] = report.missing
    assert str(miss.guide) == gone and miss.position == EXAMPLE1.index(gone)
    assert miss.why.startswith("not in the transcript")
    assert "missing guide line" in report.summary()[1] and gone in report.summary()[1]


@pytest.mark.parametrize(
    "old,new,why",
    [
        ("[1753] est_curl_req: HTTP POST", "[1753] est_curl_request: HTTP POST",
         "function differs: guide est_curl_req, transcript est_curl_request"),
        ("[827] est_cmdb_update_cert: Cert est-test101 updated in CMDB",
         "[828] est_cmdb_update_cert: Cert est-test101 updated in CMDB",
         "line number differs: guide [827], transcript [828]"),
        ("[2408] est_simple_enroll: POST ret:0", "[2408] est_simple_enroll: POST ret:1",
         "text differs: guide 'POST ret:0', transcript 'POST ret:1'"),
        ("[1474] decode_csrattrs_callback: Object: 1.3.132.0.34 secp384r1",
         "[1474] decode_csrattrs_callback: Object: 1.3.132.0.35 secp521r1",
         "text differs: guide 'Object: 1.3.132.0.34 secp384r1', transcript 'Object: 1.3.132.0.35 secp521r1'"),
    ],
)
def test_one_line_changed_reported_with_near_miss(old: str, new: str, why: str) -> None:
    transcript = transcript_from(EXAMPLE1)
    at = transcript.index(old)
    transcript[at] = new
    report = match_in_order(EXAMPLE1, transcript)
    assert report.matched == report.total - 1
    [miss] = report.missing
    assert str(miss.guide) == old
    assert miss.why == why
    assert miss.near is not None and str(miss.near) == new and miss.near.index == at + 1


def test_swapped_lines_are_an_order_violation() -> None:
    transcript = transcript_from(EXAMPLE1)
    a = transcript.index("[2046] __est_curl_set_auth: HTTP Authentication username is set")
    b = transcript.index("[2050] __est_curl_set_auth: HTTP Authentication password is set")
    transcript[a], transcript[b] = transcript[b], transcript[a]
    report = match_in_order(EXAMPLE1, transcript)
    assert report.matched == report.total - 1
    [miss] = report.missing
    assert miss.guide.number in (2046, 2050)
    assert miss.why.startswith("out of order: found at transcript line")


def test_line_moved_far_is_an_order_violation_with_its_position() -> None:
    moved = "[1288] save_pkcs7_certs: CA certs imported!"
    transcript = _without(transcript_from(EXAMPLE1), moved)
    transcript.insert(len(transcript) - 3, moved)  # just before "Done."
    report = match_in_order(EXAMPLE1, transcript)
    [miss] = report.missing
    assert str(miss.guide) == moved
    assert miss.near is not None and miss.near.index == len(transcript) - 3
    assert f"found at transcript line {len(transcript) - 3}" in miss.why
    assert "after transcript line" in miss.why and "before transcript line" in miss.why


def test_reversed_transcript_matches_little() -> None:
    report = match_in_order(EXAMPLE1, list(reversed(transcript_from(EXAMPLE1))))
    assert report.percent < 20
    assert sum(m.why.startswith("out of order") for m in report.missing) > report.total // 2


def test_empty_transcript_and_bad_guide() -> None:
    report = match_in_order(EXAMPLE1[:3], [])
    assert report.matched == 0 and [m.why for m in report.missing] == ["the transcript has no trace lines"] * 3
    assert match_in_order([], ["anything"]).percent == 100.0
    with pytest.raises(ValueError):
        match_in_order(["...", *EXAMPLE1], transcript_from(EXAMPLE1))


def test_command_line(tmp_path: Path) -> None:
    guide = tmp_path / "guide.txt"
    guide.write_text("## example1\n" + "\n".join(EXAMPLE1) + "\n")
    good, bad = tmp_path / "good.out", tmp_path / "bad.out"
    good.write_text("\n".join(transcript_from(EXAMPLE1)))
    bad.write_text("\n".join(_without(transcript_from(EXAMPLE1), "[2408] est_simple_enroll: POST ret:0")))
    root = HERE.parents[1]
    run = lambda *a: subprocess.run([sys.executable, "-m", "fortishell.fidelity", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True, cwd=root, timeout=60)
    ok = run(guide, good)
    assert ok.returncode == 0 and "(100.0%)" in ok.stdout
    missing = run(guide, bad)
    assert missing.returncode == 1 and "[2408] est_simple_enroll: POST ret:0" in missing.stdout
