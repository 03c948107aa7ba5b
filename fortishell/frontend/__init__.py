"""What every front end shares: one interact loop, three doors.

The doors are the local terminal (:mod:`fortishell.repl`), script replay
(:mod:`fortishell.replay`) and the SSH server (:mod:`fortishell.ssh`).  The
terminal and SSH doors run the same :meth:`~fortishell.frontend.interact.Repl.interact`
coroutine; replay drives :class:`~fortishell.shell.session.Session` directly.

Modules, by job:

* :mod:`.interact` - the interact loop (:class:`Repl`): prompt, run on a worker
  thread, answer questions, print or page the result;
* :mod:`.keys` - the key bindings (``?`` help, Enter continuing an open quote)
  and the single-key reader of the pager;
* :mod:`.hub` - the output hub of a device (which session a line belongs to);
* :mod:`.history` - history with secrets masked;
* :mod:`.echo` - FortiOS-style plain echo of the line being edited;
* :mod:`.pager` - the ``--More--`` pager (pure state);
* :mod:`.compat` - the only place that touches private names of prompt_toolkit.

Nothing here imports a door; the doors import this package.
"""
