"""Transcript comparison (``fortishell.expect``): value wildcards, structure kept, ``<*>``, diffs,
the ``python -m fortishell.expect`` grader and the ``--expect`` hook of a real replay."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fortishell.expect import BLOCK_RULES, LINE_RULES, compare, expect_hook, main, normalise

ROOT = Path(__file__).resolve().parents[1]

# A transcript in the shape fortishell prints (values from the vendor guide's examples).
BASE = """\
FortiProxy # execute date
current date is: 2023-04-06

FortiProxy # execute time
current time is: 22:37:34

FortiProxy # execute ping testrfc7030.com
PING testrfc7030.com (127.0.0.1): 56 data bytes
64 bytes from 127.0.0.1: icmp_seq=0 ttl=64 time=0.4 ms

--- testrfc7030.com ping statistics ---
1 packets transmitted, 1 packets received, 0% packet loss
round-trip min/avg/max = 0.4/0.4/0.4 ms

FortiProxy # execute vpn certificate local generate est est-test101 ec-secp256r1 https://testrfc7030.com:8443
[1728] est_curl_req: URL: https://testrfc7030.com:8443/.well-known/est/csrattrs
[1651] curl_header_debug_func: Header received:Content-Length: 57
[1788] est_curl_req: Buffer:MCYGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAg==
[1439] decode_csrattrs_callback: Decoding csrattrs, resp->len: 57
est_ctx:\tis_global:1
\tnewcert_name:est-test101
\tpasswd:f51da8548af5fef820edfe6267b0c178e76f7c3eae40ee0900318fc77ab6bd
[2200] __est_simple_post: Data to be posted:
|||MIIBQDCB5gIBAjAbMRkwFwYDVQQDDBBmaXJld2FsbC1wb3J0YWwxMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEQoJQmPedxPNUcfCyRvpqyt1oiiJX/me+TdButUSu
jwIhAKUkqfWPAzwcxQaNQw6pyYvo18ymB9aEheeIXZfGI+tV
|||

[1788] est_curl_req: Buffer:MIIBqwYJKoZIhvcNAQcCoIIBnDCCAZgCAQExADALBgkqhkiG9w0BBwGgggGAMIIB
fDCCASOgAwIBAgIDB0aXMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDGVzdEV4YW1w
VAqvePbU/LFXgnICIGyZIuwaJOA7+BOJM3xbZHb1LbJi5qHjudjcSWVBOOqQMQA=
[427] est_print_x509:         Version: 3 (0x2)
        Serial Number: 476823 (0x74697)
        Issuer: CN=estExampleCA
            X509v3 Subject Key Identifier:
                9B:F8:39:D5:21:E6:FF:49:FF:AC:02:57:5B:FC:4C:1A:8B:1E:5D:8F
[427] est_print_x509:         Version: 3 (0x2)
        Serial Number:
            ab:e8:32:e1:f6:6a:6b:43
[827] est_cmdb_update_cert: Cert est-test101 updated in CMDB
Done.

FortiProxy # get vpn certificate local est-test101
name                : est-test101
certificate         :
        Subject:     CN = firewall-portal1
        Valid from:  2023-04-06 22:37:34  GMT
        Valid to:    2024-04-05 22:37:34  GMT
        Fingerprint: AE:67:11:CF:7D:F9:57:A4:09:8B:55:0A:F1:B1:7A:CF
        Serial Num:
                07:46:a5
state               : OK

FortiProxy # show vpn certificate local est-test101
config vpn certificate local
    edit "est-test101"
        set password ENC qF5saKcSCUx/il2K2lXV3T3ZbGrOVKhP1kZpMS4fWQA7pX6nKFtztUUwdjT7sDNWJa+u+tJyXD/D0IZaQG4QS0rb
        set certificate "-----BEGIN CERTIFICATE-----
MIIBfDCCASOgAwIBAgIDB0aXMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDGVzdEV4
YW1wbGVDQTAeFw0yMzA0MDYyMjM3MzRaFw0yNDA0MDUyMjM3MzRaMBsxGTAXBgNV
qjLQVAqvePbU/LFXgnICIGyZIuwaJOA7+BOJM3xbZHb1LbJi5qHjudjcSWVBOOqQ
-----END CERTIFICATE-----"
        set est-http-password ENC hlXKE6XQqxz/RzZvz1Zdqaw7m2X/hRyB8FlcGJBpvr/wjQ==
        set last-updated 1680820654
    next
