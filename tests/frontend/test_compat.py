"""The private names of prompt_toolkit that fortishell.frontend.compat relies on.

A prompt_toolkit release that renames or reshapes one of them fails here, loudly,
instead of slowing down or breaking the SSH sessions quietly."""

from __future__ import annotations

import asyncio
import inspect

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.key_binding import KeyBindingsBase
from prompt_toolkit.output import DummyOutput

from fortishell.frontend import compat


def _app() -> Application[str]:
    return PromptSession[str](output=DummyOutput()).app


def test_every_private_name_still_exists() -> None:
    app = _app()
    for name in compat.PRIVATE_NAMES:
        assert hasattr(app, name), f"prompt_toolkit's Application has no {name!r} any more: update frontend/compat.py"


def test_redraw_keeps_its_signature() -> None:
    params = list(inspect.signature(Application._redraw).parameters)
    assert params == ["self", "render_as_done"], f"Application._redraw changed: {params}"


def test_default_bindings_are_a_registry() -> None:
    assert isinstance(_app()._default_bindings, KeyBindingsBase)


def test_the_render_path_goes_through_redraw() -> None:
    """prompt_toolkit still renders through ``_redraw``: with it replaced, nothing is rendered."""
    calls: list[bool] = []

    def counting(*args: object, **kwargs: object) -> None:
        calls.append(True)

    with create_pipe_input() as inp:
        session = PromptSession[str](input=inp, output=DummyOutput())
        session.app.renderer.render = counting  # type: ignore[method-assign]
        compat.no_render(session.app)
        inp.send_text("hello\r")
        text = asyncio.run(session.prompt_async())
    assert text == "hello"
    assert calls == []
    assert session.app._default_bindings is compat._shared("default")


def test_unpatched_application_renders() -> None:
    """The check above can fail: an ordinary session does render."""
    calls: list[bool] = []
    with create_pipe_input() as inp:
        session = PromptSession[str](input=inp, output=DummyOutput())
        real = session.app.renderer.render

        def counting(*args: object, **kwargs: object) -> None:
            calls.append(True)
            real(*args, **kwargs)  # type: ignore[arg-type]

        session.app.renderer.render = counting  # type: ignore[method-assign]
        inp.send_text("hello\r")
        assert asyncio.run(session.prompt_async()) == "hello"
    assert calls


def test_static_bindings_match_prompt_toolkits_own() -> None:
    """The merged bindings find the same handlers for ordinary keys as prompt_toolkit's registry."""
    plain = PromptSession[str](output=DummyOutput()).app
    reference = PromptSession[str](output=DummyOutput()).app
    compat.no_render(plain)
    for keys in [("c-a",), ("c-e",), ("enter",), ("c-c",), ("escape", "b"), ("backspace",)]:
        ours = [b.handler.__name__ for b in plain.key_processor._bindings.get_bindings_for_keys(keys)]
        theirs = [b.handler.__name__ for b in reference.key_processor._bindings.get_bindings_for_keys(keys)]
        assert ours == theirs, keys
