"""``?`` help and Tab candidates for a partial line, from the schema and command trees.

``candidates(session, words)`` answers "what may come after these complete
words" with (name, description) pairs; ``help_lines`` formats them the FortiOS
way (name padded to the longest name + 4, then the description; placeholders
such as ``<string>`` and ``<Enter>`` included) and ``complete`` keeps only real
words starting with the prefix being typed.  ``help_fill`` is the ``?`` auto-fill:
the rest of the word being typed when the listing holds exactly one real word.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cli import ast
from ..errors import FortiError
from ..cmdb.schema import SCHEMA, AttrSpec
from .context import ENTRY, OBJECT, TABLE

if TYPE_CHECKING:
    from .session import Session

Pairs = list[tuple[str, str]]
ENTER: tuple[str, str] = ("<Enter>", "")
PIPE_HELP: Pairs = [("grep", "Print lines matching a pattern.")]

# value placeholders per attribute type (FortiOS shows `<string>    please input string value`)
PLACEHOLDER = {
    "string": ("<string>", "please input string value"),
    "password": ("<password>", "please input password value"),
    "integer": ("<integer>", "please input integer value"),
    "ipv4": ("<class_ip>", "please input ip address"),
}


def _resolve(word: str, names: list[str]) -> str | None:
    from ..cli import abbrev

    try:
        return abbrev.resolve(word, names)
    except FortiError:
        return None


def candidates(sess: "Session", words: list[str]) -> Pairs:
    frame = sess.frame
    verbs = list(sess.verbs)
    if not words:
        return [(v, ast.VERB_HELP.get(v, "")) for v in verbs]
    verb = _resolve(words[0], verbs)
    if verb is None:
        return []
    args = words[1:]
    if verb == "config":
        return _config(sess, args)
    if verb in ("get", "show"):
        return _getshow(sess, verb, args)
    if verb == "execute":
        from .commands import execute, tree

        return tree.candidates(sess, execute.TREE, args)
    if verb == "diagnose":
        from .commands import diagnose, tree

        return tree.candidates(sess, diagnose.TREE, args)
    if frame is None:
        return [ENTER] if not args else []
    if verb in ("edit", "delete"):
        return _entries(sess, with_placeholder=True) if not args else ([ENTER] if len(args) == 1 else [])
    if verb in ("rename", "clone"):
        if not args:
            return _entries(sess, with_placeholder=False)
        if len(args) == 1:
            return [("to", "")]
        if len(args) == 2:
            return [("<name>", "New name.")]
        return [ENTER] if len(args) == 3 else []
    if verb in ("set", "unset", "append", "select", "unselect"):
        return _attributes(sess, verb, args)
    return [ENTER] if not args else []


def _config(sess: "Session", args: list[str]) -> Pairs:
    frame = sess.frame
    if frame is None:
        path: tuple[str, ...] = ()
        for word in args:
            if SCHEMA.table(path) is not None:
                return []
            name = _resolve(word, SCHEMA.children(path))
            if name is None:
                return []
            path += (name,)
        if path and SCHEMA.table(path) is not None:
            return [ENTER]
        return SCHEMA.path_words(path)
    if frame.kind in (ENTRY, OBJECT):
        return frame.spec.subtable_help() if not args else ([ENTER] if len(args) == 1 else [])
    return []


def _getshow(sess: "Session", verb: str, args: list[str]) -> Pairs:
    from .commands.getshow import GET_EXTRA, GET_EXTRA_HELP

    frame = sess.frame
    if verb == "show" and args and _resolve(args[0], ["full-configuration"]) and frame is not None:
        args = args[1:]
    if frame is not None:
        if frame.kind == TABLE and not frame.nested:
            return _entries(sess, with_placeholder=False) + [ENTER] if not args else (
                [ENTER] if len(args) == 1 else [])
        return [ENTER] if not args else []
    first: Pairs = []
    if verb == "show":
        if args and _resolve(args[0], ["full-configuration"]):
            args = args[1:]
        elif not args:
            first = [("full-configuration", "Show full configuration.")]
    path: tuple[str, ...] = ()
    rest = list(args)
    while rest:
        if path and (SCHEMA.table(path) is not None or path in GET_EXTRA_HELP):
            break
        names = SCHEMA.children(path) + (GET_EXTRA.get(path, []) if verb == "get" else [])
        name = _resolve(rest.pop(0), names)
        if name is None:
            return []
        path += (name,)
    if path in GET_EXTRA_HELP:
        return [ENTER] if not rest else []
    spec = SCHEMA.table(path) if path else None
    if spec is None:
        kids = SCHEMA.path_words(path)
        if verb == "get":
            kids += [(n, GET_EXTRA_HELP.get(path + (n,), "")) for n in GET_EXTRA.get(path, [])]
        return first + kids + ([ENTER] if not path else [])
    if spec.is_object or rest:
        return [ENTER] if len(rest) <= (0 if spec.is_object else 1) else []
    return [(k, "") for k in sess.cmdb.keys(path)] + [ENTER]


def _entries(sess: "Session", *, with_placeholder: bool) -> Pairs:
    frame = sess.frame
    if frame is None or frame.kind != TABLE:
        return []
    out: Pairs = []
    if with_placeholder:
        key = frame.spec.key or "name"
        attr = frame.spec.attr(key)
        out.append((f"<{key}>", (attr.help if attr is not None else "") or "please input string value"))
    if not frame.nested:
        out += [(k, "") for k in sess.cmdb.keys(frame.path)]
    return out


def _attributes(sess: "Session", verb: str, args: list[str]) -> Pairs:
    frame = sess.frame
    if frame is None or frame.kind not in (ENTRY, OBJECT):
        return []
    attrs = frame.editing.settable()  # the attributes that exist under the entry's current values
    if verb in ("append", "select", "unselect"):
        attrs = [a for a in attrs if a.multi]
    if not args:
        return [(a.name, a.help) for a in attrs]
    name = _resolve(args[0], [a.name for a in attrs])
    if name is None:
        return []
    if verb == "unset":
        return [ENTER] if len(args) == 1 else []
    attr = frame.spec.attr(name)
    if attr is None:
        return []
    values = args[1:]
    if values and not attr.multi:
        return [ENTER]
    return _values(sess, attr) + ([ENTER] if values else [])


def _values(sess: "Session", attr: AttrSpec) -> Pairs:
    options = attr.option_pairs
    if options:
        return options
    out: Pairs = []
    kind = attr.type
    ph = PLACEHOLDER.get(kind) or next((v for k, v in PLACEHOLDER.items() if k in kind), PLACEHOLDER["string"])
    if kind == "integer" and attr.range:
        ph = (ph[0], f"{ph[1]} ({attr.range[0]}-{attr.range[1]})")
    out.append(ph)
    for path in attr.datasource:
        out += [(k, path[-1]) for k in sess.cmdb.keys(path)]  # an unknown path has no keys
    return out


# ------------------------------------------------------------------ formatting
def _partial(text: str) -> tuple[list[str], str, bool, bool]:
    from ..cli import parser

    p = parser.split_partial(text)
    return [w.text for w in p.words], p.current, p.in_quote, p.in_grep


def _matching(pairs: Pairs, current: str, *, placeholders: bool) -> Pairs:
    out = []
    for name, text in pairs:
        if name.startswith("<"):
            if placeholders:
                out.append((name, text))
        elif name.startswith(current):
            out.append((name, text))
    return out


def _pipe(words: list[str]) -> Pairs:
    if not words:
        return PIPE_HELP
    return [("<pattern>", "Regular expression."), ("-i", "Ignore case distinctions."),
            ("-n", "Print line number with output lines."), ("-v", "Select non-matching lines."),
            ("-f", "Print fortinet config context."), ("-c", "Only print count of matching lines.")]


def _help_pairs(sess: "Session", text: str) -> tuple[Pairs, str, bool]:
    words, current, in_quote, in_filter = _partial(text)
    pairs = _pipe(words) if in_filter else candidates(sess, words)
    return _matching(pairs, current, placeholders=not current or bool(words)), current, in_quote


def help_lines(sess: "Session", text: str) -> list[str]:
    pairs, _current, _in_quote = _help_pairs(sess, text)
    if not pairs:
        return []
    width = max(len(n) for n, _ in pairs) + 4
    return [f"{n:<{width}}{t}".rstrip() for n, t in pairs]


def help_fill(sess: "Session", text: str) -> str:
    """What ``?`` appends to ``text``: the rest of the word being typed when it has exactly one
    valid completion ("If there is only one valid command, it will be automatically filled in.").

    Nothing when no word is being typed, inside quotes, or when the listing also offers a
    value placeholder (``<string>``: any value is valid, the typed word may be meant as it
    is); ``<Enter>`` does not count, it cannot be the word being typed.
    Like Tab, the word is completed without a trailing space (undocumented; chosen so that
    ``?`` and Tab leave the same line).
    """
    pairs, current, in_quote = _help_pairs(sess, text)
    pairs = [p for p in pairs if p != ENTER]  # never a value for a word being typed
    if in_quote or not current or len(pairs) != 1:
        return ""
    name = pairs[0][0]
    if name.startswith("<") or not name.startswith(current):
        return ""
    return name[len(current):]


def complete(sess: "Session", text: str) -> Pairs:
    words, current, in_quote, in_filter = _partial(text)
    if in_quote:
        return []
    pairs = _pipe(words) if in_filter else candidates(sess, words)
    return _matching(pairs, current, placeholders=False)