end

FortiProxy # get system status | grep "System time"
System time: Thu Apr  6 22:37:34 2023

FortiProxy # diagnose debug console timestamp enable

FortiProxy # execute vpn certificate local generate est est-test101
2023-04-06 22:37:35 [2453] est_simple_reenroll: Try to use est-test101 as client cert to authenticate

FortiProxy # """


def test_identical_texts_match() -> None:
    result = compare(BASE, BASE)
    assert result.ok
    assert result.diff_lines() == []
    assert result.first_difference is None


def test_rules_are_data() -> None:
    names = [r.name for r in LINE_RULES] + [b.name for b in BLOCK_RULES]
    assert len(names) == len(set(names))
    assert {"datetime", "serial-decimal", "key-identifier", "fingerprint", "enc-secret", "password-hash",
            "buffer", "csr-block", "pem-body"} <= set(names)


def test_normalise_placeholders() -> None:
    norm = normalise(BASE).splitlines()
    assert "current date is: <DATE>" in norm
    assert "current time is: <TIME>" in norm
    assert "[1788] est_curl_req: Buffer:<BASE64>" in norm
    assert "|||<BASE64>|||" in norm
    assert "        Serial Number: <SERIAL>" in norm
    assert "            <SERIAL>" in norm
    assert "                <KEYID>" in norm
    assert "        Fingerprint: <FINGERPRINT>" in norm
    assert "        Valid from:  <DATETIME>  GMT" in norm
    assert "        set password ENC <ENC>" in norm
    assert "<PEM>" in norm and '-----END CERTIFICATE-----"' in norm
    assert "\tpasswd:<HASH>" in norm
    assert "[1651] curl_header_debug_func: Header received:Content-Length: <N>" in norm
    assert "        set last-updated <EPOCH>" in norm
    assert "System time: <DATETIME>" in norm
    assert "<DATETIME> [2453] est_simple_reenroll: Try to use est-test101 as client cert to authenticate" in norm
    # the command lines and the structure are untouched
    assert "FortiProxy # execute vpn certificate local generate est est-test101" in norm
    assert "[827] est_cmdb_update_cert: Cert est-test101 updated in CMDB" in norm


