"""Query parameters a 7.6 device takes besides filter/format/paging: ``skip`` (hide what the CLI
skips), ``vdom=*`` / ``vdom=a,b`` (one envelope per vdom, in a list; a vdom the device lacks 403),
``datasource``."""

from __future__ import annotations

from rest_helpers import LOCAL


def test_skip_hides_the_attributes_the_cli_skips(api) -> None:
    assert api.post(LOCAL, json={"name": "plain"}).status_code == 200
    full = api.get(f"{LOCAL}/plain").json()["results"][0]
    # without skip: every attribute, also those of another enroll-protocol (the device's answer)
    assert full["enroll-protocol"] == "none" and full["scep-url"] == "" and "acme-domain" in full
    assert "ike-localid" in full and "last-updated" not in full  # hidden stays hidden
    short = api.get(f"{LOCAL}/plain", params={"skip": "1"}).json()["results"][0]
    assert "scep-url" not in short and "acme-domain" not in short and "ike-localid" not in short
    assert short["enroll-protocol"] == "none" and set(short) < set(full)
    # a GET-modify-PUT of the full answer is taken: the skipped attributes come back unchanged
    full["comments"] = "round trip"
    r = api.put(f"{LOCAL}/plain", json=full)
    assert r.status_code == 200 and r.json()["revision_changed"] is True, r.text
    # ... but a skipped attribute given a new value is refused as `set` refuses it
    r = api.put(f"{LOCAL}/plain", json={"scep-url": "http://scep.example/"})
    assert (r.status_code, r.json()["error"]) == (500, -61)


def test_vdom_star_and_lists_answer_one_envelope_per_vdom(api) -> None:
    one = api.get(LOCAL, params={"vdom": "root"}).json()
    star = api.get(LOCAL, params={"vdom": "*"})
    assert star.status_code == 200
    body = star.json()
    assert isinstance(body, list) and len(body) == 1
    assert body[0]["vdom"] == "root" and body[0]["status"] == "success"
    assert [r["name"] for r in body[0]["results"]] == [r["name"] for r in one["results"]]
    both = api.get(LOCAL, params={"vdom": "root,other"}).json()
    assert [(b["vdom"], b["http_status"]) for b in both] == [("root", 200), ("other", 403)]
    assert "error" not in both[1]  # the device's refusal of a vdom carries no error code
    assert api.get(LOCAL, params={"vdom": "other"}).status_code == 403
    elsewhere = api.post(LOCAL, params={"vdom": "a,b"}, json={"name": "not-in-root"})
    assert elsewhere.status_code == 403 and [b["vdom"] for b in elsewhere.json()] == ["a", "b"]
    assert api.get(f"{LOCAL}/not-in-root").status_code == 404
    # a write to every vdom is a write to root, answered as a list
    r = api.post(LOCAL, params={"vdom": "*"}, json={"name": "everywhere"})
    assert r.status_code == 200 and r.json()[0]["mkey"] == "everywhere", r.text
    assert api.get(f"{LOCAL}/everywhere").status_code == 200
    again = api.post(LOCAL, params={"vdom": "*"}, json={"name": "everywhere"})
    assert again.status_code == 500 and again.json()[0]["error"] == -5


def test_datasource_is_accepted_and_references_stay_as_written(api) -> None:
    plain = api.get("/api/v2/cmdb/vpn.certificate/setting").json()["results"]
    with_ds = api.get("/api/v2/cmdb/vpn.certificate/setting", params={"datasource": "1"}).json()["results"]
    assert with_ds == plain
