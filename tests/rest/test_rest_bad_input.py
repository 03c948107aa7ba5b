"""Bad input gets the device's error envelope and status and changes nothing: the configuration
(in clear) and every file of the state directory are byte-identical afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rest_helpers import Served

LOCAL = "/api/v2/cmdb/vpn.certificate/local"
GLOBAL = "/api/v2/cmdb/system/global"


@pytest.fixture()
def api(box: Served) -> Any:
    with box.client(box.token()) as c:
        c.post(LOCAL, json={"name": "victim", "comments": "keep me"})
        yield c


def _unchanged(box: Served, api: Any, method: str, url: str, expect: tuple[int, int | None], **kw: Any) -> dict:
    before, files = box.config_text(), box.files()
    r = api.request(method, url, **kw)
    body = r.json()  # always the JSON envelope, never a traceback
    assert (r.status_code, body.get("error")) == expect, r.text
    assert body["http_status"] == r.status_code and body["status"] == "error"
    assert body["http_method"] == method
    assert "Traceback" not in r.text
    assert box.config_text() == before
    assert box.files() == files
    return body


@pytest.mark.parametrize("method,url,kw,expect", [
    ("PUT", GLOBAL, {"content": b'{"hostname": "x",'}, (400, -1)),  # malformed JSON
    ("PUT", GLOBAL, {"content": b"\xff\xfe\x00junk"}, (400, -1)),  # not even text
    ("PUT", GLOBAL, {"json": [{"hostname": "x"}]}, (500, -651)),  # an array where an object belongs
    ("PUT", f"{LOCAL}/victim", {"json": "comments"}, (500, -651)),
    ("PUT", GLOBAL, {"json": {"hostname": "x", "bogus-attr": 1}}, (500, -61)),  # unknown attribute
    ("PUT", GLOBAL, {"json": {"hostname": "x", "admintimeout": "abc"}}, (500, -651)),  # wrong type
    ("PUT", GLOBAL, {"json": {"admintimeout": 481}}, (500, -651)),  # out of range
    ("PUT", GLOBAL, {"json": {"admintimeout": True}}, (500, -651)),
    ("PUT", GLOBAL, {"json": {"hostname": {"a": 1}}}, (500, -651)),
    ("PUT", GLOBAL, {"json": {"hostname": "y" * 36}}, (500, -1)),  # too long, as `set` says
    ("PUT", f"{LOCAL}/victim", {"json": {"comments": "changed", "enroll-protocol": "nope"}}, (500, -1)),
    ("PUT", f"{LOCAL}/victim", {"json": {"state": "OK"}}, (500, -61)),  # read-only
    ("PUT", f"{LOCAL}/victim", {"json": {"est-client-cert": "no-such-cert"}}, (500, -3)),
    ("PUT", f"{LOCAL}/victim", {"json": {"name": "Fortinet_Factory"}}, (500, -5)),  # a rename onto a name taken
    ("PUT", f"{LOCAL}/victim", {"json": {"name": "renamed", "state": "OK"}}, (500, -61)),  # a rename, half valid
    ("POST", LOCAL, {"json": {"comments": "no name"}}, (500, -651)),
    ("POST", LOCAL, {"json": {"name": "n" * 36}}, (500, -1)),
    ("POST", LOCAL, {"json": {"name": "victim"}}, (500, -5)),
    ("POST", GLOBAL, {"json": {"hostname": "x"}}, (405, None)),  # POST on an object
    ("DELETE", GLOBAL, {}, (405, None)),
    ("DELETE", LOCAL, {}, (405, None)),  # a whole table
    ("PATCH", f"{LOCAL}/victim", {"json": {}}, (405, None)),  # a method the API does not have
    ("GET", "/api/v2/cmdb/no.such/table", {}, (404, None)),  # unknown path
    ("GET", "/api/v2/cmdb/vpn.certificate", {}, (404, None)),
    ("GET", "/api/v2/cmdb/vpn.certificate/local/a/b/c", {}, (404, None)),
    ("GET", "/api/v2/monitor/no/such", {}, (404, None)),
    ("POST", "/api/v2/monitor/system/status", {}, (405, None)),
    ("GET", "/nothing/here", {}, (404, None)),
    ("GET", f"{GLOBAL}/anything", {}, (404, -3)),  # an object has no entries
    ("PUT", f"{GLOBAL}/anything", {"json": {"alias": "x"}}, (404, -3)),
    ("DELETE", f"{LOCAL}/no-such", {}, (404, -3)),
    ("GET", LOCAL, {"params": {"filter": "no operator"}}, (400, -1)),
    ("GET", LOCAL, {"params": {"start": "x"}}, (400, -1)),
    ("GET", LOCAL, {"params": {"vdom": "other"}}, (403, None)),  # a vdom the device lacks: nobody has it
    ("PUT", GLOBAL, {"content": b"x" * (5 * 1024 * 1024)}, (413, None)),  # oversized body
])
def test_refused_and_nothing_changes(box: Served, api: Any, method: str, url: str, kw: dict, expect: tuple) -> None:
    _unchanged(box, api, method, url, expect, **kw)


def test_cli_error_is_the_cli_text(box: Served, api: Any) -> None:
    body = _unchanged(box, api, "PUT", GLOBAL, (500, -651), json={"admintimeout": 481})
    assert body["cli_error"].splitlines()[-1] == "Command fail. Return code -651"
    assert "value parse error before '481'" in body["cli_error"]


def test_half_valid_body_is_not_half_applied(box: Served, api: Any) -> None:
    """The valid hostname before the bad value is not applied either."""
    _unchanged(box, api, "PUT", GLOBAL, (500, -651), json={"hostname": "half", "admintimeout": 0})
    assert api.get(GLOBAL).json()["results"]["hostname"] == "FortiProxy"


def test_without_credentials_nothing_changes(box: Served) -> None:
    with box.client() as anon:
        _unchanged(box, anon, "PUT", GLOBAL, (401, None), json={"hostname": "anon"})
    with box.client("not-a-key") as forged:
        _unchanged(box, forged, "DELETE", f"{LOCAL}/Fortinet_Factory", (401, None))


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                                  max_size=3), max_leaves=8)
_known = st.sampled_from(["hostname", "admintimeout", "comments", "enroll-protocol", "est-server", "source",
                          "range", "crl-verification", "name", "state", "auto-regenerate-days"])


@st.composite
def _bad_bodies(draw: st.DrawFn) -> bytes:
    """A body with at least one thing the device must refuse."""
    kind = draw(st.sampled_from(["not-object", "unknown-attr", "raw"]))
    if kind == "raw":
        # not whitespace alone: an empty body is no bad body (a PUT of nothing changes nothing, 200)
        return draw(st.binary(min_size=1, max_size=64).filter(lambda b: b.strip() != b""
                                                              and not b.strip().startswith(b"{")))
    if kind == "not-object":
        return json.dumps(draw(_json.filter(lambda v: v is not None and not isinstance(v, dict)))).encode()
    body = draw(st.dictionaries(_known, _json, max_size=4))
    body[draw(st.sampled_from(["zz-bogus", "hostnam", "x"]))] = draw(_json)
    return json.dumps(body).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from([("PUT", GLOBAL), ("PUT", f"{LOCAL}/victim"), ("POST", LOCAL),
                               ("PUT", "/api/v2/cmdb/vpn.certificate/setting")]),
       raw=_bad_bodies())
def test_fuzz_bad_bodies_change_nothing(box: Served, api: Any, target: tuple[str, str], raw: bytes) -> None:
    method, url = target
    before, files = box.config_text(), box.files()
    r = api.request(method, url, content=raw)
    assert r.status_code in (400, 500), r.text
    body = r.json()
    assert body["status"] == "error" and body["http_status"] == r.status_code
    assert body.get("error") != -1 or r.status_code == 400 or "cli_error" in body  # never an unexpected error
    assert box.config_text() == before
    assert box.files() == files