# (what, old text, value-only replacement, structural replacement)
CLASSES = [
    ("date", "current date is: 2023-04-06", "current date is: 2024-12-31", "current data is: 2023-04-06"),
    ("time", "current time is: 22:37:34", "current time is: 08:05:00", "current time is 22:37:34"),
    ("valid-from", "Valid from:  2023-04-06 22:37:34  GMT", "Valid from:  2025-01-02 03:04:05  GMT",
     "Valid since:  2023-04-06 22:37:34  GMT"),
    ("system-time", "System time: Thu Apr  6 22:37:34 2023", "System time: Sat Jan  4 08:00:00 2025",
     "Sys time: Thu Apr  6 22:37:34 2023"),
    ("trace-timestamp", "2023-04-06 22:37:35 [2453]", "2023-04-07 00:00:01 [2453]", "2023-04-06 22:37:35 [2454]"),
    ("serial-decimal", "Serial Number: 476823 (0x74697)", "Serial Number: 12 (0xc)", "Serial No: 476823 (0x74697)"),
    ("serial-hex", "            ab:e8:32:e1:f6:6a:6b:43", "            01:02", "            ab:e8:32:e1:f6:6a:6b:43 x"),
    ("serial-num", "                07:46:a5", "                07:47:02", "                07:46:a5:"),
    ("ski", "9B:F8:39:D5:21:E6:FF:49:FF:AC:02:57:5B:FC:4C:1A:8B:1E:5D:8F",
     "C5:3F:75:22:04:04:E4:B2:BA:5F:CE:CE:4C:DE:C7:CE:C2:3C:50:15",
     "9B:F8:39:D5:21:E6:FF:49:FF:AC:02:57:5B:FC:4C:1A:8B:1E:5D"),
    ("fingerprint", "Fingerprint: AE:67:11:CF:7D:F9:57:A4:09:8B:55:0A:F1:B1:7A:CF",
     "Fingerprint: D9:51:6C:EF:04:E9:79:8D:A0:EE:10:23:4A:F4:46:B7",
     "Thumbprint: AE:67:11:CF:7D:F9:57:A4:09:8B:55:0A:F1:B1:7A:CF"),
    ("buffer", "Buffer:MIIBqwYJKoZIhvcNAQcCoIIBnDCCAZgCAQExADALBgkqhkiG9w0BBwGgggGAMIIB\nfDCCASOgAwIBAgIDB0aXMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDGVzdEV4YW1w\n",
     "Buffer:MIIBrQYJKoZIhvcNAQcCoIIBnjCCAZoCAQExADALBgkqhkiG9w0BBwGgggGCMIIB\nfjCCASOgAwIBAgIDB0aYMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDGVzdEV4YW1w\nAAAA\nBBBB\n",
     "Buffers:MIIBqwYJKoZIhvcNAQcCoIIBnDCCAZgCAQExADALBgkqhkiG9w0BBwGgggGAMIIB\nfDCCASOgAwIBAgIDB0aXMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDGVzdEV4YW1w\n"),
    ("csr-block", "|||MIIBQDCB5gIBAjAbMRkwFwYDVQQDDBBmaXJld2FsbC1wb3J0YWwxMFkwEwYHKoZI\n",
     "|||MIIBPjCB5gIBADBHMRkwFwYDVQQDDBBmaXJld2FsbC1wb3J0YWwxMRUwEwYKCZIm\nAAAA\n",
     "||MIIBQDCB5gIBAjAbMRkwFwYDVQQDDBBmaXJld2FsbC1wb3J0YWwxMFkwEwYHKoZI\n"),
    ("enc", "set password ENC qF5saKcSCUx", "set password ENC Zm9vYmFy", "set passphrase ENC qF5saKcSCUx"),
    ("pem", "MIIBfDCCASOgAwIBAgIDB0aXMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDGVzdEV4\n",
     "MIIBPjCB5gIBADBHMRkwFwYDVQQDDBBmaXJld2FsbC1wb3J0YWwxMRUwEwYKCZIm\nYW1wbGVDQTAeFw0yMzA0MDYyMjM3MzRaFw0yNDA0MDUyMjM3MzRaMBsxGTAXBgNV\n",
     "MIIBfDCCASOgAwIBAgIDB0aXMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDGVzdEV4\n-----END CERTIFICATE-----\"\n"),
    ("pem-attribute", 'set certificate "-----BEGIN CERTIFICATE-----', 'set certificate "-----BEGIN CERTIFICATE-----',
     'set private-key "-----BEGIN CERTIFICATE-----'),
    ("passwd", "passwd:f51da8548af5fef820edfe6267b0c178e76f7c3eae40ee0900318fc77ab6bd",
     "passwd:faa87e144a6aee928b6c55b59eaf457f37d938677577e61867ef43cb99fb8d",
     "password:f51da8548af5fef820edfe6267b0c178e76f7c3eae40ee0900318fc77ab6bd"),
    ("content-length", "Content-Length: 57", "Content-Length: 1234", "Content-Type: 57"),
    ("resp-len", "resp->len: 57", "resp->len: 61", "resp->length: 57"),
    ("last-updated", "set last-updated 1680820654", "set last-updated 1700000000", "set last-update 1680820654"),
    ("ping", "time=0.4 ms", "time=13.6 ms", "ttl=0.4 ms"),
    ("round-trip", "round-trip min/avg/max = 0.4/0.4/0.4 ms", "round-trip min/avg/max = 13.6/16.4/19.1 ms",
     "round-trip min/max = 0.4/0.4/0.4 ms"),
]


@pytest.mark.parametrize("what,old,value,_", CLASSES, ids=[c[0] for c in CLASSES])
def test_value_change_accepted(what: str, old: str, value: str, _: str) -> None:
    assert old in BASE, what
    assert compare(BASE, BASE.replace(old, value, 1)).ok


