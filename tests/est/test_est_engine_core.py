"""EST engine, second pass: settings round trip, fetch_cacerts, truthful CA import, the client key
kept off the disk, cancellation -- against the lab responder over real TLS on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import ssl
import threading
import time

import pytest

from fortishell import errors
from fortishell.est.args import CA, LOCAL, parse_generate_args
from fortishell.est.cancel import Cancelled, CancelToken
from fortishell.est.settings import EstSettings

CLEAR = "[592] est_ctx_clear_tmp_data: trace"


def _enroll(rig, name: str = "c1", *extra: str) -> list[str]:
    return rig.generate(name, "ec-secp256r1", rig.url, f"CN={name}", "", "estuser", "estpwd", *extra)


def test_settings_round_trip_through_the_cmdb(rig):
    words = ["rt", "ec-secp256r1", rig.url, "CN=rt", "", "estuser", "estpwd", "label1", "", "", "", ""]
    settings = parse_generate_args(words, rig.cmdb)
    assert isinstance(settings, EstSettings)
    rig.engine.generate(dataclasses.replace(settings, ca_id=None))
    back = EstSettings.from_entry("rt", rig.cmdb.entry(LOCAL, "rt"))
    assert (back.url, back.http_username, back.http_password, back.ca_id) == (rig.url, "estuser", "estpwd", None)
    assert back.entry_values() == dataclasses.replace(settings, ca_id=None).entry_values()
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.url = "x"  # type: ignore[misc]


def test_fetch_cacerts_returns_without_storing(make_rig):
    rig = make_rig()
    before = rig.cmdb.snapshot()
    certs = rig.engine.fetch_cacerts(EstSettings(name="", url=rig.url, http_username="estuser",
                                                 http_password="estpwd"))
    assert [c.subject.rfc4514_string() for c in certs] == ["CN=estExampleCA"]
    assert rig.cmdb.snapshot() == before
    assert "[2075] __est_get_ca_certs: ============STARTED============" in rig.lines
    assert "[1288] save_pkcs7_certs: CA certs imported!" not in rig.lines


def test_fetch_cacerts_untrusted_server_fails(make_rig):
    rig = make_rig(trust=False)
    with pytest.raises(errors.EstError) as info:
        rig.engine.fetch_cacerts(EstSettings(name="", url=rig.url))
    assert "SSL certificate problem" in info.value.lines[0]
    assert rig.lines[-1] == CLEAR


def test_ssl_ctx_lines_only_before_the_first_request(rig):
    _enroll(rig)
    ctx = [i for i, l in enumerate(rig.lines) if "__curl_ssl_ctx_finalizer" in l]
    first_url = next(i for i, l in enumerate(rig.lines) if "est_curl_req: URL:" in l)
    second_url = next(i for i, l in enumerate(rig.lines) if "est_curl_req: URL:" in l and i > first_url)
    assert len(ctx) == 2 and all(first_url < i < second_url for i in ctx)


def test_500_on_simpleenroll_trace_and_ca_table_agree(make_rig):
    """The CA import is its own transaction: the trace says imported, the CA table has it."""
    rig = make_rig(trust=False)  # TLS-SRP authenticates the server: the CA table starts empty
    rig.responder.faults.set(status_500=True, endpoints=("simpleenroll",))
    with pytest.raises(errors.EstError):
        rig.generate("c500", "ec-secp256r1", rig.url, "CN=c500", "", "", "", "", "", "", "", "",
                     "srpuser", "srppwd")
    assert "[1288] save_pkcs7_certs: CA certs imported!" in rig.lines
    assert rig.cmdb.keys(CA) == ["G_CA_Cert_1"]
    assert rig.cmdb.entry(CA, "G_CA_Cert_1").get("ca").strip() == rig.responder.ca.cert_pem.strip()
    assert rig.cmdb.entry(LOCAL, "c500") is None  # the local certificate: all or nothing


def test_ca_import_not_claimed_when_cacerts_fails(make_rig):
    rig = make_rig()
    rig.responder.faults.set(status_500=True, endpoints=("cacerts",))
    with pytest.raises(errors.EstError):
        _enroll(rig)
    assert "[1288] save_pkcs7_certs: CA certs imported!" not in rig.lines


def test_client_key_never_reaches_the_disk_in_clear(rig, monkeypatch):
    """Re-enrollment and client-certificate enrollment hand the TLS stack the encrypted PEM only."""
    _enroll(rig, "first")
    seen: list[tuple[str, str | None]] = []
    real = ssl.SSLContext.load_cert_chain

    def spy(self, certfile, keyfile=None, password=None):
        with open(certfile) as fh:
            seen.append((certfile, fh.read()))
        assert password, "the key must be loaded with its password"
        return real(self, certfile, keyfile, password)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    assert rig.engine.regenerate("first") == ["Done."]
    assert _enroll(rig, "second", "", "", "", "first") == ["Done."]
    assert len(seen) == 2
    for path, text in seen:
        assert path.startswith("/proc/self/fd/")  # an in-memory file, not a file on disk
        assert "BEGIN ENCRYPTED PRIVATE KEY" in text and "BEGIN PRIVATE KEY" not in text


def _cancel_after(token: CancelToken, seconds: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), token.cancel()))
    thread.start()
    return thread


@pytest.mark.parametrize("operation", ["enroll", "regenerate"])
def test_cancel_against_a_slow_responder(rig, operation):
    if operation == "regenerate":
        _enroll(rig, "c1")
    rig.lines.clear()
    before = rig.cmdb.snapshot()
    rig.engine.timeout = 30.0
    rig.responder.faults.set(delay_seconds=5.0, endpoints=("simpleenroll", "simplereenroll"))
    token = CancelToken()
    thread = _cancel_after(token, 0.3)
    started = time.monotonic()
    with pytest.raises(Cancelled) as info:
        if operation == "enroll":
            rig.engine.generate(parse_generate_args(["c2", "ec-secp256r1", rig.url, "CN=c2", "", "estuser",
                                                     "estpwd"], rig.cmdb), token)
        else:
            rig.engine.regenerate("c1", token)
    elapsed = time.monotonic() - started
    thread.join()
    assert elapsed < 1.3  # cancelled at 0.3 s; the transfer stops within 1 s
    assert info.value.output()[0].endswith("cancelled.")
    assert info.value.output()[-1] == "Command fail. Return code -1"
    assert rig.lines[-1] == CLEAR
    assert rig.cmdb.snapshot() == before


def test_cancel_during_retry_after_wait(rig):
    rig.engine.sleep = None  # wait on the token, as in production
    rig.responder.faults.set(retry_after=(3, 20))
    token = CancelToken()
    thread = _cancel_after(token, 0.3)
    started = time.monotonic()
    with pytest.raises(Cancelled):
        _enroll_with(rig, token)
    thread.join()
    assert time.monotonic() - started < 1.3
    assert rig.cmdb.entry(LOCAL, "w1") is None and rig.lines[-1] == CLEAR


def _enroll_with(rig, token: CancelToken) -> list[str]:
    settings = parse_generate_args(["w1", "ec-secp256r1", rig.url, "CN=w1", "", "estuser", "estpwd"], rig.cmdb)
    assert isinstance(settings, EstSettings)
    return rig.engine.generate(settings, token)
