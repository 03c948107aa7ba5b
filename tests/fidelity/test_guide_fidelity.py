"""Guide fidelity of the training labs: every bracketed debug line of the guide, in order.

Runs the lab exercises of ``sample-configs/`` through the installed
``fortishell`` binary (fresh configuration copy, own state directory, the
guide's clock) and matches each transcript against its section of
``guide_trace_lines.txt`` with :func:`fortishell.fidelity.match_in_order`:
same line number, same function, same text modulo the variable values.
The percentage per section is printed (``pytest -s``) and is in every
assertion message.

``EXPECTED_DIFFERENCES`` lists guide lines the labs deliberately do not
reproduce, each with the reason; it is empty: the goal, 100%, is met.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "labs"))

from extract_guide_trace import load_fixture  # noqa: E402
from labexercises import EXERCISES, Exercise, Replay  # noqa: E402

from fortishell.fidelity import FidelityReport, match_in_order  # noqa: E402

# (section, guide line as in the fixture) -> why the lab deliberately differs.
EXPECTED_DIFFERENCES: dict[tuple[str, str], str] = {}

# Non-bracketed lines of the guide's multi-line dumps that the labs must also
# show, in order (compared with surrounding whitespace stripped).  The root CA
# dump of Example 1 in particular: Basic Constraints is NOT marked critical.
GUIDE_BLOCK_LINES: dict[str, tuple[str, ...]] = {
    "example1": (
        "[427] est_print_x509:         Version: 3 (0x2)",
        "Serial Number:",
        "ab:e8:32:e1:f6:6a:6b:43",
        "Issuer: CN=estExampleCA",
        "Subject: CN=estExampleCA",
        "X509v3 extensions:",
        "X509v3 Basic Constraints:",
        "CA:TRUE",
        "X509v3 Subject Key Identifier:",
        "1A:DF:39:84:C2:56:E6:6C:CF:2A:B4:26:A5:FD:0C:D2:43:F5:3D:3E",
        "svr_original_url:https://testrfc7030.com:8443",
        "newcert_name:est-test101",
        "ec_curvename:secp256r1",
        "subject:CN=firewall-portal1,DC=local,DC=COM",
        "sub_alt_name:DNS:firewall-portal1.local.ca,IP:172.18.60.184",
        "Issuer: CN=estExampleCA",
        "Subject: CN=firewall-portal1",
        "CA:FALSE",
        "Digital Signature",
        "Done.",
    ),
    "example2": (
        "Valid from:  2023-04-06 22:37:34  GMT",
        "Valid to:    2024-04-05 22:37:34  GMT",
        "auto-regenerate-days: 0",
        "[1024] reconstruct_est_ctx: Reconstruction succeeded",
        "svr_hostinfo:NULL",
        "http_username:estuser",
        "http_password:estpwd",
        "clt_cert:",
        "newcert_name:est-test101",
        "ec_curvename:(null)",
        "subject:(null)",
        "[2453] est_simple_reenroll: Try to use est-test101 as client cert to authenticate",
        "svr_hostinfo:Exists",
        "clt_cert:est-test101",
        "csr_attrs:Exists",
        "[2274] __est_simple_reenroll: ============STARTED============",
        "|||",
        "Issuer: CN=estExampleCA",
        "Subject: CN=firewall-portal1",
        "Valid from:  2023-04-06 22:55:09  GMT",
        "Valid to:    2024-04-05 22:55:09  GMT",
    ),
    "example3": (
        "Certificate 'est-test101' already exists, re-generate will ignore all the options you have provided.",
        "Are you sure to re-generate the certificate?",
        "Do you want to continue? (y/n) y",
        "[1024] reconstruct_est_ctx: Reconstruction succeeded",
        "svr_hostinfo:NULL",
        "clt_cert:",
        "newcert_name:est-test101",
        "ec_curvename:(null)",
        "[2453] est_simple_reenroll: Try to use est-test101 as client cert to authenticate",
        "Valid from:  2023-04-13 17:23:40  GMT",
        "Valid to:    2024-04-12 17:23:40  GMT",
    ),
}

SECTIONS = [e for e in EXERCISES if e.section]


@pytest.fixture(scope="module")
def transcripts(replayed: Callable[[str], Replay]) -> dict[str, str]:
    """The exercises' plain runs, shared with tests/labs (tests/conftest.py)."""
    out: dict[str, str] = {}
    for ex in SECTIONS:
        if not ex.expected.exists():
            continue
        proc = replayed(ex.name).proc
        assert proc.returncode == ex.expect_rc, f"{ex.name}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        out[ex.name] = proc.stdout
    return out


def _report(ex: Exercise, transcript: str) -> tuple[FidelityReport, list[str]]:
    guide = load_fixture()[ex.section]
    report = match_in_order(guide, transcript.splitlines())
    return report, report.summary(f"{ex.section} ({ex.name})")


@pytest.mark.parametrize("ex", SECTIONS, ids=[e.section for e in SECTIONS])
def test_trace_lines_match_the_guide(ex: Exercise, transcripts: dict[str, str]) -> None:
    if ex.name not in transcripts:
        pytest.fail(f"{ex.expected.name} is missing: the exercise has not been recorded")
    report, summary = _report(ex, transcripts[ex.name])
    print("\n" + "\n".join(summary))
    unexplained = [m for m in report.missing if (ex.section, str(m.guide)) not in EXPECTED_DIFFERENCES]
    assert not unexplained, "\n".join(summary)
    assert report.total > 0


def test_every_guide_section_has_an_exercise() -> None:
    assert {e.section for e in SECTIONS} == set(load_fixture())


def test_expected_differences_name_real_guide_lines() -> None:
    fixture = load_fixture()
    for (section, line), why in EXPECTED_DIFFERENCES.items():
        assert line in fixture[section] and why


@pytest.mark.parametrize("section", sorted(GUIDE_BLOCK_LINES))
def test_dump_lines_match_the_guide(section: str, transcripts: dict[str, str]) -> None:
    ex = next(e for e in SECTIONS if e.section == section)
    lines = [ln.strip() for ln in transcripts[ex.name].splitlines()]
    pos = 0
    for want in GUIDE_BLOCK_LINES[section]:
        try:
            pos = lines.index(want.strip(), pos) + 1
        except ValueError:
            context = "\n".join(lines[max(0, pos - 3) : pos + 12])
            pytest.fail(f"{section}: {want!r} not found after transcript line {pos}; there:\n{context}")


def test_lab_root_basic_constraints_not_critical(transcripts: dict[str, str]) -> None:
    """The guide prints the lab root's ``X509v3 Basic Constraints:`` without ``critical``."""
    text = transcripts["example1-enroll"]
    assert "X509v3 Basic Constraints:" in text
    assert "Basic Constraints: critical" not in text


def test_regenerated_certificate_keeps_est_client_cert_empty(transcripts: dict[str, str]) -> None:
    get_output = transcripts["example3-regenerate"].rsplit("# get est-test101", 1)[1]
    assert "\nest-client-cert     :\n" in get_output


def test_the_matcher_sees_a_broken_transcript(transcripts: dict[str, str]) -> None:
    """The fidelity check can fail: drop one guide line from a real transcript."""
    ex = next(e for e in SECTIONS if e.section == "example1")
    broken = transcripts[ex.name].replace("[1288] save_pkcs7_certs: CA certs imported!\n", "")
    report, summary = _report(ex, broken)
    assert not report.ok and report.percent < 100.0
    assert any("CA certs imported" in str(m.guide) for m in report.missing), summary
