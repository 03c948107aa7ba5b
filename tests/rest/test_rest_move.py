"""``PUT .../<mkey>?action=move&before=|after=``: the table reordered in one commit, seen by GET,
by the CLI's ``show`` and after a restart; errors as the device's (-3 / 404, -651 / 500)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_helpers import LOCAL, Served


def _order(c: Any) -> list[str]:
    return [r["name"] for r in c.get(LOCAL, params={"format": "name"}).json()["results"] if r["name"].startswith("m")]


def _show_order(box: Served) -> list[str]:
    return [ln.strip()[6:-1] for ln in box.cli("show vpn certificate local") if ln.strip().startswith('edit "m')]


def test_move_reorders_the_table_and_is_kept(served: Callable[..., Served]) -> None:
    box = served()
    with box.client(box.token()) as c:
        for name in ("m1", "m2", "m3"):
            assert c.post(LOCAL, json={"name": name}).status_code == 200
        r = c.put(f"{LOCAL}/m3", params={"action": "move", "before": "m1"})
        body = r.json()
        assert r.status_code == 200 and body["status"] == "success" and body["mkey"] == "m3", r.text
        assert body["revision_changed"] is True and body["old_revision"] != body["revision"]
        assert _order(c) == ["m3", "m1", "m2"] == _show_order(box)
        assert c.put(f"{LOCAL}/m3", params={"action": "move", "after": "m2"}).status_code == 200
        assert _order(c) == ["m1", "m2", "m3"]
        # the order as it was: nothing committed
        same = c.put(f"{LOCAL}/m1", params={"action": "move", "before": "m2"}).json()
        assert same["revision_changed"] is False and same["revision"] == same["old_revision"]
        # errors change nothing
        for params, mkey, want in (({"action": "move", "before": "nothing"}, "m1", (404, -3)),
                                   ({"action": "move", "after": "m1"}, "nothing", (404, -3)),
                                   ({"action": "move"}, "m1", (500, -651)),
                                   ({"action": "move", "before": "m2", "after": "m3"}, "m1", (500, -651))):
            bad = c.put(f"{LOCAL}/{mkey}", params=params)
            assert (bad.status_code, bad.json()["error"]) == want, (params, bad.text)
            assert bad.json()["revision_changed"] is False
        assert c.put("/api/v2/cmdb/system/global", params={"action": "move", "before": "x"}).status_code == 405
        assert c.put(f"{LOCAL}/m2", params={"action": "move", "before": "m1"}).status_code == 200
        assert _order(c) == ["m2", "m1", "m3"]
    box.server.stop()
    again = served(state=box.state)
    assert _show_order(again) == ["m2", "m1", "m3"]
