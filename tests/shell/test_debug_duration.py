"""``diagnose debug duration``: debug output stops on the device clock."""

from __future__ import annotations

from fortishell.shell.session import Session


def _debug_lines(session: Session) -> list[str]:
    out: list[str] = []
    session.device.set_sink(out.append)
    session.device.tracer.raw("est", "probe")
    return out


def test_debug_output_stops_after_the_duration(session: Session) -> None:
    for line in ("diagnose debug application est -1", "diagnose debug duration 5", "diagnose debug enable"):
        assert session.execute(line).rc == 0
    assert _debug_lines(session) == ["probe"]
    session.execute("execute time 22:42:33")  # 4 min 59 s later
    assert _debug_lines(session) == ["probe"]
    session.execute("execute time 22:42:34")  # 5 minutes: over
    assert _debug_lines(session) == []
    assert "debug output:           disable" in session.execute("diagnose debug info").lines
    session.execute("diagnose debug enable")  # a new period
    assert _debug_lines(session) == ["probe"]


def test_default_is_thirty_minutes_and_zero_is_unlimited(session: Session) -> None:
    assert session.execute("diagnose debug duration").lines == ["debug output duration: 30 minutes"]
    session.execute("diagnose debug application est -1")
    session.execute("diagnose debug enable")
    session.execute("execute time 23:07:33")
    assert _debug_lines(session) == ["probe"]
    session.execute("execute time 23:07:34")
    assert _debug_lines(session) == []
    session.execute("diagnose debug duration 0")
    session.execute("diagnose debug enable")
    session.execute("execute date 2024-04-06")
    assert _debug_lines(session) == ["probe"]
