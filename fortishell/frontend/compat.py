"""The one place that relies on a private name of a library (prompt_toolkit).

The plain sessions (SSH, automation) echo input themselves and show nothing
of prompt_toolkit's screen; :func:`no_render` turns prompt_toolkit's drawing
off for such an application and gives it key bindings that are merged once per
focused window instead of on every key press.

Everything here uses public API except two names, listed in
:data:`PRIVATE_NAMES`:

* ``Application._redraw``, the method that renders the layout: prompt_toolkit
  calls it directly (not only through the public ``invalidate()``) when an
  application starts and ends, and offers no switch to run headless;
* ``Application._default_bindings``, the application's own copy of the
  default key bindings (~2000 objects), replaced by one shared copy so that
  each session's copy can be freed; there is no public way to pass it in.

``tests/frontend/test_compat.py`` fails when a name disappears or changes shape.

The merged key bindings are built with public API in the same order as
prompt_toolkit's own registry (``Application``'s ``_CombinedRegistry``):
focused control first, then its parents, the global bindings of the other
containers, the application's bindings, page navigation, the defaults.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.key_binding import KeyBindingsBase, merge_key_bindings
from prompt_toolkit.key_binding.bindings.page_navigation import load_page_navigation_bindings
from prompt_toolkit.key_binding.defaults import load_key_bindings
from prompt_toolkit.key_binding.key_bindings import Binding, ConditionalKeyBindings, GlobalOnlyKeyBindings
from prompt_toolkit.key_binding.key_processor import KeyProcessor
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout.containers import Container, Window
from prompt_toolkit.layout.layout import walk

# private attributes of an Application that this module replaces; checked by the compat test
PRIVATE_NAMES: tuple[str, ...] = ("_redraw", "_default_bindings")

KeysTuple = tuple[Keys | str, ...]


def no_render(app: Application[Any]) -> None:
    """Drawing off for an application whose output is a DummyOutput (the plain echo draws)."""
    app._redraw = _skip_redraw  # type: ignore[method-assign]
    app.invalidate = _skip_invalidate  # type: ignore[method-assign]  # nothing to repaint: no wake-ups
    app._default_bindings = _shared("default")
    app.key_processor = KeyProcessor(StaticLayoutBindings(app))


def _skip_redraw(render_as_done: bool = False) -> None:
    return None


def _skip_invalidate() -> None:
    return None


_SHARED: dict[str, KeyBindingsBase] = {}


def _shared(name: str) -> KeyBindingsBase:
    """prompt_toolkit's default (or page navigation) key bindings, built once for every plain application.

    They hold no state of their own (filters and handlers look at the current
    application), so the plain sessions share one set instead of ~2000 objects
    each; fewer long-lived objects also make the garbage collector's full
    passes shorter.
    """
    kb = _SHARED.get(name)
    if kb is None:
        kb = _SHARED[name] = load_key_bindings() if name == "default" else load_page_navigation_bindings()
    return kb


class StaticLayoutBindings(KeyBindingsBase):
    """An application's key bindings, merged once per focused window.

    prompt_toolkit walks the whole layout on every key lookup (several per key
    press) in case its shape changed; the layouts of the plain sessions never
    change shape (only the focus moves), so the walk is done once, and the
    candidates for a key sequence are looked up once too (filters are still
    evaluated by the key processor on every press).
    """

    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self._merged: dict[Window, KeyBindingsBase] = {}
        self._found: dict[tuple[Window, int, KeysTuple], list[Binding]] = {}

    @property
    def _version(self) -> Hashable:
        return 0  # never changes (and never wrapped in another registry)

    @property
    def bindings(self) -> list[Binding]:
        return self._key_bindings.bindings

    @property
    def _key_bindings(self) -> KeyBindingsBase:
        window = self.app.layout.current_window
        merged = self._merged.get(window)
        if merged is None:
            merged = self._merged[window] = self._merge(window)
        return merged

    def _merge(self, current: Window) -> KeyBindingsBase:
        layout = self.app.layout
        found: list[KeyBindingsBase] = []
        collected: set[Container] = set()
        container: Container = current
        while True:  # the focused control and its parents, up to a modal one
            collected.add(container)
            kb = container.get_key_bindings()
            if kb is not None:
                found.append(kb)
            if container.is_modal():
                break
            parent = layout.get_parent(container)
            if parent is None:
                break
            container = parent
        for c in walk(container):  # the global bindings of everything else
            if c not in collected:
                kb = c.get_key_bindings()
                if kb is not None:
                    found.append(GlobalOnlyKeyBindings(kb))
        if self.app.key_bindings:
            found.append(self.app.key_bindings)
        found.append(ConditionalKeyBindings(_shared("pages"), self.app.enable_page_navigation_bindings))
        found.append(_shared("default"))
        return merge_key_bindings(found[::-1])  # the focused control's bindings win

    def get_bindings_for_keys(self, keys: KeysTuple) -> list[Binding]:
        return self._lookup(0, keys)

    def get_bindings_starting_with_keys(self, keys: KeysTuple) -> list[Binding]:
        return self._lookup(1, keys)

    def _lookup(self, kind: int, keys: KeysTuple) -> list[Binding]:
        key = (self.app.layout.current_window, kind, keys)
        found = self._found.get(key)
        if found is None:
            if len(self._found) > 2000:
                self._found.clear()
            kb = self._key_bindings
            found = kb.get_bindings_starting_with_keys(keys) if kind else kb.get_bindings_for_keys(keys)
            self._found[key] = found
        return found
