"""Whole-line input without the line editor: FastLines and the inline-command rule."""

from __future__ import annotations

import asyncio

import pytest

from fortishell.frontend.fastline import FastLines, inline_safe
from fortishell.frontend.priority import priority_of


def never_more(_text: str) -> bool:
    return False


def open_quote(text: str) -> bool:
    return text.count('"') % 2 == 1


class Run:
    def __init__(self) -> None:
        self.echoed: list[str] = []
        self.editor: list[str] = []
        self.fast = FastLines(self.editor.append)

    def line(self, needs_more=never_more):  # noqa: ANN001, ANN201
        return asyncio.run(asyncio.wait_for(self.fast.line(self.echoed.append, needs_more), 5))


def test_a_whole_line_is_taken_and_echoed_as_typed() -> None:
    r = Run()
    r.fast.feed('set comments "a b"\rnext\r')
    assert r.line() == 'set comments "a b"' and r.line() == "next"
    assert "".join(r.echoed) == 'set comments "a b"\nnext\n' and r.editor == []


def test_characters_typed_one_by_one_are_echoed_at_once() -> None:
    r = Run()

    async def typing() -> str | None:
        task = asyncio.ensure_future(r.fast.line(r.echoed.append, never_more))
        for ch in "get\r":
            await asyncio.sleep(0.01)
            r.fast.feed(ch)
            await asyncio.sleep(0.01)
            if ch != "\r":
                assert "".join(r.echoed).endswith(ch) and r.fast.typed.endswith(ch)
        return await task

    assert asyncio.run(typing()) == "get"
    assert "".join(r.echoed) == "get\n"


@pytest.mark.parametrize("key", ["?", "\t", "\x7f", "\x08", "\x03", "\x04", "\x1b[A", "\x15"])
def test_a_key_for_the_editor_hands_the_input_over_for_good(key: str) -> None:
    r = Run()

    async def typing() -> str | None:
        task = asyncio.ensure_future(r.fast.line(r.echoed.append, never_more))
        r.fast.feed("conf")
        await asyncio.sleep(0.02)  # echoed before the key arrives
        r.fast.feed(key + "rest\r")
        return await task

    assert asyncio.run(typing()) is None
    assert r.echoed == ["conf"] and r.fast.handed_over == "conf" and not r.fast.active
    assert r.editor == ["conf" + key + "rest\r"]  # everything, in order, the shown part included
    r.fast.feed("next\r")
    assert r.editor[-1] == "next\r"  # later input goes to the editor too


def test_enter_inside_an_open_quote_is_the_editor_s() -> None:
    r = Run()
    r.fast.feed('set comments "two\r')
    assert r.line(open_quote) is None and r.editor == ['set comments "two\r']


def test_end_of_input_and_pager_keys() -> None:
    r = Run()
    r.fast.feed(" \x1b[B q")
    keys = [asyncio.run(r.fast.key()) for _ in range(4)]
    assert keys == [" ", "\x1b[B", " ", "q"]
    r.fast.close()
    assert asyncio.run(r.fast.key()) == "q"
    with pytest.raises(EOFError):
        r.line()


@pytest.mark.parametrize("text, safe", [
    ("config vpn certificate local", True), ("conf sys glo", True), ("edit x", True), ("set a b", True),
    ("next", True), ("end", True), ("show", True), ("sh full", True), ("get system status | grep V", True),
    ("", True), ("delete x", True), ("rename a to b", True),
    ("execute vpn certificate local generate est x", False), ("exe date", False), ("e", False),
    ("ex", False), ("diagnose debug enable", False), ("d x", False), ("purge", False), ("exit", False),
    ("foo", False),
])
def test_which_commands_run_on_the_event_loop(text: str, safe: bool) -> None:
    assert inline_safe(text) is safe


def test_a_line_claims_the_loop_until_the_session_waits_again_and_its_output_leaves_then() -> None:
    """Input claims the loop's priority (REST requests wait) until the session asks for more input;
    while the API is busy, ``before_wait`` (the SSH door's channel flush) sends what the command
    wrote just before the session waits, in the same loop turn rather than one turn later."""

    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        gate = priority_of(loop)
        seen: list[str] = []
        fast = FastLines(lambda _d: None, before_wait=lambda: seen.append(f"flush claimed={gate.claimed}"))
        reader = asyncio.ensure_future(fast.line(seen.append, never_more))
        await asyncio.sleep(0)
        assert not gate.claimed
        fast.feed("get system status\r")
        assert gate.claimed and gate.enter() is not None  # a REST request now waits its turn
        assert await reader == "get system status"
        assert gate.claimed  # the command runs
        seen.append("output")
        waiting = asyncio.ensure_future(fast.line(seen.append, never_more))
        await asyncio.sleep(0)
        claimed_while_waiting = gate.claimed
        fast.close()
        with pytest.raises(EOFError):
            await waiting
        return [*seen, f"claimed while waiting={claimed_while_waiting}"]

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [
        "get system status\n", "output", "flush claimed=False", "claimed while waiting=False"]


def test_without_rest_requests_the_output_leaves_at_the_next_loop_turn() -> None:
    """No API load: no early flush (the channel sends at the next turn, with the other sessions')."""

    async def main() -> list[str]:
        seen: list[str] = []
        fast = FastLines(lambda _d: None, before_wait=lambda: seen.append("flush"))
        fast.feed("show\r")
        assert await fast.line(seen.append, never_more) == "show"
        waiting = asyncio.ensure_future(fast.line(seen.append, never_more))
        await asyncio.sleep(0)
        fast.close()
        with pytest.raises(EOFError):
            await waiting
        return seen

    assert asyncio.run(asyncio.wait_for(main(), 10)) == ["show\n"]