@pytest.mark.parametrize("what,old,_,structure", CLASSES, ids=[c[0] for c in CLASSES])
def test_structure_change_rejected(what: str, old: str, _: str, structure: str) -> None:
    result = compare(BASE, BASE.replace(old, structure, 1))
    assert not result.ok, what
    assert any(ln.startswith("+") for ln in result.diff_lines()[2:])


@pytest.mark.parametrize(
    "old,new",
    [
        ("[827] est_cmdb_update_cert: Cert est-test101 updated in CMDB\n", ""),  # a missing line
        ("[1439] decode_csrattrs_callback:", "[1439] decode_csrattr_callback:"),  # another function
        ("[1439] decode_csrattrs_callback:", "[1440] decode_csrattrs_callback:"),  # another line number
        ("set est-http-password ENC", "set est-http-username ENC"),  # another attribute
        ("Issuer: CN=estExampleCA", "Issuer: CN=otherCA"),  # a value that is not a wildcard class
        ("Done.\n", "Done.\nDone.\n"),  # an extra line
        ("[1788] est_curl_req: Buffer:MCYG", "[1788] est_curl_req: Buffer: MCYG"),  # spacing is structure
    ],
)
def test_structural_differences_rejected(old: str, new: str) -> None:
    assert old in BASE
    assert not compare(BASE, BASE.replace(old, new, 1)).ok


def test_trailing_whitespace_crlf_and_colour_codes_ignored() -> None:
    actual = "\r\n".join(ln + "  " for ln in BASE.splitlines()) + "\r\n\r\n"
    actual = actual.replace("Done.", "\x1b[0mDone.\x1b[0m")
    assert compare(BASE, actual).ok
    assert not compare(BASE, BASE.replace("Done.", " Done.")).ok  # leading whitespace counts


def test_star_wildcard_within_a_line() -> None:
    expected = BASE.replace("FortiProxy # execute ping testrfc7030.com", "FortiProxy # execute ping <*>")
    expected = expected.replace("Subject:     CN = firewall-portal1", "Subject:     CN = <*>")
    expected = expected.replace("[1728] est_curl_req: URL: https://testrfc7030.com:8443/.well-known/est/csrattrs",
                                "[1728] est_curl_req: URL: https://<*>/.well-known/est/<*>")
    actual = BASE.replace("execute ping testrfc7030.com", "execute ping 127.0.0.1")
    actual = actual.replace("CN = firewall-portal1", "CN = portal2").replace("est/csrattrs", "est/cacerts")
    assert compare(expected, actual).ok
    # <*> never matches a line break, and the text around it must still match
    assert not compare(expected, actual.replace("CN = portal2", "CN = portal2\nextra")).ok
    assert not compare(expected, actual.replace("execute ping 127.0.0.1", "execute pong 127.0.0.1")).ok
    assert not compare(expected.replace("execute ping <*>", "execute ping <*> x"), actual).ok


def test_placeholder_written_in_expected() -> None:
    expected = BASE.replace("Valid from:  2023-04-06 22:37:34  GMT", "Valid from:  <DATETIME>  GMT")
    assert compare(expected, BASE).ok


def test_plain_diff_shows_the_differing_lines_with_numbers() -> None:
    actual = BASE.replace("[1439] decode_csrattrs_callback: Decoding", "[1439] decode_csrattr_callback: Decoding")
    result = compare(BASE, actual)
    lines = result.diff_lines(color=False)
    assert lines[:2] == ["--- expected", "+++ actual"]
    number = BASE.splitlines().index("[1439] decode_csrattrs_callback: Decoding csrattrs, resp->len: 57") + 1
    assert f"-{number:>5}       | [1439] decode_csrattrs_callback: Decoding csrattrs, resp->len: 57" in lines
    assert f"+      {number:>5} | [1439] decode_csrattr_callback: Decoding csrattrs, resp->len: 57" in lines
    assert any(ln.startswith("@@ expected line") for ln in lines)
    assert all("\x1b[" not in ln for ln in lines)
    assert result.first_difference is not None
    # the original text is shown, not the placeholders
    folded = compare(BASE, BASE.replace("|||MIIBQDCB", "||MIIBQDCB")).diff_lines()
    assert any("||MIIBQDCB5gIBAjAbMRkwFwYDVQQDDBBmaXJld2FsbC1wb3J0YWwxMFkwEwYHKoZI" in ln for ln in folded)
    assert not any("<BASE64>" in ln for ln in folded)


