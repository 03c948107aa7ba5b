"""Terminal sessions: whole lines taken without the line editor give the same bytes as the editor."""

from __future__ import annotations

import re
from pathlib import Path

PROMPT = re.compile(r"\r\n\r\n[\w~_-]+ (\([^)]*\) )?# $")



def test_typed_characters_then_help_hand_over_to_the_editor(serve, shell, tmp_path: Path) -> None:
    srv = serve()
    sh = shell(srv.port)
    sh.send("conf")
    assert sh.read_until("conf") == "conf"  # echoed as typed, before Enter
    sh.send("ig ?")
    out = sh.read_until("FortiProxy # config ")
    assert "system    Configure system." in out and "vpn       Configure VPN." in out
    out = sh.cmd("vpn certificate local")
    assert out.endswith("FortiProxy (local) # ")
    assert sh.cmd("end").endswith("FortiProxy # ")


def test_whole_lines_are_answered_in_order_and_kept_in_history(serve, shell, tmp_path: Path) -> None:
    srv = serve()
    sh = shell(srv.port)
    sh.send("config vpn certificate local\redit fast1\rset comments \"one two\"\rnext\rend\r")
    out = sh.read_until(re.compile(r"# end\r\n\r\nFortiProxy # $"))
    assert out == ("config vpn certificate local\r\n\r\nFortiProxy (local) # edit fast1\r\n"
                   "new entry 'fast1' added\r\n\r\nFortiProxy (fast1) # set comments \"one two\"\r\n\r\n"
                   "FortiProxy (fast1) # next\r\n\r\nFortiProxy (local) # end\r\n\r\nFortiProxy # ")
    assert 'set comments "one two"' in sh.cmd("show vpn certificate local fast1")
    history = (tmp_path / "state" / "users" / "admin" / "history").read_text()
    assert "edit fast1" in history and "show vpn certificate local fast1" in history


def test_a_question_is_answered_from_a_whole_line(serve, shell) -> None:
    srv = serve()
    sh = shell(srv.port)
    sh.cmd("config system console")
    sh.cmd("set output standard")
    sh.cmd("end")
    sh.cmd("config vpn certificate local")
    sh.cmd("edit gone")
    sh.cmd("next")
    sh.send("purge\r")
    sh.read_until("(y/n)")
    sh.send("n\r")
    sh.read_until(PROMPT)
    assert 'edit "gone"' in sh.cmd("show")


def test_a_bracketed_paste_from_the_client_runs_line_by_line(serve, shell) -> None:
    """A client terminal's own bracketed paste (escape sequences: the line editor takes it whole)
    of several lines runs them one by one, as typed, not as one line."""
    srv = serve()
    sh = shell(srv.port)
    sh.send("\x1b[200~config vpn certificate local\redit paste1\rnext\rend\r\x1b[201~")
    out = sh.read_until(re.compile(r"# end\r\n\r\nFortiProxy # $"))
    assert "parse error" not in out, out
    assert "new entry 'paste1' added" in out, out
    assert "paste1" in sh.cmd("show vpn certificate local paste1")
