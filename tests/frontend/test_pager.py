"""The --More-- pager counts screen rows, not lines: a line wider than the terminal takes
several rows, so a page of wrapped lines never scrolls its first lines away."""

from __future__ import annotations

from fortishell.frontend.pager import Pager, screen_rows


def test_screen_rows_of_a_line() -> None:
    assert screen_rows("", 20) == 1
    assert screen_rows("x" * 20, 20) == 1  # exactly the width: the cursor waits at the margin
    assert screen_rows("x" * 21, 20) == 2
    assert screen_rows("x" * 61, 20) == 4
    assert screen_rows("\u4e2d" * 10, 20) == 1 and screen_rows("\u4e2d" * 11, 20) == 2  # double-width
    assert screen_rows("x" * 500, 0) == 1  # width unknown: one row a line


def test_wrapped_lines_fill_a_page_by_their_rows() -> None:
    lines = ["a" * 45, "b", "c" * 25, "d", "e", "f", "g"]  # on 20 columns: 3, 1, 2, 1, 1, 1, 1 rows
    pager = Pager(lines, rows=6, columns=20)  # 5 rows of text, then --More--
    assert pager.first() == ["a" * 45, "b"]  # 4 rows; "c" (2 more rows) would push the first row away
    assert pager.key(" ") == ["c" * 25, "d", "e", "f"]  # 5 rows
    assert pager.key("\r") == ["g"] and pager.done


def test_a_line_taller_than_the_page_is_shown_whole() -> None:
    pager = Pager(["x" * 200, "y"], rows=4, columns=20)  # 10 rows in a 3-row page
    assert pager.first() == ["x" * 200]
    assert pager.key(" ") == ["y"]


def test_without_a_width_a_page_is_rows_minus_one_lines() -> None:
    pager = Pager([f"l{i}" * 50 for i in range(10)], rows=4)
    assert len(pager.first()) == 3