def test_coloured_diff_only_on_request() -> None:
    result = compare(BASE, BASE.replace("Done.", "Failed."))
    coloured = result.diff_lines(color=True)
    assert any("\x1b[" in ln for ln in coloured)
    assert any("Failed." in ln for ln in coloured)


def test_missing_line_at_end_reported() -> None:
    result = compare(BASE, BASE.rsplit("\n", 3)[0])  # the last trace line and the final prompt
    assert not result.ok
    removed = [ln for ln in result.diff_lines() if ln.startswith("-") and not ln.startswith("---")]
    assert len(removed) == 3  # with the blank line before the prompt
    assert "[2453] est_simple_reenroll" in removed[0] and removed[2].endswith("| FortiProxy #")


def test_main_grades_a_recorded_transcript(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp, good, bad = tmp_path / "exp.out", tmp_path / "good.out", tmp_path / "bad.out"
    exp.write_text(BASE)
    good.write_text(BASE.replace("476823 (0x74697)", "476999 (0x74747)"))
    bad.write_text(BASE.replace("Cert est-test101 updated", "Cert est-test102 updated"))
    assert main([str(exp), str(good)]) == 0
    assert "matches" in capsys.readouterr().out
    assert main([str(exp), str(bad), "--no-color"]) == 1
    out = capsys.readouterr().out
    assert "+" in out and "Cert est-test102 updated in CMDB" in out and "\x1b[" not in out
    assert main([str(tmp_path / "nope.out"), str(good)]) == 2


def test_module_entry_point_subprocess(tmp_path: Path) -> None:
    exp, act = tmp_path / "exp.out", tmp_path / "act.out"
    exp.write_text(BASE)
    act.write_text(BASE.replace("Done.", "Done!"))
    proc = subprocess.run([sys.executable, "-m", "fortishell.expect", str(exp), str(act)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    assert "Done!" in proc.stdout and "Traceback" not in proc.stderr


LAB_SCRIPT = """\
diagnose debug application est -1
diagnose debug enable
execute vpn certificate local generate est est-test101 ec-secp256r1 https://testrfc7030.com:8443 \
CN=firewall-portal1,DC=local,DC=COM DNS:firewall-portal1.local.ca,IP:172.18.60.184 estuser estpwd G_CA_Cert_1
show vpn certificate local est-test101
get vpn certificate local est-test101
"""


def _replay(tmp_path: Path, name: str, when: dt.datetime, expect=None) -> tuple[int, str]:
    from fortishell.clock import Clock
    from fortishell.replay import run_scripts
    from fortishell.shell.device import Device

    base = tmp_path / name
    base.mkdir()
    conf = base / "lab.conf"
    shutil.copy(ROOT / "sample-configs" / "lab.conf", conf)
    script = base / "ex1.cli"
    script.write_text(LAB_SCRIPT)
    device = Device.open(conf, base / "state", Clock(fixed=when))
    out = io.StringIO()
    try:
        rc = run_scripts([str(script)], device, out=out, expect=expect)
    finally:
        device.close()
    return rc, out.getvalue()


def test_expect_hook_on_real_enrollments(tmp_path: Path) -> None:
    """Two real enrollments (new keys, other dates) compare equal; a changed expectation does not."""
    rc, first = _replay(tmp_path, "a", dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc))
    assert rc == 0 and "Done." in first
    expected = tmp_path / "ex1.out"
    expected.write_text(first)
    report = io.StringIO()
    rc, second = _replay(tmp_path, "b", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
                         expect=expect_hook(str(expected), out=report, color=False))
    assert second != first  # keys, dates, base64 bodies really differ
    assert rc == 0, report.getvalue()
    assert "matches" in report.getvalue()

    expected.write_text(first.replace("Subject:     CN = firewall-portal1", "Subject:     CN = firewall-portal2"))
    report = io.StringIO()
    rc, _ = _replay(tmp_path, "c", dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc),
                    expect=expect_hook(str(expected), out=report, color=False))
    assert rc == 1
    assert "-" in report.getvalue() and "CN = firewall-portal2" in report.getvalue()
