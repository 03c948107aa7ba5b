"""The command a typed line stands for: abbreviations expanded as the device expands them.

Grading by outcome (:mod:`fortishell.classroom.outcome`) compares what a
student's commands *were*, not how they were typed: ``exec ping x``,
``diag debug app est -1`` and ``conf vpn cert local`` are the commands
``execute ping x``, ``diagnose debug application est -1`` and ``config vpn
certificate local``.  Every expansion below is the shell's own: the grammar
(``cli.parser``), the verbs of the mode (``cli.build``), the table paths
(``commands.config.resolve_table_path``, with ``get``'s virtual leaves), the
keyword trees of ``execute`` / ``diagnose`` (``commands.tree.walk``), and the
schema's attribute and option names (``cmdb.spec.resolve_word``).

:class:`Modes` follows the mode stack a transcript goes through (``config`` /
``edit`` / ``next`` / ``end`` / ``abort``, as ``commands/config.py`` moves
it), because what a word abbreviates depends on where it is typed.  Only
commands the device accepted move it (the caller says which).

What stays as typed: entry names and values (never abbreviated on the device),
the argument words after an ``execute`` / ``diagnose`` keyword path (their
handlers read them; ``diagnose debug console timestamp en`` keeps ``en``), and
any line the device would refuse (it is compared as typed).  Quoting is
normalised (``"estuser"`` and ``estuser`` are one word).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..cli import ast, build, parser
from ..cli.quoting import quote_if_needed
from ..cmdb.schema import SCHEMA
from ..cmdb.spec import TableSpec, resolve_word
from ..errors import FortiError
from ..shell.commands import config as config_cmds
from ..shell.commands import diagnose as diagnose_cmds
from ..shell.commands import execute as execute_cmds
from ..shell.commands import getshow, tree
from ..shell.context import ENTRY, OBJECT, TABLE


@dataclass(frozen=True)
class Level:
    """One level of the mode stack: its kind (table / entry / object) and its table."""

    kind: str
    spec: TableSpec
    nested: bool = False

    @property
    def verbs(self) -> tuple[str, ...]:
        return {TABLE: ast.TABLE_VERBS, ENTRY: ast.ENTRY_VERBS}.get(self.kind, ast.OBJECT_VERBS)


@dataclass
class Modes:
    """The mode stack of a transcript, moved by the commands the device accepted."""

    stack: list[Level] = field(default_factory=list)

    @property
    def top(self) -> Level | None:
        return self.stack[-1] if self.stack else None

    @property
    def verbs(self) -> tuple[str, ...]:
        top = self.top
        return top.verbs if top else ast.ROOT_VERBS

    def canonical(self, text: str) -> str:
        """``text`` (one logical line, as typed) as the command the device takes it for;
        the text itself (blank-trimmed) when it does not build in this mode."""
        try:
            line = parser.parse_line(text)
            if line.is_empty and not line.filters:
                return ""
            cmd = build.build_command(line, self.verbs, at_root=self.top is None)
            words = self._words(cmd)
        except (FortiError, LookupError):
            return text.strip()
        return " ".join([*words, *(_filter(g) for g in line.filters)])

    def accepted(self, text: str) -> None:
        """Move the stack as the accepted command ``text`` moved the device's."""
        try:
            cmd = build.build_command(parser.parse_line(text), self.verbs, at_root=self.top is None)
        except FortiError:
            return
        top = self.top
        if isinstance(cmd, ast.Config):
            level = self._config_level(cmd)
            if level is not None:
                self.stack.append(level)
        elif isinstance(cmd, ast.Edit) and top is not None and top.kind == TABLE:
            self.stack.append(Level(ENTRY, top.spec, top.nested))
        elif isinstance(cmd, ast.Next) and top is not None and top.kind == ENTRY:
            self.stack.pop()
        elif isinstance(cmd, (ast.End, ast.Abort)) and top is not None:
            self.stack.pop()
            if top.kind == ENTRY and self.stack:
                self.stack.pop()

    def at_root(self) -> None:
        """The transcript shows the root prompt: no level is open (``execute factoryreset``...)."""
        self.stack.clear()

    # -------------------------------------------------------------- words
    def _config_level(self, cmd: ast.Config) -> Level | None:
        words = [w.text for w in cmd.path]
        top = self.top
        try:
            if top is None:
                path, rest = config_cmds.resolve_table_path(words)
                spec = config_cmds.require_table(path, rest)
                return Level(OBJECT if spec.is_object else TABLE, spec)
            sub_name = resolve_word(words[0], [s.name for s in top.spec.subtables])
            sub = top.spec.subtable(sub_name) if sub_name else None
        except FortiError:
            return None
        if sub is None:
            return None
        return Level(OBJECT if sub.is_object else TABLE, sub, nested=True)

    def _words(self, cmd: ast.Command) -> list[str]:
        """The command's words, spelt out (verb first)."""
        verb = type(cmd).__name__.lower()
        top = self.top
        if isinstance(cmd, ast.Config):
            words = [w.text for w in cmd.path]
            if top is None:
                path, rest = config_cmds.resolve_table_path(words)
                config_cmds.require_table(path, rest)
                return [verb, *path, *map(quote_if_needed, rest)]
            sub = resolve_word(words[0], [s.name for s in top.spec.subtables]) or words[0]
            return [verb, sub, *map(quote_if_needed, words[1:])]
        if isinstance(cmd, (ast.Get, ast.Show)):
            head = [verb, "full-configuration"] if isinstance(cmd, ast.Show) and cmd.full else [verb]
            words = [w.text for w in cmd.path]
            if top is None and words:
                extra = getshow.GET_EXTRA if isinstance(cmd, ast.Get) else None
                path, rest = config_cmds.resolve_table_path(words, extra=extra)
                if path not in getshow.GET_EXTRA_HELP:  # a virtual leaf (get system status) is no table
                    config_cmds.require_table(path, rest)
                return [*head, *path, *map(quote_if_needed, rest)]
            return [*head, *map(quote_if_needed, words)]
        if isinstance(cmd, (ast.Execute, ast.Diagnose)):
            root = execute_cmds.TREE if isinstance(cmd, ast.Execute) else diagnose_cmds.TREE
            keywords = _keywords(root, list(cmd.args))
            return [verb, *keywords, *(quote_if_needed(w.text) for w in cmd.args[len(keywords):])]
        if isinstance(cmd, (ast.Set, ast.Unset, ast.Append, ast.Select, ast.Unselect)):
            return [verb, *self._attribute(cmd)]
        if isinstance(cmd, (ast.Rename, ast.Clone)):
            return [verb, quote_if_needed(cmd.old.text), "to", quote_if_needed(cmd.new.text)]
        if isinstance(cmd, ast.Move):
            return [verb, quote_if_needed(cmd.key.text), cmd.where, quote_if_needed(cmd.other.text)]
        if isinstance(cmd, (ast.Edit, ast.Delete)):
            return [verb, quote_if_needed(cmd.key.text)]
        return [verb]

    def _attribute(self, cmd: ast.Set | ast.Unset | ast.Append | ast.Select | ast.Unselect) -> list[str]:
        top = self.top
        attr = cmd.attr.text
        values = [] if isinstance(cmd, ast.Unset) else [w.text for w in cmd.values]
        spec = top.spec if top is not None else None
        if spec is not None:
            name = resolve_word(attr, [a.name for a in spec.settable_attrs()])
            found = spec.attr(name) if name else None
            if found is not None:
                attr = found.name
                if found.options:
                    values = [resolve_word(v, found.option_values) or v for v in values]
        return [attr, *map(quote_if_needed, values)]


def _keywords(root: tree.Node, words: list[ast.Word]) -> list[str]:
    """The keyword path ``words`` resolves to in ``root`` (FortiError when it reaches no command)."""
    from ..cli import abbrev

    leaf, rest = tree.walk(root, words)
    del leaf
    node, out = root, []
    for word in words[: len(words) - len(rest)]:
        name = abbrev.resolve(word.text, list(node.children))
        out.append(name)
        node = node.children[name]
    return out


def _filter(g: ast.Grep) -> str:
    """One ``| grep`` stage in one spelling (options in a fixed order)."""
    flags = [f for f, on in (("-i", g.ignore_case), ("-n", g.line_numbers), ("-v", g.invert),
                             ("-f", g.fortinet_context), ("-c", g.count)) if on]
    flags += [f"{f} {n}" for f, n in (("-A", g.after), ("-B", g.before), ("-C", g.context)) if n]
    if g.usage:
        flags.append("-h")
    return " ".join(["|", "grep", *flags, quote_if_needed(g.pattern)])
